"""The console's components ship as one module (dashboard/components/base.py): the committed
bundle is what their sources make and every component uses it (tests/ui/test_roles_ui.py: a
page fetches it once)."""

import inspect

import pytest
from panel.custom import JSComponent

import dashboard.components
from dashboard.components.base import ConsoleComponent
from dashboard.components.bundle import BUNDLE, bundle_source, console_components, scoped


def test_the_committed_bundle_is_what_the_components_sources_make():
    assert BUNDLE.read_text() == bundle_source(), (
        "a component's _esm changed: run `make bundle` and commit "
        "dashboard/components/components.bundle.js")


def test_every_browser_component_of_the_console_is_in_the_bundle():
    bundled = set(console_components())
    source = bundle_source()
    for cls in bundled:
        assert cls.__name__ in source
    others = [cls for module in vars(dashboard.components).values() if inspect.ismodule(module)
              for cls in vars(module).values()
              if inspect.isclass(cls) and issubclass(cls, JSComponent)
              and cls.__module__ == module.__name__ and cls is not ConsoleComponent
              and cls not in bundled]
    assert others == []
    assert len(bundled) >= 15


def test_a_source_that_exports_more_than_render_is_refused():
    with pytest.raises(ValueError, match="must export one thing"):
        scoped("Two", "export function render({ el }) {}\nexport const other = 1\n")
    with pytest.raises(ValueError, match="must export one thing"):
        scoped("None", "function render({ el }) {}\n")
