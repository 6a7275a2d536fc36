"""The lock files install what pyproject.toml declares: every requirement pinned, with hashes.

`make run` installs requirements.lock and `make test` requirements-test.lock (see the Makefile);
a dependency added to pyproject.toml without `make lock` would be missing from both, so this
fails first, naming it.
"""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pins(name: str) -> dict[str, set[Version]]:
    """Package -> the versions a lock file pins (a universal lock may pin one per Python)."""
    text = (ROOT / name).read_text()
    found: dict[str, set[Version]] = {}
    for entry in re.split(r"\n(?=\S)", text):
        match = PIN.match(entry)
        if match:
            assert "--hash=sha256:" in entry, f"{name}: {match[1]} has no hash: run `make lock`"
            found.setdefault(canonicalize_name(match[1]), set()).add(Version(match[2]))
    return found


def declared(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + [line for extra in extras
                                       for line in project["optional-dependencies"][extra]]
    return [Requirement(line) for line in lines]


def unmet(requirements: list[Requirement], locked: dict[str, set[Version]]) -> list[str]:
    return [str(r) for r in requirements
            if not any(r.specifier.contains(v, prereleases=True)
                       for v in locked.get(canonicalize_name(r.name), ()))]


def test_the_application_lock_pins_every_dependency() -> None:
    missing = unmet(declared(), pins("requirements.lock"))
    assert not missing, f"not in requirements.lock (run `make lock`): {missing}"


def test_the_test_lock_pins_every_extra_at_the_same_versions() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    test_pins = pins("requirements-test.lock")
    missing = unmet(declared(*project["optional-dependencies"]), test_pins)
    assert not missing, f"not in requirements-test.lock (run `make lock`): {missing}"
    differ = {name: (versions, test_pins.get(name))
              for name, versions in pins("requirements.lock").items()
              if versions != test_pins.get(name)}
    assert not differ, f"the two locks disagree (run `make lock`): {differ}"
