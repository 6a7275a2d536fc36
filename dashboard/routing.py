"""Page state in the URL query: read once when a session starts, written back on every change.

Unlike `pn.state.location.sync`, values at their defaults are left out of the URL and nothing is
written when a session starts, so the browser history holds one entry per real change and the
back button (see `components.history`) steps through what the person did. A value in the URL
that does not fit its parameter is ignored (the default stays).

Times are written in ISO 8601 (`2025-05-01T09:30:00`) and read as UTC, the zone the console
shows (one with an offset is converted to UTC); booleans are `true` / `false`.
"""

import logging
from datetime import UTC, date, datetime
from urllib.parse import parse_qsl, urlencode

import panel as pn
import param
from panel.io.location import Location

log = logging.getLogger(__name__)


def _query(location: Location) -> dict[str, str]:
    return dict(parse_qsl((location.search or "").lstrip("?"), keep_blank_values=True))


def _from_text(parameter: param.Parameter, text: str) -> object:
    """`text` from the URL as a value for `parameter`; ValueError when it cannot be one."""
    if isinstance(parameter, param.Date):
        when = datetime.fromisoformat(text.strip())
        return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when
    if isinstance(parameter, param.Boolean):
        if text.lower() not in ("true", "false"):
            raise ValueError(f"{text!r} is not true or false")
        return text.lower() == "true"
    return text


def _to_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def sync_url(obj: param.Parameterized, keys: dict[str, str], *,
             always: tuple[str, ...] = ()) -> bool:
    """Two-way bind `obj`'s parameters to query keys (`{"search": "q"}`); `always` keeps defaults.

    Returns whether the URL changed a parameter. Its values are set in one batch, so a watcher
    of several (a page's re-read) runs once, not once per value."""
    location = pn.state.location
    if location is None:
        return False
    query = _query(location)
    before = {name: getattr(obj, name) for name in keys}
    with param.parameterized.batch_call_watchers(obj):
        for name, key in keys.items():
            if key in query:
                try:
                    obj.param.update({name: _from_text(obj.param[name], query[key])})
                except (ValueError, OverflowError):  # OverflowError: a time out of range in UTC
                    log.info("ignoring %s=%r from the URL", key, query[key][:50])

    def write(*_: object) -> None:
        current = {k: v for k, v in _query(location).items() if k not in keys.values()}
        for name, key in keys.items():
            value = getattr(obj, name)
            if name in always or value != obj.param[name].default:
                current[key] = _to_text(value)
        search = f"?{urlencode(current)}" if current else ""
        if search != (location.search or ""):
            location.search = search

    obj.param.watch(write, list(keys))
    return any(getattr(obj, name) != value for name, value in before.items())
