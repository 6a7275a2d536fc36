"""Make `components.bundle.js`: every ConsoleComponent's `_esm` in one ES module.

Each component's source exports one function, `render`; in the bundle it runs in a scope of
its own (so two components' helpers never collide) under the DOM helper they share, written
once, and the module's default export maps each class name to `{render}`, which is how Panel
finds a component in a bundle. No build tool is
needed for that, so none is used: `make bundle` (`python -m dashboard.components.bundle`)
rewrites the file.
"""

import importlib
import pkgutil
import re
import textwrap
from pathlib import Path

from dashboard import components
from dashboard.components.base import ConsoleComponent
from dashboard.components.dom import DOM_HELPER

BUNDLE = Path(components.__file__).resolve().parent / ConsoleComponent._bundle
_EXPORT = re.compile(r"^(\s*)export function render\(", re.MULTILINE)
_HELPER = textwrap.dedent(DOM_HELPER)  # once at the bundle's top, not in each component's scope


def console_components() -> list[type[ConsoleComponent]]:
    """Every ConsoleComponent of dashboard.components, by name."""
    for module in pkgutil.iter_modules(components.__path__):
        importlib.import_module(f"{components.__name__}.{module.name}")
    found: list[type[ConsoleComponent]] = []
    pending = list(ConsoleComponent.__subclasses__())
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(found, key=lambda cls: cls.__name__)


def scoped(name: str, source: str) -> str:
    """A component's module (`source`) as a constant `name` holding its `render`; raises if the
    source exports anything else."""
    source = textwrap.dedent(source).removeprefix(_HELPER)
    if len(_EXPORT.findall(source)) != 1 or source.count("export ") != 1:
        raise ValueError(f"{name}._esm must export one thing: `export function render`")
    body = _EXPORT.sub(r"\1function render(", source).strip("\n")
    return f"const {name} = (() => {{\n{textwrap.indent(body, '  ')}\n  return {{render}}\n}})()\n"


def bundle_source() -> str:
    """The bundle's text for the components as they are now."""
    classes = console_components()
    names = ", ".join(cls.__name__ for cls in classes)
    return ("// Made by `python -m dashboard.components.bundle` from the components' `_esm`: "
            "do not edit.\n" + _HELPER + "\n" + "\n".join(scoped(cls.__name__, str(cls._esm)) for cls in classes)
            + f"\nexport default {{{names}}}\n")


def main() -> None:
    """Rewrite the bundle if the components' sources changed (`make run` does it too)."""
    source = bundle_source()
    if not BUNDLE.is_file() or BUNDLE.read_text() != source:
        BUNDLE.write_text(source)
        print(f"wrote {BUNDLE} ({len(console_components())} components)")


if __name__ == "__main__":
    main()
