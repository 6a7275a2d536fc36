"""Workarounds for Panel 1.10.0: a lost page update, and design work done for every update.

**A lost update.** Panel queues a change it cannot write at once (the socket is busy sending
the previous one) and one task per document writes the queue
(`panel.io.document._dispatch_msgs`). In 1.10.0 a batch
queued while that task awaits its write is left behind: the task ends with what it popped, and
the task started for the new batch finds the write block gone and returns without writing. The
browser then misses that change until something else changes on the page: a card still showed
"Active" after Disable (tests/ui/test_disabled_hint_ui.py failed so about 1 run in 10 on a busy
machine). Panel's main branch drains such batches (upstream test
`test_schedule_write_events_defers_and_orders_serialization` in panel/tests/io/test_document.py);
no release has it yet. Until one does, every dispatch that ends leaving a batch behind starts
another.

**Design work on every update.** Every property a page changes (a pane's text, a widget's
visibility) is sent through `Reactive._update_properties`, which computes the component's design
modifiers (`Design.params`: its stylesheets, resolving their files on disk) and uses them only
when the change is to `stylesheets`. That was 15 % of a status filter's server CPU at 1M
connections (py-spy, bench/scale.py's sessions); it is now computed only for stylesheet changes,
with the same result.

tests/dashboard/test_panel_fixes.py pins both bugs and the version.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import panel as pn
from panel.io import document
from panel.reactive import Reactive

BUGGY_RELEASE = "1.10.0"  # the newest release, with the bug; check newer ones and drop this module

_released: Callable[[Any], Awaitable[None]] = document._dispatch_msgs


async def _dispatch_msgs(doc: Any) -> None:
    """Panel's dispatch, then another one if a batch was queued and nobody will write it."""
    await _released(doc)
    if doc in document._WRITE_EVENTS and doc not in document._WRITE_BLOCK:
        document._WRITE_BLOCK[doc] = True
        document._dispatch_write_task(doc, _dispatch_msgs, doc)


_released_update: Callable[..., dict[str, Any]] = Reactive._update_properties


def _update_properties(self: Reactive, *events: Any, doc: Any) -> dict[str, Any]:
    """Panel's, but the design's modifiers are computed only when stylesheets change."""
    if any(event.name == "stylesheets" for event in events):
        return _released_update(self, *events, doc=doc)
    return self._process_param_change({event.name: event.new for event in events})


def apply() -> None:
    """Install both fixes (idempotent); only on the release known to need them."""
    if pn.__version__ == BUGGY_RELEASE:
        document._dispatch_msgs = _dispatch_msgs
        Reactive._update_properties = _update_properties  # type: ignore[method-assign]
