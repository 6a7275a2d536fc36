"""Every environment variable the code reads is in the configuration reference.

The code names its variables as string literals (os.environ.get("CONNMODEL_..."), ENV_* constants)
or as $NAME in its messages, so those in connmodel/, dashboard/, bench/ and scripts/ are the
variables it reads; one ending in "_" is a prefix (PANEL_OAUTH_*), not a variable.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = ("connmodel", "dashboard", "bench", "scripts")
VARIABLE = re.compile(r"[\"'$]((?:CONNMODEL|PANEL)_[A-Z0-9_]*[A-Z0-9])\b(?!_)")


def _read_by_code() -> dict[str, str]:
    found = {}
    for folder in CODE:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in {".py", ""} and path.is_file() and "__pycache__" not in path.parts:
                for name in VARIABLE.findall(path.read_text(errors="replace")):
                    found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def test_every_variable_the_code_reads_is_documented():
    documented = set(re.findall(r"^\| `((?:CONNMODEL|PANEL)_[A-Z0-9_]+)` \|",
                                (ROOT / "docs" / "configuration.md").read_text(), re.MULTILINE))
    read = _read_by_code()
    assert {"CONNMODEL_DATABASE_URL", "PANEL_COOKIE_SECRET"} <= read.keys()
    missing = {name: where for name, where in read.items() if name not in documented}
    assert not missing, f"read by the code but not in docs/configuration.md: {missing}"
