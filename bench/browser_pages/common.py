"""What the baseline pages share: the store, the acting user, the template and the filters.

Each page uses the real page's template (FastListTemplate, same title and accent), the same
labels for its filters (so the benchmark finds them the same way) and the real page's View /
Revoke dialogs with the same service calls: the person gets the same content on every page.
"""

import os
from collections.abc import Awaitable, Callable
from typing import Any

import panel as pn

from connmodel.permissions import Actor, Role
from dashboard.design import console_template
from dashboard.first_screen import serve_stylesheets_here
from dashboard.viewmodels.actions import ActionsModel
from dashboard.viewmodels.backend import Backend
from dashboard.views.connection_actions import ConnectionDialogsWithActions

STATUSES = {"All statuses": "", "Active": "Active", "Inactive": "Inactive", "Error": "Error"}


def backend() -> Backend:
    return Backend(Actor("bench", Role.ADMIN), os.environ["CONNMODEL_DATABASE_URL"])


def filters() -> tuple[pn.widgets.Select, pn.widgets.TextInput]:
    """The status choice and the search box, labelled as on the real page."""
    return (pn.widgets.Select(name="Status", options=STATUSES, width=150),
            pn.widgets.TextInput(name="Search account or service",
                                 placeholder="e.g. user@example.com", width=220))


def dialogs(actions: ActionsModel) -> pn.viewable.Viewable:
    return ConnectionDialogsWithActions(actions=actions)


def on_row_click(actions: ActionsModel, row_id: Callable[[Any], int]
                 ) -> dict[str, Callable[[Any], Awaitable[None]]]:
    """View / Revoke button-column callbacks for a Tabulator (`row_id` maps a click to an id):
    coroutines, as the real page's, which Panel awaits on its loop."""
    async def view(event: Any) -> None:
        await actions.view(row_id(event))

    async def revoke(event: Any) -> None:
        await actions.ask_revoke(row_id(event))

    return {"view": view, "revoke": revoke}


def template(*main: Any) -> pn.template.FastListTemplate:
    """The real page's template, served as it is (its stylesheets on this server: the
    baselines are served with the same `--reuse-sessions warm`, see dashboard.first_screen;
    its design and font: dashboard.design.console_template)."""
    serve_stylesheets_here()
    return console_template(main=list(main))
