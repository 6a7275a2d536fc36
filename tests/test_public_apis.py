"""connmodel/ and dashboard/ use only the public, documented API of the libraries they build on.

A private name (`compiled.positiontup`'s kin, `pn.Modal._update_model`) is a break waiting for
the next release: the upgrade canary (`make test-latest`) would find it after the fact, this
finds it before. Three scans:

- imports of a private module or name of SQLAlchemy, SQLModel, Panel, Bokeh, param, Tornado or
  authlib (`from panel.io._x import ...`, `from sqlalchemy import _y`);
- attribute access of a private name that our own code never defines (`obj._type_affinity`):
  whatever `obj` is, such a name can only be someone else's private; and of the public-looking
  names of SQLAlchemy's compiler and execution machinery in INTERNALS;
- our subclasses of those libraries' classes: a private name they define or use through `self`
  that the library's class also has (overriding or calling `Modal._update_model`).

A private name a library documents as its API is allowed in DOCUMENTED, with where it is
documented; a workaround that must use an undocumented one goes in PENDING with the upstream
issue and the test that pins the behaviour.
"""

import ast
import importlib
import inspect
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("connmodel", "dashboard")
WATCHED = ("sqlalchemy", "sqlmodel", "panel", "bokeh", "param", "tornado", "authlib")

# Private-looking names that are documented API.
DOCUMENTED = {
    # Panel's ESM components: https://panel.holoviz.org/reference/custom_components/JSComponent.html
    # (`_esm`, `_stylesheets`, `_importmap`; messages: `_send_msg` to `model.on("msg:custom")`,
    # `model.send_msg` to `_handle_msg`, as documented on ReactiveESM in panel/custom.py)
    "_esm": "Panel JSComponent", "_stylesheets": "Panel JSComponent",
    "_importmap": "Panel JSComponent", "_send_msg": "Panel JSComponent",
    "_handle_msg": "Panel JSComponent",
    # A component's compiled bundle: https://panel.holoviz.org/how_to/custom_components/esm/build.html
    "_bundle": "Panel ESM bundles",
    # Python's own: https://docs.python.org/3/library/sys.html#sys._getframe
    "_getframe": "Python sys",
}
# Public-looking, yet SQLAlchemy's compiler and execution internals: what running statements on
# the driver's cursor needs (the removed connmodel.prepared). Connection.execute does all of it.
INTERNALS = {"positiontup", "bind_names", "effective_value", "bind_processor", "dialect_impl",
             "is_disconnect"}
# (file, name) -> the upstream issue and the test that pins the behaviour.
PENDING: dict[tuple[str, str], str] = {
    # Bokeh's Server has no public accessor for its Tornado application (bokeh/bokeh#6562,
    # open; `server._tornado` is the workaround named there). The Host guard must reach every
    # route of it, including those Bokeh adds itself (static files, favicon, the auth module's
    # /login and /logout). Pinned by tests/security/test_host_guard.py.
    ("dashboard/serve.py", "_tornado"): "bokeh/bokeh#6562",
    # Panel 1.10.0 strands a page update queued while the previous one is written; Panel's main
    # branch drains it (its test_schedule_write_events_defers_and_orders_serialization), no
    # release has it yet. Pinned by tests/dashboard/test_panel_fixes.py.
    **{("dashboard/panel_fixes.py", name): "Panel main, after 1.10.0" for name in (
        "_dispatch_msgs", "_WRITE_EVENTS", "_WRITE_BLOCK", "_dispatch_write_task")},
    # Panel 1.10.0 computes a component's design modifiers for every property update and uses
    # them only for stylesheet changes (15 % of a filter change's server CPU); the fix calls
    # Panel's own conversion for the others. Not filed upstream from here (no network); pinned
    # by tests/dashboard/test_panel_fixes.py (same output, the design asked only for styles).
    ("dashboard/panel_fixes.py", "_process_param_change"): "to file: Panel, after 1.10.0",
    # Panel handles a widget's property change 50 ms later (Syncable._debounce) unless the
    # property is in `_priority_changes`, as Panel's Tabulator marks its own; no public switch.
    # Pinned by tests/dashboard/test_immediate.py (next tick for ours, a timeout for Panel's).
    ("dashboard/components/immediate.py", "_priority_changes"): "to file: Panel, after 1.10.0",
    # Panel's Fast design links Open Sans from Google Fonts on every page (its `_resources`
    # "font"); no public switch serves it elsewhere. dashboard/design.py's subclass links none
    # (the console serves the font). Pinned by tests/security/test_csp.py (the face loads from
    # the console) and tests/ui/test_roles_ui.py (no request leaves the console).
    ("dashboard/design.py", "_resources"): "to file: Panel, after 1.10.0",
}


def _sources() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def _allowed(path: Path, name: str) -> bool:
    return name in DOCUMENTED or (str(path.relative_to(ROOT)), name) in PENDING


def _trees() -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text(), str(path)) for path in _sources()}


def _ours(trees: dict[Path, ast.Module]) -> set[str]:
    """Every name our own code defines: functions, classes, variables, attributes, arguments."""
    names: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.alias):
                names.add((node.asname or node.name).split(".")[0])
    return names


def test_no_private_module_or_name_of_a_library_is_imported() -> None:
    found = []
    for path, tree in _trees().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and not node.level and node.module:
                parts = node.module.split(".")
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.Import):
                parts, names = [], [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                dotted = [*parts, *name.split(".")]
                if dotted[0] in WATCHED and any(map(_private, dotted)) \
                        and not _allowed(path, dotted[-1]):
                    found.append(f"{_where(path, node.lineno)}: {'.'.join(dotted)}")
    assert not found, "private modules or names imported:\n" + "\n".join(found)


def test_no_private_attribute_of_anything_but_ours_is_used() -> None:
    trees = _trees()
    ours = _ours(trees)
    found = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            name = None
            if isinstance(node, ast.Attribute):
                name = node.attr
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in ("getattr", "setattr", "hasattr") and len(node.args) > 1 \
                    and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
                name = node.args[1].value
            if name and (_private(name) and name not in ours or name in INTERNALS) \
                    and not _allowed(path, name):
                found.append(f"{_where(path, node.lineno)}: .{name}")
    assert not found, "private attributes of other code used:\n" + "\n".join(found)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _names_in_class(cls: type) -> dict[str, int]:
    """Private names a class of ours defines in its body or reaches through self/cls."""
    source, first = inspect.getsourcelines(cls)
    tree = ast.parse("".join(line[len(source[0]) - len(source[0].lstrip()):] for line in source))
    found: dict[str, int] = {}
    body = tree.body[0]
    assert isinstance(body, ast.ClassDef)
    for node in body.body:
        targets = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            targets = [node.name]
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = [t.id for t in (node.targets if isinstance(node, ast.Assign)
                                      else [node.target]) if isinstance(t, ast.Name)]
        for target in targets:
            found.setdefault(target, first + node.lineno - 1)
    for node in ast.walk(body):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in ("self", "cls"):
            found.setdefault(node.attr, first + node.lineno - 1)
    return {name: line for name, line in found.items() if _private(name)}


def test_no_subclass_overrides_or_calls_a_private_name_of_its_library_base() -> None:
    found = []
    for path in _sources():
        if "migrations" in path.parts or path.name == "__main__.py":  # these run on import
            continue
        module = importlib.import_module(_module_name(path))
        for cls in vars(module).values():
            if not inspect.isclass(cls) or cls.__module__ != module.__name__:
                continue
            bases = [b for b in cls.__mro__ if b.__module__.split(".")[0] in WATCHED]
            if not bases:
                continue
            for name, line in _names_in_class(cls).items():
                owner = next((b for b in bases if name in vars(b)), None)
                if owner is not None and not _allowed(path, name):
                    found.append(f"{_where(path, line)}: {cls.__name__}.{name} is "
                                 f"{owner.__module__}.{owner.__qualname__}.{name}")
    assert not found, "private names of a library's class overridden or used:\n" \
        + "\n".join(found)
