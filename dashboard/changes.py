"""The dashboard process's change watcher, shared by all its sessions (connmodel/changes.py).

A page calls `follow_changes(url, callback)` once when it is built: the callback then runs on
its own session's event loop (Bokeh's `add_next_tick_callback`, the one thread-safe way into a
document, as Panel's own `pn.state.execute` schedules) each time the store changes, and the
subscription ends with the session. Nothing runs for a session while nothing changes, nor
for one no browser has shown yet: its page re-reads once when one does, if the store changed
meanwhile. Panel keeps a session whose page no browser may ever show (the HTML of the next
pages comes from it: dashboard/first_screen.py; a health probe's GET makes one), and it would
otherwise re-read on every change for the life of the process. A
coroutine callback (a page that reads in a worker thread) is handed to `pn.state.execute`
there, which runs it as Panel runs async callbacks: on the loop, without holding the document
lock while it awaits.
"""

import threading
from collections.abc import Awaitable, Callable
from functools import partial

import panel as pn
from panel.io.state import set_curdoc

from connmodel.changes import Change, ChangeWatcher
from connmodel.store import database_url

_watchers: dict[str, ChangeWatcher] = {}
_lock = threading.Lock()


def process_watcher(url: str | None = None) -> ChangeWatcher:
    """This process's watcher of `url` (started on first use)."""
    resolved = database_url(url)
    with _lock:
        watcher = _watchers.get(resolved)
        if watcher is None:
            watcher = _watchers[resolved] = ChangeWatcher(resolved)
    return watcher.start()


def watchers() -> list[ChangeWatcher]:
    """The watchers this process runs (for /metrics)."""
    with _lock:
        return list(_watchers.values())


def follow_changes(url: str | None,
                   callback: Callable[[Change], None | Awaitable[object]]) -> None:
    """Run `callback(change)` in the current session whenever the store changes."""
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        return  # not served (a test building a page): nobody to tell

    shown = False  # has a browser shown this session's page yet?
    missed: Change | None = None

    def run(change: Change) -> None:  # on the session's loop
        nonlocal missed
        if not shown:
            missed = change  # the newest only: callbacks compare it with what they show
            return
        with set_curdoc(doc):
            pn.state.execute(partial(callback, change))

    def loaded() -> None:
        nonlocal shown
        shown = True
        if missed is not None:
            run(missed)

    def deliver(change: Change) -> None:  # on the watcher's thread
        doc.add_next_tick_callback(partial(run, change))

    pn.state.onload(loaded)

    unsubscribe = process_watcher(url).subscribe(deliver)
    doc.on_session_destroyed(lambda _context: unsubscribe())
