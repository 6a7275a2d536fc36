"""Guardrail: user text reaches the browser as values written with `textContent`, never as markup.

Scans every module of dashboard/ (its Python, and the JavaScript in its strings and .js files):

- no `innerHTML` / `outerHTML` / `insertAdjacentHTML` / `document.write` takes anything but a
  literal without interpolation;
- Panel's markup panes (HTML, Markdown, Alert, ...) and notifications are given only constant
  text: a string literal, or a module-level UPPER_CASE constant, at creation and on every
  `.object =` / `.param.update(object=...)` of a pane made in that module.

A value built from user data (a name, an account, a reason) goes to a component of
dashboard/components as a plain value instead.
"""

import ast
import re
from pathlib import Path

import pytest

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
MARKUP_PANES = {"HTML", "Markdown", "Alert", "Str", "LaTeX", "JSON", "HTMLTemplateFormatter"}
SINKS = re.compile(r"(?:\.innerHTML|\.outerHTML)\s*\+?=\s*(?P<rhs>[^\n;]*)|"
                   r"insertAdjacentHTML\s*\(|document\.write\s*\(")
CONSTANT_JS = re.compile(r"""^\s*(['"])[^'"$]*\1\s*$""")


def modules() -> list[Path]:
    return sorted(p for p in DASHBOARD.rglob("*") if p.suffix in {".py", ".js"})


def rel(path: Path) -> str:
    return path.relative_to(DASHBOARD).as_posix()


def is_constant(node: ast.expr | None) -> bool:
    """A literal string (or number), an UPPER_CASE name, or a choice/join of those."""
    if node is None or isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id.isupper()
    if isinstance(node, ast.IfExp):
        return is_constant(node.body) and is_constant(node.orelse)
    if isinstance(node, ast.BinOp):
        return is_constant(node.left) and is_constant(node.right)
    return False


def target_name(node: ast.expr) -> str:
    return ast.unparse(node)


def pane_call(node: ast.AST) -> bool:
    """`pn.pane.HTML(...)`, `HTML(...)` imported from panel.pane, and the like."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in MARKUP_PANES and "pane" in ast.unparse(func) or \
        name == "HTMLTemplateFormatter"


def markup_faults(tree: ast.Module) -> list[str]:
    """Where a markup pane or a notification gets a value that is not constant."""
    faults = []
    panes = set()  # the expressions (self._x, x) bound to a markup pane in this module
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and pane_call(node.value):
            panes.update(target_name(t) for t in node.targets)
    for node in ast.walk(tree):
        if pane_call(node):
            assert isinstance(node, ast.Call)
            first = node.args[0] if node.args else None
            given = [first, *(k.value for k in node.keywords if k.arg == "object")]
            if not all(is_constant(v) for v in given):
                faults.append(f"line {node.lineno}: {ast.unparse(node)[:90]}")
        if isinstance(node, ast.Call) and "notifications" in ast.unparse(node.func) \
                and not all(is_constant(a) for a in node.args):
            faults.append(f"line {node.lineno}: {ast.unparse(node)[:90]}")
        if isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Attribute) and t.attr == "object" \
                        and target_name(t.value) in panes and not is_constant(node.value):
                    faults.append(f"line {node.lineno}: {ast.unparse(node)[:90]}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "update" and ast.unparse(node.func).endswith(".param.update"):
            owner = ast.unparse(node.func)[: -len(".param.update")]
            for k in node.keywords:
                if k.arg == "object" and owner in panes and not is_constant(k.value):
                    faults.append(f"line {node.lineno}: {ast.unparse(node)[:90]}")
    return faults


def html_sinks(text: str) -> list[str]:
    """Assignments of non-literal strings to innerHTML (and friends) in JavaScript text."""
    faults = []
    for match in SINKS.finditer(text):
        rhs = match.group("rhs")
        if rhs is None or not CONSTANT_JS.match(rhs):
            line = text.count("\n", 0, match.start()) + 1
            faults.append(f"line {line}: {match.group(0).strip()[:90]}")
    return faults


@pytest.mark.parametrize("path", modules(), ids=rel)
def test_no_markup_built_from_values(path: Path):
    text = path.read_text()
    faults = html_sinks(text)
    if path.suffix == ".py":
        faults += markup_faults(ast.parse(text))
    assert not faults, f"{rel(path)} renders markup from values:\n" + "\n".join(faults)


def test_the_scan_catches_what_it_is_for():
    """The checks themselves: each kind of fault is found, and constants pass."""
    assert html_sinks("box.innerHTML = model.object")
    assert html_sinks("el.innerHTML += `<b>${name}</b>`")
    assert html_sinks("el.insertAdjacentHTML('beforeend', x)")
    assert not html_sinks("el.innerHTML = ''") and not html_sinks("never `innerHTML`, so")
    bad = ast.parse("import panel as pn\nx = pn.pane.HTML(f'<b>{name}</b>')\n"
                    "self._a = pn.pane.Markdown('')\nself._a.object = f'{name}'\n"
                    "self._a.param.update(object=esc(name), visible=True)\n"
                    "pn.state.notifications.success(esc(message))\n"
                    "pn.pane.Alert(object=name)\n")
    assert len(markup_faults(bad)) == 5
    good = ast.parse("import panel as pn\nINTRO = '# Hi'\nx = pn.pane.Markdown(INTRO)\n"
                     "x.object = NO_MATCH if a else EMPTY\nx.param.update(object=INTRO)\n"
                     "status.object = f'{name}'\n")
    assert markup_faults(good) == []
