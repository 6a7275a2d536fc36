"""Page state in the URL query: read once when a session starts, written back on every change.

Unlike `pn.state.location.sync`, values at their defaults are left out of the URL and nothing is
written when a session starts, so the browser history holds one entry per real change and the
back button (see `components.history`) steps through what the person did. A value in the URL
that does not fit its parameter is ignored (the default stays).
"""

import logging
from urllib.parse import parse_qsl, urlencode

import panel as pn
import param

log = logging.getLogger(__name__)


def _query() -> dict[str, str]:
    search = pn.state.location.search if pn.state.location is not None else ""
    return dict(parse_qsl((search or "").lstrip("?"), keep_blank_values=True))


def sync_url(obj: param.Parameterized, keys: dict[str, str], *,
             always: tuple[str, ...] = ()) -> None:
    """Two-way bind `obj`'s parameters to query keys (`{"search": "q"}`); `always` keeps defaults."""
    location = pn.state.location
    if location is None:
        return
    query = _query()
    for name, key in keys.items():
        if key in query:
            try:
                obj.param.update({name: query[key]})
            except ValueError:
                log.info("ignoring %s=%r from the URL", key, query[key][:50])

    def write(*_: object) -> None:
        current = {k: v for k, v in _query().items() if k not in keys.values()}
        for name, key in keys.items():
            value = getattr(obj, name)
            if name in always or value != obj.param[name].default:
                current[key] = str(value)
        search = f"?{urlencode(current)}" if current else ""
        if search != (location.search or ""):
            location.search = search

    obj.param.watch(write, list(keys))
