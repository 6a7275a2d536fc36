"""Reusable fixtures for browser tests: a real `panel serve` of the dashboard on a free port.

`start_dashboard(folder)` creates a SQLite database and key file in `folder` (with `connmodel
init`, optionally `connmodel demo`), serves `dashboard/app.py` against them as a subprocess, and
waits until it answers. `demo_dashboard` is one such server per test module, seeded with the
seed page's demo data plus a profile whose name is markup. Sign-in is off (loopback only).
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
XSS_NAME = "<img src=x onerror=alert(1)>"
START_TIMEOUT_S = 120  # a loaded 2-core machine can take over 30 s to import Panel and start


@dataclass(frozen=True)
class Dashboard:
    url: str
    database_url: str
    env: dict[str, str]

    def page_url(self, query: str = "") -> str:
        return f"{self.url}/app{query}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, port: int, proc: subprocess.Popen[bytes]) -> None:
    """Wait for the port to listen, then for one first page.

    One request with a long timeout, not a retry loop: each abandoned request leaves a
    session the server still builds, and on a loaded machine it would never catch up.
    """
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = proc.stderr.read().decode()[-2000:] if proc.stderr else "(see the log file)"
            raise RuntimeError(f"the dashboard server exited: {log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            time.sleep(0.2)
            continue
        with urllib.request.urlopen(url, timeout=max(1.0, deadline - time.monotonic())) as r:
            if r.status == 200:
                return
    raise RuntimeError(f"the dashboard server did not answer {url} within {START_TIMEOUT_S} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server this test started: politely, then for good after 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextmanager
def start_dashboard(folder: Path, *, demo: bool = True, database_url: str | None = None,
                    init: bool = True, log: Path | None = None,
                    local_users: bool = False) -> Iterator[Dashboard]:
    """Serve the dashboard against a database in `folder`; stop it afterwards.

    With `log`, the server's stderr (its whole log) goes to that file, for tests that scan it.
    With `local_users`, it is started as `make run` does (dashboard/serve.py, sign-in required).
    """
    url = database_url or f"sqlite:///{folder / 'connmodel.db'}"
    env = {**os.environ, "CONNMODEL_DATABASE_URL": url,
           "CONNMODEL_KEY_FILE": str(folder / "connmodel.key"),
           "CONNMODEL_DASHBOARD_AUTH": "local" if local_users else "none"}
    env.pop("CONNMODEL_SECRET_KEY", None)
    if init:
        subprocess.run([BIN / "connmodel", "init"], env=env, check=True, capture_output=True)
    if demo:
        subprocess.run([BIN / "connmodel", "demo"], env=env, check=True, capture_output=True)
    port = free_port()
    stderr = log.open("wb") if log is not None else subprocess.PIPE
    # As `make run` serves it (dashboard/serve.py: security headers and CSP on every page);
    # the sign-in mode comes from CONNMODEL_DASHBOARD_AUTH above.
    command = [sys.executable, str(ROOT / "dashboard" / "serve.py"), "--port", str(port)]
    proc = subprocess.Popen(command, env=env, cwd=folder, stdout=subprocess.DEVNULL,
                            stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base}/app", port, proc)
        yield Dashboard(base, url, env)
    finally:
        stop(proc)
        if not isinstance(stderr, int):
            stderr.close()


def add_markup_profile(database_url: str) -> None:
    """A profile and connection whose texts are markup, written past the name validation."""
    from sqlmodel import select

    from connmodel.models import Connection, Profile, ProviderConfig
    from connmodel.store import get_engine, session

    with session(database_url) as s:
        provider = s.exec(select(ProviderConfig).where(ProviderConfig.kind == "none")).first()
        assert provider is not None
        profile = Profile(name=XSS_NAME, environment="dev", provider_config_id=provider.id,
                          description="<b>bold</b> description")
        s.add(profile)
        s.flush()
        s.add(Connection(profile_id=profile.id, service="No Authentication Provider",
                         account="<script>alert(2)</script>", status="Error",
                         status_reason="<img src=y onerror=alert(3)>"))
        s.commit()
    get_engine(database_url).dispose()


@pytest.fixture(scope="session")
def serve_dashboard():
    """`start_dashboard` for tests that need their own server (empty, broken, other data)."""
    return start_dashboard


@pytest.fixture
def markup_name() -> str:
    """The name of the profile `demo_dashboard` adds whose every text is markup."""
    return XSS_NAME


@pytest.fixture(scope="module")
def demo_dashboard(tmp_path_factory) -> Iterator[Dashboard]:
    """One served dashboard per test module over the demo data (plus the markup profile)."""
    folder = tmp_path_factory.mktemp("dashboard")
    with start_dashboard(folder) as dashboard:
        add_markup_profile(dashboard.database_url)
        yield dashboard
