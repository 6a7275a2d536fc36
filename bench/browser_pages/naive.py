"""The naive baseline: one Tabulator over the whole DataFrame of live connections.

Remote pagination, Tabulator filters over the whole frame (status; account or service in any
case, as the real page searches), View / Revoke as button columns; after a revocation the
frame is read again.
"""

import os

import pandas as pd
import panel as pn
from common import backend, dialogs, filters, on_row_click, template  # bench/browser_pages/
from sqlalchemy import text

from connmodel.store import get_engine
from dashboard.viewmodels.actions import ActionsModel

SQL = ("SELECT c.id, p.name AS profile, c.service, c.account, c.status, c.status_reason, "
       "c.checked_at FROM connection c JOIN profile p ON p.id = c.profile_id "
       "WHERE c.revoked_at IS NULL")

pn.extension("tabulator", notifications=True)


def frame() -> pd.DataFrame:
    with get_engine(os.environ["CONNMODEL_DATABASE_URL"]).connect() as conn:
        return pd.read_sql(text(SQL), conn)


def matching(df: pd.DataFrame, status: str, search: str) -> pd.DataFrame:
    if status:
        df = df[df.status == status]
    if search:
        df = df[df.account.str.contains(search, case=False, regex=False)
                | df.service.str.contains(search, case=False, regex=False)]
    return df


actions = ActionsModel(backend())
status, search = filters()
table = pn.widgets.Tabulator(frame(), pagination="remote", page_size=20, disabled=True,
                             show_index=False, buttons={"view": "View", "revoke": "Revoke"},
                             sizing_mode="stretch_width")
table.add_filter(pn.bind(matching, status=status, search=search))
for column, callback in on_row_click(
        actions, lambda e: int(table.value.id.iloc[e.row])).items():
    table.on_click(callback, column=column)
actions.param.watch(lambda _: setattr(table, "value", frame()), "revoked")
template(pn.Row(status, search), table, dialogs(actions)).servable()
