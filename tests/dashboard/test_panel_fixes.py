"""Panel 1.10.0 strands a page update queued just as the previous one is written; the fix drains it.

Panel's own queue (`schedule_write_events`, `_dispatch_msgs`) runs for real here; only the
socket write is replaced, by a future the test completes, since no browser is connected.
"""

import asyncio
from types import SimpleNamespace

import panel as pn
import param
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


def design_work(update, change: dict[str, object]) -> tuple[dict[str, object], int]:
    """What an update of a rendered pane sends to the browser, and how often it asked its design."""
    pane = pn.pane.Markdown("before", stylesheets=[":host { color: red; }"])
    doc = Document()
    pane.get_root(doc)
    design, asked = pane._design, []
    released_params = type(design).params

    def params(self, viewable, doc=None):
        asked.append(viewable)
        return released_params(self, viewable, doc)

    events = [param.parameterized.Event(what="value", name=name, obj=pane, cls=type(pane),
                                        old=None, new=new, type="changed")
              for name, new in change.items()]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(type(design), "params", params)
        sent = update(pane, *events, doc=doc)
    return sent, len(asked)


@pytest.mark.parametrize("change", [{"object": "after"}, {"visible": False},
                                    {"stylesheets": [":host { color: blue; }"]}],
                         ids=["text", "visibility", "stylesheets"])
def test_an_update_asks_the_design_only_for_stylesheets_and_sends_the_same(change):
    released, asked_released = design_work(panel_fixes._released_update, change)
    fixed, asked_fixed = design_work(panel_fixes._update_properties, change)
    def comparable(sent):  # stylesheet models by their URL: each run has its own model ids
        return {k: [getattr(x, "url", x) for x in v] if k == "stylesheets" else v
                for k, v in sent.items()}

    assert comparable(fixed) == comparable(released)
    assert asked_released == 1  # Panel 1.10.0 asks for every update
    assert asked_fixed == (1 if "stylesheets" in change else 0)
