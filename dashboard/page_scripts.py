"""The console's pages without the two BokehJS bundles it never uses: MathJax and WebGL.

Panel puts bokeh-mathjax (1.8 MB) in every page that has a Markdown or HTML pane, in case its
text holds TeX, and bokeh-gl (0.3 MB, WebGL plots) in every page. The console has no TeX and
no plot, and its Markdown is its own text. Without them a first visit (nothing cached) shows
the Connections page sooner: p50 1,295 -> 1,177 ms, p75 1,376 -> 1,250 ms (demo data, 20 cold
loads each, alternating); a cached page is unchanged (its scripts are compiled once).

Markdown panes render with `disable_math`: TeX in a pane would otherwise wait for MathJax that
the page does not load. tests/dashboard/test_page_scripts.py checks the page's scripts.
"""

from typing import Any

import panel as pn
from panel.io import server

WEBGL = "/bokeh-gl"  # in its bundle's URL, as BokehJS names its files

_panel_bundle = server.bundle_resources


def _bundle(roots: Any, resources: Any, *args: Any, **kwargs: Any) -> Any:
    """Panel's page bundle for the session's document: MathJax left out by Panel's own switch,
    WebGL (which has none) by its URL."""
    bundle = _panel_bundle(roots, resources, *args, **{**kwargs, "enable_mathjax": False})
    bundle.js_files = [url for url in bundle.js_files if WEBGL not in str(url)]
    return bundle


def apply() -> None:
    """Leave both bundles out of every page this process serves (idempotent)."""
    pn.pane.Markdown.disable_math = True
    server.bundle_resources = _bundle
