"""The console's pages leave out BokehJS's MathJax and WebGL bundles (dashboard.page_scripts);
tests/security/test_csp.py checks the served page's HTML too."""

import panel as pn
from bokeh.document import Document
from bokeh.resources import Resources

from dashboard import page_scripts


def _scripts(bundle_resources, doc: Document) -> list[str]:
    return [str(url) for url in bundle_resources(doc.roots, Resources(mode="server")).js_files]


def test_a_page_with_markdown_gets_neither_mathjax_nor_webgl():
    doc = Document()
    pn.pane.Markdown("## Connections").server_doc(doc)
    panels = _scripts(page_scripts._panel_bundle, doc)
    assert any("/bokeh-mathjax" in url for url in panels)  # what Panel alone would send
    assert any("/bokeh-gl" in url for url in panels)
    page_scripts.apply()
    ours = _scripts(page_scripts.server.bundle_resources, doc)
    assert not [url for url in ours if "/bokeh-mathjax" in url or "/bokeh-gl" in url]
    assert any("/bokeh.min.js" in url for url in ours)
    assert any("/bokeh-widgets.min.js" in url for url in ours)


def test_markdown_text_with_dollars_stays_text():
    """Without MathJax, Markdown renders TeX-looking text as it is (`disable_math`)."""
    page_scripts.apply()
    assert pn.pane.Markdown("costs $5 and $6").disable_math is True
