"""Imports inside connmodel/ run one way: models <- store <- services <- {providers, checks,
audit} <- {cli, api}; the dashboard sits beside cli and api, and nothing in connmodel/ imports
it or Panel.

A module may import its own layer or a lower one. Every module of connmodel/ must be in LAYERS:
a new top-level module or package fails here until it is given its place, so the rule is
decided once, by whoever adds the module, rather than drifting.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "connmodel"

# The first name under connmodel/ (module or package) -> its layer, lowest first.
LAYERS: dict[str, int] = {
    # models: the tables and the plain values, rules and errors everything shares
    **dict.fromkeys(("models", "errors", "status", "sqltime", "secrets", "permissions",
                     "validation", "synthetic", "masking", "terms"), 0),
    # store: engines, sessions, schema, the paging and search helpers every listing runs
    **dict.fromkeys(("store", "schema", "migrations", "paging", "search", "budget"), 1),
    # services: the only code that changes the store (webhooks: the status-change outbox)
    **dict.fromkeys(("services", "webhooks"), 2),
    # changes: a process's change watcher, read by the dashboard
    **dict.fromkeys(("providers", "checks", "audit", "broker", "changes",
                     "notebooks"), 3),
    # the edges and processes: worker runs the checks, refreshes and revocations in one loop
    **dict.fromkeys(("cli", "api", "worker", "__main__", "__init__"), 4),
}
NAMES = {0: "models", 1: "store", 2: "services", 3: "providers/checks/audit", 4: "cli/api"}
NEVER = ("dashboard", "panel")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted module) of every import in a file, at any depth, relative ones resolved."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                target = f"{base}.{alias.name}"
                yield node.lineno, target if _is_module(target) else base


def _layer(dotted: str) -> int | None:
    parts = dotted.split(".")
    return LAYERS.get(parts[1] if len(parts) > 1 else "__init__")


def test_every_module_has_a_layer() -> None:
    missing = sorted({_module(p) for p in PACKAGE.rglob("*.py") if _layer(_module(p)) is None})
    assert not missing, f"give these modules a layer in LAYERS ({__file__}): {missing}"


def test_imports_run_downward_only() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _layer(_module(path))
        for line, target in _imports(path):
            where = f"{path.relative_to(ROOT)}:{line} imports {target}"
            if target.split(".")[0] in NEVER:
                upward.append(f"{where} (connmodel/ never imports it)")
            elif target.startswith("connmodel."):
                layer = _layer(target)
                if source is not None and layer is not None and layer > source:
                    upward.append(f"{where}: {NAMES[source]} may not import {NAMES[layer]}")
    assert not upward, "imports that run up the layers:\n" + "\n".join(upward)
