"""Tables as the notebooks show them: times to the second in UTC, and "200 of 5,153" when a
listing is cut at its limit (a bare 200 rows reads as the whole answer)."""

import pandas as pd


def to_the_second(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose time columns read `2026-11-25 09:25:58 UTC` (no microseconds; "–" for none)."""
    shown = frame.copy()
    for column in shown.columns:
        values = shown[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            utc = values.dt.tz_convert("UTC") if values.dt.tz else values.dt.tz_localize("UTC")
            shown[column] = utc.dt.strftime("%Y-%m-%d %H:%M:%S UTC").fillna("–")
    return shown


def shown_of(shown: int, total: int, what: str) -> str:
    """`200 of 5,153 connections in Error`, or `12 connections in Error` when all are shown."""
    return f"{total:,} {what}" if shown >= total else f"{shown:,} of {total:,} {what}"


def filters_title(status: str | None = None, environment: str | None = None,
                  profile: str | None = None, search: str | None = None) -> str:
    """What a chart's title says it covers: `Error · staging · profile "Hub"`, or `all
    connections, all environments` when nothing filters (plain text: Bokeh draws titles as text)."""
    parts = [p for p in (status, environment) if p]
    if profile and profile.strip():
        parts.append(f'profile "{profile.strip()}"')
    if search and search.strip():
        parts.append(f'search "{search.strip()}"')
    if not environment:
        parts.append("all environments")
    return " · ".join(parts) if parts != ["all environments"] else "all connections, all environments"
