"""The report's charts, drawn with plain Bokeh (hvPlot would import Panel into `connmodel`).

Each function takes one of the report's small DataFrames and returns a figure, or None when
there is nothing to draw (the report then says so in words). Hover tooltips show field values
as text, so a profile named like markup stays text.
"""

import pandas as pd
from bokeh.models import DataRange1d, FactorRange, HoverTool
from bokeh.plotting import figure

from connmodel.status import Status

COLORS = {Status.ACTIVE.value: "#2e7d32", Status.INACTIVE.value: "#9e9e9e",
          Status.ERROR.value: "#c62828"}
WIDTH = 900
DAY_MS = 86_400_000


def _wide(frame: pd.DataFrame, index: str, value: str) -> pd.DataFrame:
    """Long (index, status, value) rows to one column per status, every status present."""
    wide = frame.pivot_table(index=index, columns="status", values=value, aggfunc="sum",
                             fill_value=0)
    for status in COLORS:
        if status not in wide.columns:
            wide[status] = 0
    return wide[list(COLORS)].reset_index()


def status_by_profile(frame: pd.DataFrame) -> figure | None:
    """Stacked horizontal bars: the largest profiles' live connections by status."""
    if frame.empty:
        return None
    wide = _wide(frame, "profile", "connections")
    wide["profile"] = wide["profile"].astype(str)
    wide = wide.assign(total=wide[list(COLORS)].sum(axis=1)).sort_values("total")
    fig = figure(y_range=FactorRange(factors=list(wide["profile"])), x_range=DataRange1d(start=0),
                 height=max(220, 28 * len(wide) + 80), width=WIDTH, title="Live connections by profile and status",
                 toolbar_location=None, tools="")
    fig.hbar_stack(list(COLORS), y="profile", height=0.7, source=wide,
                   color=list(COLORS.values()), legend_label=list(COLORS))
    fig.add_tools(HoverTool(tooltips=[("profile", "@profile"), ("Active", "@Active"),
                                      ("Inactive", "@Inactive"), ("Error", "@Error")]))
    fig.legend.location = "bottom_right"
    return fig


def status_over_time(frame: pd.DataFrame) -> figure | None:
    """Stacked daily bars of check results by status (the check history)."""
    if frame.empty:
        return None
    wide = _wide(frame, "day", "checks")
    fig = figure(x_axis_type="datetime", y_range=DataRange1d(start=0), height=300, width=WIDTH,
                 toolbar_location=None, tools="", title="Checks per day by status")
    fig.vbar_stack(list(COLORS), x="day", width=DAY_MS * 0.8, source=wide,
                   color=list(COLORS.values()), legend_label=list(COLORS))
    fig.add_tools(HoverTool(tooltips=[("day", "@day{%F}"), ("Active", "@Active"),
                                      ("Inactive", "@Inactive"), ("Error", "@Error")],
                            formatters={"@day": "datetime"}))
    fig.legend.location = "top_left"
    return fig


def expiry_timeline(frame: pd.DataFrame) -> figure | None:
    """Daily bars of live connections whose credential expires that day."""
    if frame.empty:
        return None
    fig = figure(x_axis_type="datetime", y_range=DataRange1d(start=0), height=260, width=WIDTH,
                 toolbar_location=None, tools="", title="Credentials expiring per day")
    fig.vbar(x="day", top="connections", width=DAY_MS * 0.8, source=frame, color="#ef6c00")
    fig.add_tools(HoverTool(tooltips=[("day", "@day{%F}"), ("expiring", "@connections")],
                            formatters={"@day": "datetime"}))
    return fig


def error_rate_by_provider(frame: pd.DataFrame) -> figure | None:
    """Horizontal bars: share of each provider's live connections in Error now."""
    if frame.empty:
        return None
    data = frame.sort_values("error_rate").assign(
        percent=lambda f: (f["error_rate"] * 100).round(1))
    fig = figure(y_range=FactorRange(factors=list(data["provider"].astype(str))),
                 x_range=DataRange1d(start=0), width=WIDTH,
                 height=max(200, 30 * len(data) + 80), toolbar_location=None, tools="",
                 title="Connections in Error per provider (%)")
    fig.hbar(y="provider", right="percent", height=0.7, source=data, color=COLORS["Error"])
    fig.add_tools(HoverTool(tooltips=[("provider", "@provider"), ("in Error", "@percent %"),
                                      ("connections", "@connections")]))
    return fig


CHARTS = {
    "status_by_profile": status_by_profile,
    "status_over_time": status_over_time,
    "expiry_timeline": expiry_timeline,
}
