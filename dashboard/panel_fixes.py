"""A workaround for a Panel 1.10.0 bug that loses a page update until the page's next change.

Panel queues a change it cannot write at once (the socket is busy sending the previous one) and
one task per document writes the queue (`panel.io.document._dispatch_msgs`). In 1.10.0 a batch
queued while that task awaits its write is left behind: the task ends with what it popped, and
the task started for the new batch finds the write block gone and returns without writing. The
browser then misses that change until something else changes on the page: a card still showed
"Active" after Disable (tests/ui/test_disabled_hint_ui.py failed so about 1 run in 10 on a busy
machine). Panel's main branch drains such batches (upstream test
`test_schedule_write_events_defers_and_orders_serialization` in panel/tests/io/test_document.py);
no release has it yet. Until one does, every dispatch that ends leaving a batch behind starts
another. tests/dashboard/test_panel_fixes.py pins both the bug and the version.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import panel as pn
from panel.io import document

BUGGY_RELEASE = "1.10.0"  # the newest release, with the bug; check newer ones and drop this module

_released: Callable[[Any], Awaitable[None]] = document._dispatch_msgs


async def _dispatch_msgs(doc: Any) -> None:
    """Panel's dispatch, then another one if a batch was queued and nobody will write it."""
    await _released(doc)
    if doc in document._WRITE_EVENTS and doc not in document._WRITE_BLOCK:
        document._WRITE_BLOCK[doc] = True
        document._dispatch_write_task(doc, _dispatch_msgs, doc)


def apply() -> None:
    """Install the drain (idempotent); only on the release known to need it."""
    if pn.__version__ == BUGGY_RELEASE:
        document._dispatch_msgs = _dispatch_msgs
