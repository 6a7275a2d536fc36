"""State of Gateway → API tokens: the tokens of `connmodel api` (never the tokens themselves),
and Revoke for admins. Issuing a token stays in the CLI, which can print it once to its owner.

Its service calls run in a worker thread (`Backend.aread` / `acall`), applied on the loop. The
list follows the store (`catch_up`): a token revoked elsewhere (the CLI, the API, another page)
leaves it, and a Revoke awaiting confirmation for it is dropped, saying why."""

from typing import Any

import param

from connmodel.changes import Change
from connmodel.errors import ConnModelError
from connmodel.models import ApiTokenPublic
from connmodel.services.tokens import list_tokens, revoke_token
from dashboard.viewmodels.backend import Backend
from dashboard.viewmodels.catch_up import CatchUp


class TokensModel(param.Parameterized):
    """The token list, the one chosen for Revoke, and what the last action said."""

    include_revoked = param.Boolean(default=False, doc="Also list revoked tokens.")
    tokens = param.List(item_type=ApiTokenPublic, doc="The tokens shown, by name.")
    chosen = param.String(default="", doc="The live token Revoke acts on ('' for none).")
    confirming = param.String(default="", doc="The token whose Revoke awaits confirmation "
                                              "('' when none does).")
    message = param.String(default="", doc="The outcome of the last action (plain text).")
    error = param.Boolean(default=False, doc="Whether `message` reports a failure.")

    def __init__(self, backend: Backend, **params: Any) -> None:
        super().__init__(**params)
        self.backend = backend
        self._catch_up = CatchUp(self.refresh)

    @property
    def can_revoke(self) -> bool:
        return self.backend.can_write

    @property
    def live_names(self) -> list[str]:
        return [t.name for t in self.tokens if t.revoked_at is None]

    @param.depends("include_revoked", watch=True)
    async def refresh(self) -> None:
        include_revoked = self.include_revoked
        try:
            tokens = await self.backend.aread(list_tokens, include_revoked=include_revoked)
        except ConnModelError as exc:
            self.param.update(tokens=[], message=str(exc), error=True)
            return
        if include_revoked == self.include_revoked:  # else the newer choice's list comes
            self._forget_revoked_choice(tokens)
            self.tokens = tokens

    def _forget_revoked_choice(self, tokens: list[ApiTokenPublic]) -> None:
        """The token chosen for Revoke was revoked meanwhile: no longer offered, nor asked
        (before the list is shown, whose choices no longer hold it)."""
        if not self.chosen or any(t.name == self.chosen and t.revoked_at is None for t in tokens):
            return
        if self.confirming == self.chosen:
            self.param.update(message=f"API token {self.chosen} was revoked elsewhere "
                                      "meanwhile: nothing to confirm.", error=False)
        self.chosen = ""

    async def catch_up(self, change: Change) -> None:
        """The store changed elsewhere: read the list again (an outage shows at the next
        action; this page has no list to keep up while the store is down)."""
        if change.error is None:
            await self._catch_up()

    @param.depends("chosen", watch=True)
    def _chosen_changed(self) -> None:
        self.confirming = ""  # a confirmation is for the token it named

    def ask_revoke(self) -> None:
        """Revoke's first step: ask to confirm, naming the token, as a connection's Revoke does
        (nothing is changed until `revoke`)."""
        if self._none_chosen():
            return
        self.param.update(confirming=self.chosen, message="", error=False)

    def _none_chosen(self) -> bool:
        """True (and the page says so) when no token is chosen for Revoke."""
        if not self.chosen:
            self.param.update(message="Choose a token to revoke.", error=True)
        return not self.chosen

    def cancel_revoke(self) -> None:
        self.confirming = ""

    async def revoke(self) -> None:
        """Revoke the token the pending confirmation names (the service checks the role and
        audits a refusal). None pending, nothing: a double click on Confirm revoke sent a second
        revoke before the first hid the button, whose "already revoked" error replaced the
        first one's outcome."""
        name, self.confirming = self.confirming, ""
        if not name:
            return
        try:
            done = await self.backend.acall(revoke_token, name=name)
        except ConnModelError as exc:
            self.param.update(message=str(exc), error=True)
        else:
            self.param.update(message=f"Token {done.name} ({done.scope}) revoked: the API "
                                      "refuses it from its next request.", error=False)
        self.chosen = ""
        await self.refresh()
