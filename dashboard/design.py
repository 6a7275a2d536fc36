"""The console's look, served by the console: Panel's Fast design with its font kept here.

Panel's Fast design and template link Open Sans from Google Fonts, so every page view asked a
third party for a stylesheet that blocks the first paint (and told it who looks at the console,
and when); behind a firewall the request fails and the text falls back. The font's files are in
`assets/fonts` (SIL Open Font License), served at `ASSETS_URL` by `dashboard/serve.py`
(`--static-dirs`), and their `@font-face` rules are in the page's own `<style>` (`FONT_CSS`, no
request before the first paint); the Content-Security-Policy names no font or style host but the
console.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from panel.template import FastListTemplate
from panel.theme import Fast as PanelFast

if TYPE_CHECKING:
    from panel.io.resources import ResourcesType  # a name for type checkers only

ASSETS = Path(__file__).resolve().parent / "assets"
ASSETS_URL = "assets"  # the route `dashboard/serve.py` serves ASSETS at
STATIC_DIRS = f"{ASSETS_URL}={ASSETS}"  # that route, as `panel serve --static-dirs` takes it
# The rules with their files' URLs relative to the page: right under any prefix a proxy adds.
FONT_CSS = (ASSETS / "fonts" / "open-sans.css").read_text().replace("url(./",
                                                                     f"url({ASSETS_URL}/fonts/")

# A plus sign (Tabler's "plus", MIT): a named icon (`icon="plus"`) makes Bokeh link Tabler's
# webfont from jsDelivr.
PLUS_ICON = ('<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24" '
             'fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" '
             'stroke-linejoin="round" style="vertical-align: -0.125em"><path d="M12 5l0 14"/><path d="M5 12l14 0"/></svg>')


class Fast(PanelFast):
    """Panel's Fast design without its link to Google Fonts (the page has `FONT_CSS`): Panel has
    no public switch for it, hence `_resources` (tests/test_public_apis.py, PENDING).

    Named `Fast` on purpose: Panel finds the design's own scripts under the class's lowercased
    name (`ResourceComponent.resolve_resources`)."""

    _resources: ClassVar["ResourcesType"] = {**PanelFast._resources, "font": {}}


# The template's main card sets `contain: content`, which would trap the dialogs' fixed
# positioning inside the (long) page instead of the window.
_UNCONTAINED = "fast-card.pn-wrapper { contain: none; }"


def console_template(*, raw_css: Sequence[str] = (), **params: Any) -> FastListTemplate:
    """The console's template (title, accent, design, font, width), for its pages and for the
    benchmark's baselines, which must look and load as the console does; `params` are the
    page's own (its areas, theme, ...)."""
    return FastListTemplate(title="MCP Gateway", accent="#0969da", design=Fast,
                            raw_css=[_UNCONTAINED, *raw_css, FONT_CSS], main_max_width="1200px",
                            **params)
