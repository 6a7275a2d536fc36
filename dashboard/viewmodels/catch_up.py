"""Following the store's changes on a page: one re-read in flight, and one more after it."""

from collections.abc import Awaitable, Callable


class CatchUp:
    """Runs `read` for each change of the store, never two at once: changes that come while
    it reads are caught up by one more read after it.

    A read per change, each dropping the one before (the newest input wins), shows nothing
    while changes come faster than a screen is read (other pages revoking one after another):
    the page kept its old rows, and its spinner, until the stream stopped.
    """

    def __init__(self, read: Callable[[], Awaitable[None]]) -> None:
        self._read = read
        self._reading = False
        self._behind = False

    async def __call__(self) -> None:
        self._behind = True
        if self._reading:  # the read in flight is shown, then one more is made
            return
        self._reading = True
        try:
            while self._behind:
                self._behind = False
                await self._read()
        finally:
            self._reading = False
