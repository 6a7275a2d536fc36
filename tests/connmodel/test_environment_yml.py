"""environment.yml installs what pyproject.toml declares: same packages, same lower bounds.

The pip list is parsed line by line with `packaging` (already required by bokeh) rather than
with a YAML library: the file is a plain list and the project does not depend on PyYAML.
"""

import tomllib
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _key(req: Requirement) -> tuple[str, frozenset[str]]:
    return canonicalize_name(req.name), frozenset(req.extras)


def _declared() -> dict[tuple[str, frozenset[str]], str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(line) for line in project["dependencies"]]
    return {_key(r): str(r.specifier) for r in reqs}


def _pip_lines() -> list[str]:
    """The items of the `- pip:` list in environment.yml, in order."""
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    indent = len(lines[start + 1]) - len(lines[start + 1].lstrip())
    items = []
    for line in lines[start + 1:]:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if len(line) - len(line.lstrip()) < indent:
            break
        items.append(line.strip().removeprefix("- ").strip())
    return items


def _listed() -> dict[tuple[str, frozenset[str]], str]:
    listed = {}
    for item in _pip_lines():
        if item.startswith("-e "):
            continue
        try:
            req = Requirement(item)
        except InvalidRequirement as exc:
            raise AssertionError(f"environment.yml: {item!r} is not a requirement: {exc}") from None
        listed[_key(req)] = str(req.specifier)
    return listed


def test_every_dependency_is_in_environment_yml_with_the_same_lower_bound():
    declared, listed = _declared(), _listed()
    missing = sorted(name for name, _ in declared.keys() - listed.keys())
    extra = sorted(name for name, _ in listed.keys() - declared.keys())
    assert not missing, f"in pyproject.toml but not environment.yml: {missing}"
    assert not extra, f"in environment.yml but not pyproject.toml: {extra}"
    differing = {k[0]: (declared[k], listed[k]) for k in declared if declared[k] != listed[k]}
    assert not differing, f"bounds differ (pyproject, environment.yml): {differing}"


def test_every_dependency_has_a_lower_bound():
    for (name, _), spec in _declared().items():
        assert ">=" in spec, f"{name} has no lower bound in pyproject.toml"


def test_environment_yml_installs_the_project_with_its_extras():
    assert "-e .[test,dev]" in _pip_lines()
