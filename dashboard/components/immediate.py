"""Filter widgets whose change is handled at once, not 50 ms later.

Panel handles a property change from the browser after a 50 ms timeout (`Syncable._debounce`),
so that a burst (a slider dragged, a box resized) becomes one callback. A select's choice and a
text box's committed value (Enter, or leaving it) come once per act: the timeout only added
50 ms to every filter change, a third of a status filter's time at 1M connections
(bench/scale.py). Panel's own Tabulator exempts its `data` and `filters` the same way
(`_priority_changes`: the change is scheduled on the loop's next turn instead).
tests/dashboard/test_immediate.py fails if Panel stops honouring it.
"""

from typing import ClassVar

import panel as pn


class Select(pn.widgets.Select):
    _priority_changes: ClassVar[list[str]] = ["value"]


class TextInput(pn.widgets.TextInput):
    _priority_changes: ClassVar[list[str]] = ["value"]
