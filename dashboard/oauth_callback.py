"""The dashboard's OAuth2 callback: the provider sends the browser back to
`/app?page=connections&oauth=callback&code=..&state=..`.

When a session starts with those parameters, the Connections page hands them to
`connmodel.providers.callback.handle_callback` once, after the page loaded (it never raises; a
forged, replayed or expired `state` is refused there), shows the outcome on the page (as text),
and removes code and state from the address bar so a reload or a shared link carries neither.
"""

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

import panel as pn

from dashboard.components.notice import Notice
from dashboard.viewmodels.backend import Backend
from dashboard.viewmodels.providers import CALLBACK_KEYS, finish_callback, is_callback

MAX_PARAM = 2000  # longer values are cut; a real code/state is far shorter


def request_query() -> dict[str, str]:
    """The session's HTTP query parameters (first value of each), decoded and bounded."""
    args = pn.state.session_args or {}
    return {k: (v[0].decode("utf-8", "replace") if v else "")[:MAX_PARAM]
            for k, v in args.items() if isinstance(k, str)}


def _clean_url(query: dict[str, str]) -> None:
    """Drop the callback's parameters from the address bar (after the page has loaded)."""
    kept = {k: v for k, v in query.items() if k not in CALLBACK_KEYS}
    if pn.state.location is not None:
        pn.state.location.search = f"?{urlencode(kept)}" if kept else ""


def banner(backend: Backend, on_change: Callable[[], Awaitable[None]]) -> pn.viewable.Viewable:
    """The callback's outcome as an alert, or an invisible placeholder when this is no callback.

    The token exchange runs in a worker thread once the page has loaded (a slow provider does
    not stall the server); then the listing is re-read (`on_change`) and the URL cleaned.
    """
    query = request_query()
    if not is_callback(query):
        return pn.Spacer(height=0, margin=0)
    alert = Notice(text="Finishing the connection with the provider…", kind="info",
                   sizing_mode="stretch_width")

    async def finish() -> None:
        result = await asyncio.to_thread(finish_callback, backend, query)
        alert.param.update(text=result.message, kind="success" if result.ok else "error")
        _clean_url(query)
        await on_change()

    pn.state.onload(finish)
    return alert
