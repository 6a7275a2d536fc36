"""The base of the console's browser components: their code ships as one module.

Panel sends each JSComponent's `_esm` source inside the document, and the browser transpiles
it (sucrase) and imports it as a module of its own (es-module-shims, through a blob URL): on
the Connections page, sixteen components, ~70 ms of the first screen's main thread in a
Chromium CPU profile. With a `_bundle`, Panel points every component at one file instead,
which the browser fetches once (and caches) and imports without transpiling: the first screen
737 / 810 -> 681 / 731 ms at p50 / p75 (docs/performance.md, session 31).

`components.bundle.js` is made from the components' own `_esm` by `dashboard.components.bundle`
(`make bundle`); tests/dashboard/test_component_bundle.py fails when it differs from what their
sources make. Under `panel serve --dev` Panel ignores the bundle and uses each `_esm` as written.
"""

from panel.custom import JSComponent


class ConsoleComponent(JSComponent):
    """A JSComponent whose code is in `components.bundle.js` (see the module docstring)."""

    _bundle = "components.bundle.js"

    __abstract = True
