"""The page's HTML at once, while the visitor's session is built: Panel's warm session reuse.

A page's GET used to wait for its session's document to be built (~250 ms at 1M connections:
Panel creating the page's models and their stylesheets), and the browser, which gets the
document over the websocket anyway, waited for the HTML with nothing to do. `panel serve
--reuse-sessions warm` (`dashboard.serve.panel_args`) answers the GET with the HTML of a session
it keeps, the first one built for the same `html_key`, and builds the visitor's own session right
after, while the browser loads and runs the page's scripts. That HTML holds no data and nobody's
identity: the template, and placeholders that BokehJS fills with the document's roots by
position (every page of the console has the same roots: header, sidebar, main). It does hold the
theme's colours and stylesheets, hence the key.

A session built after the response differs in one way: Panel points its components'
stylesheets at cdn.holoviz.org and moves them to the server's own path only while it renders a
page for the session (`panel.io.server.server_html_page_for_session`), which a session built
after its page never is. The Content-Security-Policy refuses the CDN, so the page would lose its
design; `serve_stylesheets_here` names the server's path before any model exists.
"""

from typing import Any

import panel as pn
from panel.io.resources import get_dist_path

from dashboard.auth import THEME_COOKIE, chosen_theme


def html_key(request: Any) -> tuple[str, str]:
    """What a page's HTML depends on: its path and its theme (`dashboard.auth.chosen_theme`, as
    the session's template takes it). Panel keeps a session for each key for the process's life:
    any other `?theme=` value is the default's, or each one typed would keep a session more.
    `request` is Tornado's."""
    cookie = request.cookies.get(THEME_COOKIE)
    return request.path, chosen_theme(request.arguments, cookie.value if cookie else None)


def serve_stylesheets_here() -> None:
    """Make this session's components link their stylesheets on this server, not the CDN.

    Call before the session's template is built: Panel reads it when it creates each model."""
    pn.state.curdoc.template_variables["dist_url"] = get_dist_path(cdn=False)
