"""dashboard/serve.py refuses to serve unsafely, and says why (no server is started)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("args", "env", "reason"),
    [
        (["--host", "0.0.0.0"], {}, "without PANEL_COOKIE_SECRET"),
        (["--host", "0.0.0.0", "--no-auth-on-loopback"], {}, "without sign-in"),
        (["--auth", "oidc"], {}, "without PANEL_OAUTH_ENCRYPTION"),
        (["--auth", "ldap"], {}, "unknown sign-in mode"),
    ],
)
def test_the_launcher_refuses_unsafe_serving_and_says_why(args, env, reason):
    run = subprocess.run([sys.executable, str(ROOT / "dashboard" / "serve.py"), *args],
                         env={k: v for k, v in os.environ.items()
                              if not k.startswith(("PANEL_", "CONNMODEL_DASHBOARD"))} | env,
                         capture_output=True, text=True, timeout=30, check=False)
    assert run.returncode != 0 and reason in run.stderr
