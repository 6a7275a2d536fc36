"""environment.yml is a conda environment that installs what pyproject.toml declares.

Every dependency (and the `notebooks` extra) is a conda-forge package with the same lower
bound; pip installs only the project itself; Python's bound is pyproject's; no test or dev tool
is in it. The file is a plain list, parsed line by line (the project does not depend on PyYAML).
"""

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# conda-forge builds psycopg against its own libpq and ships no -binary packages.
CONDA_NAME = {"psycopg": "psycopg"}


def _items(indent: int) -> list[str]:
    """The list items of environment.yml indented by `indent` spaces, in order."""
    items = []
    for line in (ROOT / "environment.yml").read_text().splitlines():
        stripped = line.lstrip()
        if stripped.startswith("- ") and len(line) - len(stripped) == indent:
            items.append(stripped.removeprefix("- ").strip())
    return items


def _conda() -> dict[str, str]:
    """conda package -> its version bound, from `dependencies:` (the pip list excluded)."""
    deps = {}
    for item in _items(2):
        if item == "conda-forge" or item.startswith("pip"):
            continue
        req = Requirement(item)
        deps[canonicalize_name(req.name)] = str(req.specifier)
    return deps


def _declared() -> dict[str, str]:
    reqs = [Requirement(r) for r in PROJECT["dependencies"] + PROJECT["optional-dependencies"]
            ["notebooks"]]
    return {CONDA_NAME.get(canonicalize_name(r.name), canonicalize_name(r.name)): str(r.specifier)
            for r in reqs}


def test_every_dependency_is_a_conda_package_with_the_same_lower_bound():
    conda, declared = _conda(), _declared()
    conda.pop("python")
    assert sorted(declared.keys() - conda.keys()) == [], "in pyproject.toml, not environment.yml"
    assert sorted(conda.keys() - declared.keys()) == [], "in environment.yml, not pyproject.toml"
    differing = {k: (declared[k], conda[k]) for k in declared if declared[k] != conda[k]}
    assert not differing, f"bounds differ (pyproject, environment.yml): {differing}"


def test_python_bound_is_pyprojects():
    assert _conda()["python"] == PROJECT["requires-python"]


def test_pip_installs_only_the_project_and_no_test_or_dev_tool():
    assert _items(6) == ["-e ."]
    tools = {canonicalize_name(Requirement(r).name)
             for extra in ("test", "dev", "docs") for r in PROJECT["optional-dependencies"][extra]}
    assert not (tools - _declared().keys()) & _conda().keys()
    assert _items(2)[-2:] == ["pip", "pip:"]


def test_channel_is_conda_forge_only():
    text = (ROOT / "environment.yml").read_text()
    assert "channels:\n  - conda-forge\ndependencies:" in text


def test_every_dependency_has_a_lower_bound():
    for name, spec in _declared().items():
        assert ">=" in spec, f"{name} has no lower bound in pyproject.toml"
