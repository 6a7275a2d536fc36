"""Entry point for `panel serve dashboard/app.py`: the template, the sidebar and the routing.

The current page lives in the URL (`?page=connections`); pages live in `dashboard.pages`. The
database is $CONNMODEL_DATABASE_URL (default ./connmodel.db); the acting user comes from
`dashboard.actor`.
"""

import os
from typing import Any

import panel as pn
import param

from connmodel.errors import ConnModelError
from connmodel.permissions import Actor
from dashboard.actor import current_actor
from dashboard.auth import THEME_COOKIE, chosen_theme
from dashboard.components.history import HistoryReload
from dashboard.components.nav_menu import NavMenu
from dashboard.components.notice import Notice
from dashboard.components.sign_in_ended import sign_in_ended
from dashboard.components.signed_in import signed_in
from dashboard.components.template_tweaks import NARROW_CSS, TemplateTweaks
from dashboard.components.theme import MARKDOWN_CSS
from dashboard.design import console_template
from dashboard.first_screen import serve_stylesheets_here
from dashboard.page_scripts import apply as leave_out_unused_scripts
from dashboard.pages import DEFAULT_PAGE, PAGES
from dashboard.panel_fixes import apply as apply_panel_fixes
from dashboard.routing import sync_url
from dashboard.viewmodels.backend import Backend

pn.extension(notifications=True)
apply_panel_fixes()
leave_out_unused_scripts()


SIGN_IN = "## Sign in\n[Sign in](/login) to manage connections."
NO_SIGN_IN_PAGE = ("## Sign-in is not set up\nThis console needs sign-in: start it with "
                   "`python dashboard/serve.py` (or `panel serve dashboard/app.py "
                   "--auth-module dashboard/auth.py`).")


class Route(param.Parameterized):
    """Which page the session shows; synced with `?page=` so reload and back keep the place."""

    page = param.Selector(objects=list(PAGES), default=DEFAULT_PAGE, doc="The page key.")


class Sidebar(pn.viewable.Viewer):
    """The sidebar menu: groups (Gateway) that expand to their pages.

    Groups start collapsed, as the seed page's "Click Gateway to expand" has it; a collapsed
    group names the current page when it holds it ("Gateway ▸ · Connections"), so after a
    reload or a shared link the menu still says where you are.
    """

    route = param.ClassSelector(class_=Route, doc="The routing state the menu changes.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        groups = [{"name": group, "pages": [[key, spec.title] for key, spec in PAGES.items()
                                            if spec.group == group]}
                  for group in dict.fromkeys(spec.group for spec in PAGES.values())]
        self.menu = NavMenu(groups=groups, page=self.route.page, sizing_mode="stretch_width",
                            on_page=lambda key: setattr(self.route, "page", key))
        self.route.param.watch(lambda e: setattr(self.menu, "page", e.new), "page")

    def __panel__(self) -> pn.viewable.Viewable:
        return self.menu


def page_view(route: Route, backend: Backend) -> pn.viewable.Viewable:
    """The page for the route; each page is built once per session and then kept."""
    built: dict[str, pn.viewable.Viewable] = {}

    def show(page: str) -> pn.viewable.Viewable:
        if page not in built:
            built[page] = PAGES[page].build(backend)
        return built[page]

    return pn.panel(pn.bind(show, route.param.page), sizing_mode="stretch_width")


def main_area(route: Route) -> tuple[pn.viewable.Viewable, Actor | None]:
    """The routed page, or why there is none (nobody signed in, store unreachable); and who."""
    try:
        actor = current_actor()
    except ConnModelError as exc:
        return Notice(title="Cannot check who is signed in.", text=f"{exc} Reload to retry.",
                      kind="error", sizing_mode="stretch_width"), None
    if actor is None:
        return sign_in_needed(), None
    backend = Backend(actor)
    return pn.Column(sign_in_ended(backend.sign_in), page_view(route, backend),
                     sizing_mode="stretch_width"), actor


def sign_in_needed() -> pn.viewable.Viewable:
    """Why nothing is shown, and what to do: a sign-in link only where /login exists.

    `python dashboard/serve.py` (or `panel serve` with `--auth-module dashboard/auth.py`)
    serves the sign-in page; a bare `panel serve dashboard/app.py` does not, so there the page
    names the command that does instead of linking to a 404.
    """
    if sign_in_served():
        return pn.pane.Markdown(SIGN_IN, sizing_mode="stretch_width")
    return pn.pane.Markdown(NO_SIGN_IN_PAGE, sizing_mode="stretch_width",
                            stylesheets=[MARKDOWN_CSS])


def sign_in_served() -> bool:
    """True when this server has the sign-in page: started by serve.py or with auth.py."""
    return "CONNMODEL_DASHBOARD_AUTH" in os.environ or bool(pn.state.user)


def remembered_theme() -> dict[str, str]:
    """The theme last chosen in this browser, when the URL does not choose one (`?theme=`,
    which Panel applies itself). A `?theme=` other than dark is the default theme, as
    `chosen_theme` says: it is dropped here, since Panel's template raises on a name it does
    not know (`?theme=light`, a blank page)."""
    arguments = pn.state.session_args or {}
    if "theme" in arguments:
        if chosen_theme(arguments, None) != "dark":
            del arguments["theme"]
        return {}
    dark = chosen_theme(arguments, pn.state.cookies.get(THEME_COOKIE)) == "dark"
    return {"theme": "dark"} if dark else {}


def create_app() -> pn.template.FastListTemplate:
    """One session's template (called per browser session by `panel serve`)."""
    serve_stylesheets_here()
    route = Route()
    sync_url(route, {"page": "page"}, always=("page",))
    main, actor = main_area(route)
    return console_template(
        **remembered_theme(),
        header=[signed_in(actor)],
        sidebar=[Sidebar(route=route), HistoryReload(), TemplateTweaks()],
        main=[main],
        raw_css=[NARROW_CSS],
        # Panel's busy state is one per process: the template's spinner turned on and off on
        # every page of the process for each input of any page (two messages to each open
        # page). The Connections cards show their own slow reads; the other pages read one
        # keyset page at a time.
        busy_indicator=None,
    )


if pn.state.served:
    create_app().servable()
