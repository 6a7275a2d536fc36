"""Gateway → API tokens over a real store: the list (never a token), Revoke for admins only."""

from sqlalchemy import select

from connmodel.models import AuditEvent
from connmodel.services.tokens import add_token
from connmodel.store import session
from dashboard.pages.tokens import token_rows
from dashboard.viewmodels.backend import Backend
from dashboard.viewmodels.tokens import TokensModel

AMP = 'ops & "co"'


def test_admins_list_and_revoke_tokens_that_are_never_shown(sqlite_url, admin, run_async,
                                                             settled):
    with session(sqlite_url) as s:
        secret = add_token(s, actor=admin, name="gateway", scope="broker")
        add_token(s, actor=admin, name=AMP, scope="read")
    model = TokensModel(Backend(admin, sqlite_url))
    run_async(model.refresh())
    assert [(t.name, t.scope) for t in model.tokens] == [("gateway", "broker"), (AMP, "read")]
    cells = [cell for row in token_rows(model.tokens) for cell in row]
    assert secret not in "".join(cells) and AMP in cells  # plain values, written as text
    model.chosen = "gateway"
    model.ask_revoke()
    assert model.confirming == "gateway" and model.live_names == ["gateway", AMP]  # asked only
    run_async(model.revoke())
    assert model.message.startswith("Token gateway (broker) revoked") and not model.error
    assert model.confirming == ""
    assert model.live_names == [AMP]

    async def show_revoked() -> None:
        model.include_revoked = True
        await settled()

    run_async(show_revoked())
    assert [t.revoked_by for t in model.tokens] == ["alice", None]


def test_a_viewer_cannot_revoke_and_the_refusal_is_audited(sqlite_url, admin, viewer, run_async):
    with session(sqlite_url) as s:
        add_token(s, actor=admin, name="gateway", scope="admin")
    model = TokensModel(Backend(viewer, sqlite_url))
    run_async(model.refresh())
    assert not model.can_revoke
    model.chosen = "gateway"
    model.ask_revoke()
    run_async(model.revoke())
    assert model.error and "may not write" in model.message
    assert model.live_names == ["gateway"]
    with session(sqlite_url) as s:
        denied = s.scalars(select(AuditEvent).where(AuditEvent.action == "denied")).one()
    assert (denied.actor, denied.target) == ("victor", "revoke_token")


def test_revoke_asks_first_and_a_cancel_or_another_choice_changes_nothing(sqlite_url, admin,
                                                                          run_async):
    with session(sqlite_url) as s:
        add_token(s, actor=admin, name="gateway", scope="broker")
        add_token(s, actor=admin, name="ci", scope="read")
    model = TokensModel(Backend(admin, sqlite_url))
    run_async(model.refresh())
    model.ask_revoke()
    assert (model.confirming, model.error) == ("", True)
    assert model.message == "Choose a token to revoke."
    model.chosen = "gateway"
    model.ask_revoke()
    assert (model.confirming, model.message, model.error) == ("gateway", "", False)
    model.cancel_revoke()
    assert model.confirming == ""
    run_async(model.revoke())  # a Confirm after the question is answered: nothing
    assert (model.live_names, model.error) == (["ci", "gateway"], False)
    model.ask_revoke()
    model.chosen = "ci"  # the question named another token
    assert model.confirming == ""
    run_async(model.refresh())
    assert model.live_names == ["ci", "gateway"]
