"""Panel 1.10.0 strands a page update queued just as the previous one is written; the fix drains it.

Panel's own queue (`schedule_write_events`, `_dispatch_msgs`) runs for real here; only the
socket write is replaced, by a future the test completes, since no browser is connected.
"""

import asyncio
from types import SimpleNamespace

import panel as pn
import pytest
from bokeh.document import Document
from panel.io import document

from dashboard import panel_fixes


def written_batches(monkeypatch, run_async, dispatch) -> list[list[str]]:
    """Queue a change, finish writing it, queue a second one at once: what reaches the socket."""
    monkeypatch.setattr(document, "_dispatch_msgs", dispatch)

    async def run() -> list[list[str]]:
        written, writes = [], []

        def write_events(doc, connections, events, run=True):
            written.append(events)
            writes.append(asyncio.get_running_loop().create_future())
            return [writes[-1]]

        monkeypatch.setattr(document, "write_events", write_events)
        doc, conn = Document(), SimpleNamespace(_socket=SimpleNamespace())  # no write lock
        document.schedule_write_events(doc, [conn], ["first"])
        for _ in range(3):
            await asyncio.sleep(0)
        writes[0].set_result(None)  # the socket took the first change; its dispatcher resumes next
        document.schedule_write_events(doc, [conn], ["second"])
        for _ in range(20):
            await asyncio.sleep(0)
            for write in writes:
                if not write.done():
                    write.set_result(None)
        return written

    return run_async(run())


def test_the_released_dispatch_strands_the_second_change(monkeypatch, run_async):
    if pn.__version__ != panel_fixes.BUGGY_RELEASE:
        pytest.fail(f"Panel {pn.__version__}: check whether it drains late batches (Panel's main "
                    "does) and drop dashboard/panel_fixes.py if so")
    assert written_batches(monkeypatch, run_async, panel_fixes._released) == [["first"]]


def test_with_the_fix_both_changes_reach_the_browser(monkeypatch, run_async):
    assert written_batches(monkeypatch, run_async,
                           panel_fixes._dispatch_msgs) == [["first"], ["second"]]
