"""dashboard.components.immediate: a filter's change is handled on the loop's next turn, not
after Panel's 50 ms debounce (bench/scale.py: a status filter at 1M went from ~130 to ~35 ms).

The widgets are rendered into a document of a server session (Bokeh's own session context, no
server running); a value set on their Bokeh model, as a browser's patch sets it, schedules
Panel's handler. Fails if Panel stops honouring `_priority_changes`.
"""

import weakref

import panel as pn
import pytest
from bokeh.application import Application
from bokeh.document import Document
from bokeh.server.contexts import ApplicationContext, BokehSessionContext

from dashboard.components import immediate


def scheduled_by_a_change(widget: pn.widgets.Widget, value: str) -> list[str]:
    """The kinds of session callbacks a browser's change of `value` schedules."""
    doc = Document()
    context = BokehSessionContext("session", ApplicationContext(Application()).server_context, doc)
    doc._session_context = weakref.ref(context)  # what Bokeh's ServerSession sets
    model = widget.get_root(doc)
    before = set(doc.session_callbacks)
    model.value = value
    return sorted(type(c).__name__ for c in set(doc.session_callbacks) - before)


@pytest.mark.parametrize(("ours", "panels", "options"), [
    (immediate.Select, pn.widgets.Select, {"options": ["", "Error"]}),
    (immediate.TextInput, pn.widgets.TextInput, {}),
], ids=["select", "text"])
def test_a_filter_change_is_handled_on_the_next_turn_not_after_a_timeout(ours, panels, options):
    assert scheduled_by_a_change(ours(**options), "Error") == ["NextTickCallback"]
    # Panel's own widget waits (if it stops, dashboard.components.immediate can go)
    assert scheduled_by_a_change(panels(**options), "Error") == ["TimeoutCallback"]
