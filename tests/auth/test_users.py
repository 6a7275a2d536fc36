"""Local users on both stores: hashes only, sign-in, throttling, sessions that expire."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from connmodel.errors import (
    AlreadyExists,
    AuthenticationFailed,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StateConflict,
    Throttled,
)
from connmodel.models import AuditEvent, LoginAttempt, User, UserSession, utcnow
from connmodel.permissions import Role
from connmodel.services import users
from connmodel.store import session


def test_password_is_stored_only_as_argon2_hash(db, admin):
    password = users.add_user(db, actor=admin, name="bob", role="viewer")
    stored = db.execute(select(User.password_hash).where(User.name == "bob")).scalar_one()
    assert password not in stored and stored.startswith("$argon2id$")
    token = users.sign_in(db, name="bob", password=password, address="10.0.0.1")
    assert users.actor_for_token(db, token).role == Role.VIEWER
    stored_tokens = db.execute(select(UserSession.token_hash)).scalars().all()
    assert token not in stored_tokens and len(stored_tokens) == 1


def test_wrong_password_and_unknown_user_get_the_same_answer(db, admin):
    users.add_user(db, actor=admin, name="bob", role="admin", password="correct horse battery")
    with pytest.raises(AuthenticationFailed, match="wrong user name or password"):
        users.sign_in(db, name="bob", password="wrong password!!", address="a")
    with pytest.raises(AuthenticationFailed, match="wrong user name or password"):
        users.sign_in(db, name="nobody", password="wrong password!!", address="a")
    refused = db.execute(select(AuditEvent).where(AuditEvent.outcome == "refused")).all()
    assert len(refused) == 2


def test_throttling_after_five_failures_per_user_and_per_address(db, admin):
    users.add_user(db, actor=admin, name="bob", role="admin", password="correct horse battery")
    for _ in range(users.MAX_FAILURES):
        with pytest.raises(AuthenticationFailed):
            users.sign_in(db, name="bob", password="guess guess guess", address="evil")
    # Even the right password is refused while throttled, from any address (per user) ...
    with pytest.raises(Throttled, match="try again in") as exc:
        users.sign_in(db, name="bob", password="correct horse battery", address="elsewhere")
    assert exc.value.retry_after > 0
    # ... and the address is throttled for every user name.
    with pytest.raises(Throttled):
        users.sign_in(db, name="carol", password="whatever whatever", address="evil")
    # Once the back-off has passed, the right password works.
    db.execute(update(LoginAttempt).values(at=utcnow() - timedelta(minutes=1)))
    db.commit()
    assert users.sign_in(db, name="bob", password="correct horse battery", address="elsewhere")


def _answer(db, name: str, password: str, address: str) -> int:
    """The HTTP status /login gives this attempt (200 for a success)."""
    try:
        users.sign_in(db, name=name, password=password, address=address)
    except AuthenticationFailed:
        return 401
    except Throttled:
        return 429
    return 200


def test_a_spray_is_throttled_however_often_someone_signs_in_from_the_same_address(db, admin):
    """Issue 16: 40 wrong guesses over 10 user names from one address, a viewer signing in
    from it every 4th attempt. A success cleared the address's failures: none was throttled."""
    viewer_password = users.add_user(db, actor=admin, name="vera", role="viewer")
    guesses, signed_in = [], []
    for i in range(40):
        if i % 3 == 0:
            signed_in.append(_answer(db, "vera", viewer_password, "198.51.100.7"))
        guesses.append(_answer(db, f"user{i % 10}", "Summer2026!!", "198.51.100.7"))
    assert guesses == [401] * users.MAX_FAILURES + [429] * (40 - users.MAX_FAILURES)
    assert signed_in[:2] == [200, 200] and set(signed_in[2:]) == {429}


def test_a_names_failures_count_across_addresses_and_its_own_successes(sqlite_url, admin):
    """The same query on both stores as the spray above: SQLite alone keeps the suite short."""
    with session(sqlite_url) as db:
        password = users.add_user(db, actor=admin, name="bob", role="admin")
        answers = []
        for i in range(users.MAX_FAILURES + 1):
            if i == 2:
                assert _answer(db, "bob", password, "203.0.113.1") == 200
            answers.append(_answer(db, "bob", "guess guess guess", f"192.0.2.{i}"))
    assert answers == [401] * users.MAX_FAILURES + [429]


def test_sessions_expire_and_end(db, admin):
    password = users.add_user(db, actor=admin, name="bob", role="admin")
    token = users.sign_in(db, name="bob", password=password, address="a")
    assert users.actor_for_token(db, token).name == "bob"
    assert users.actor_for_token(db, "forged-token") is None
    assert users.actor_for_token(db, None) is None
    db.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.commit()
    assert users.actor_for_token(db, token) is None
    token = users.sign_in(db, name="bob", password=password, address="a")
    users.sign_out(db, token)
    assert users.actor_for_token(db, token) is None


def test_new_password_ends_sessions(db, admin):
    old = users.add_user(db, actor=admin, name="bob", role="admin")
    token = users.sign_in(db, name="bob", password=old, address="a")
    new = users.set_password(db, actor=admin, name="bob")
    assert users.actor_for_token(db, token) is None
    with pytest.raises(AuthenticationFailed):
        users.sign_in(db, name="bob", password=old, address="b")
    assert users.sign_in(db, name="bob", password=new, address="b")


@pytest.mark.parametrize(
    ("name", "role", "password", "message"),
    [
        ("", "admin", None, "user name is empty"),
        ("x" * 10_000, "admin", None, "at most 100"),
        ("<img src=x onerror=alert(1)>", "admin", None, "markup"),
        ("bob", "root", None, "unknown role 'root'"),
        ("bob", "admin", "short", "too short"),
        ("bob", "admin", "x" * 10_000, "too long"),
    ],
)
def test_bad_user_input_is_refused_and_nothing_is_written(db, admin, name, role, password, message):
    with pytest.raises(InvalidInput, match=message):
        users.add_user(db, actor=admin, name=name, role=role, password=password)
    assert db.execute(select(User)).first() is None


def test_duplicates_and_viewers_are_refused(db, admin, viewer):
    users.add_user(db, actor=admin, name="bob", role="viewer")
    with pytest.raises(AlreadyExists):
        users.add_user(db, actor=admin, name="bob", role="viewer")
    with pytest.raises(PermissionDenied):
        users.add_user(db, actor=viewer, name="mallory", role="admin")
    assert users.list_users(db, actor=admin) == [("bob", "viewer", False)]


def test_first_admin_only_on_an_empty_user_table(db):
    password = users.ensure_first_admin(db)
    assert password and len(password) >= 20
    assert users.ensure_first_admin(db) is None
    token = users.sign_in(db, name="admin", password=password, address="127.0.0.1")
    assert users.actor_for_token(db, token).role == Role.ADMIN


def test_a_refused_action_is_audited_with_what_was_attempted(demo_url, viewer):
    from connmodel.errors import PermissionDenied as Denied
    from connmodel.models import Connection
    from connmodel.services.connections import revoke_connection

    with session(demo_url) as s:
        target = s.execute(select(Connection.id)).scalars().first()
    with pytest.raises(Denied, match="victor \\(viewer\\) may not write"), session(demo_url) as s:
        revoke_connection(s, actor=viewer, connection_id=target)
    with session(demo_url) as s:
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "denied")).scalar_one()
        live = s.execute(select(Connection.revoked_at).where(Connection.id == target)).scalar_one()
    assert (event.actor, event.target) == ("victor", "revoke_connection")
    assert event.outcome.startswith("refused:") and live is None


def _end_sign_in(s, how: str, admin, sign_out, name: str = "ann") -> str:
    """End `name`'s sign-in the way `how` says; return what the refusal must say."""
    if how == "sign-out":
        sign_out()
    elif how == "expiry":
        s.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    elif how == "disable":
        users.set_disabled(s, actor=admin, name=name)
    else:
        users.set_role(s, actor=admin, name=name, role="viewer")
        return f"{name} is now a viewer"
    return f"{name} is no longer signed in"


@pytest.mark.parametrize("how", ["sign-out", "expiry", "disable", "demotion"])
def test_a_write_is_checked_against_the_sign_in_as_it_is_now(demo_url, admin, how):
    """Issue 16: the actor a page holds was fixed when the page opened, so it kept writing
    after its user signed out, expired, was disabled or demoted."""
    from connmodel.errors import SignInEnded
    from connmodel.models import Connection
    from connmodel.services.connections import revoke_connection

    with session(demo_url) as s:
        password = users.add_user(s, actor=admin, name="ann", role="admin")
        users.add_user(s, actor=admin, name="root", role="admin")
        token = users.sign_in(s, name="ann", password=password, address="a")
        ann = users.actor_for_token(s, token)
        first, target = s.execute(select(Connection.id).limit(2)).scalars().all()
        revoke_connection(s, actor=ann, connection_id=first)
        refusal = _end_sign_in(s, how, admin, lambda: users.sign_out(s, token))
    with pytest.raises(SignInEnded, match=f"{refusal}.*nothing was changed; sign in again"), \
            session(demo_url) as s:
        revoke_connection(s, actor=ann, connection_id=target)
    with session(demo_url) as s:
        denied = s.execute(select(AuditEvent).where(AuditEvent.action == "denied")).scalar_one()
        live = s.execute(select(Connection.revoked_at).where(Connection.id == target)).scalar_one()
    assert (denied.actor, denied.target, live) == ("ann", "revoke_connection", None)
    assert denied.outcome.startswith(f"refused: {refusal}")


def test_the_last_enabled_admin_cannot_be_demoted_or_disabled(db, admin):
    users.add_user(db, actor=admin, name="ann", role="admin")
    with pytest.raises(StateConflict, match="ann is the last enabled admin"):
        users.set_role(db, actor=admin, name="ann", role="viewer")
    with pytest.raises(StateConflict, match="ann is the last enabled admin"):
        users.set_disabled(db, actor=admin, name="ann")
    users.add_user(db, actor=admin, name="root", role="admin")
    users.set_disabled(db, actor=admin, name="ann")
    users.set_disabled(db, actor=admin, name="ann", disabled=False)
    users.set_role(db, actor=admin, name="ann", role="viewer")
    assert users.list_users(db, actor=admin) == [("ann", "viewer", False), ("root", "admin", False)]


@pytest.mark.parametrize("how", ["sign-out", "expiry", "disable", "demotion"])
def test_an_identity_provider_sign_in_is_checked_as_it_is_now(demo_url, admin, how):
    """Issue 16 for OIDC: the dashboard made the actor of an OIDC page from the sign-in cookie
    and CONNMODEL_OIDC_ADMINS when the page opened, with no session in the store, so nothing
    (sign-out, expiry, disabling, demotion) could end an open page's write power."""
    from connmodel.errors import SignInEnded
    from connmodel.models import Connection
    from connmodel.services.connections import revoke_connection

    key = users.external_key("signed-cookie-value|1")
    with session(demo_url) as s:
        users.add_user(s, actor=admin, name="root", role="admin")
        ann = users.external_sign_in(s, name="ann@example.com", key=key, admin=True)
        assert (ann.name, ann.role) == ("ann@example.com", Role.ADMIN)
        assert users.external_sign_in(s, name="ann@example.com", key=key, admin=True) == ann
        with pytest.raises(AuthenticationFailed):  # no password opens an OIDC user
            users.sign_in(s, name="ann@example.com", password=users.NO_PASSWORD, address="a")
        first, target = s.execute(select(Connection.id).limit(2)).scalars().all()
        revoke_connection(s, actor=ann, connection_id=first)
        refusal = _end_sign_in(s, how, admin, lambda: users.end_external_session(s, key),
                               name="ann@example.com")
    with pytest.raises(SignInEnded, match=f"{refusal}.*nothing was changed"), \
            session(demo_url) as s:
        revoke_connection(s, actor=ann, connection_id=target)
    with session(demo_url) as s:
        live = s.execute(select(Connection.revoked_at).where(Connection.id == target)).scalar_one()
        denied = s.execute(select(AuditEvent).where(AuditEvent.action == "denied")).scalar_one()
        # the same cookie does not open an ended sign-in again
        again = users.external_sign_in(s, name="ann@example.com", key=key, admin=True)
    assert (live, denied.actor, denied.target) == (None, "ann@example.com", "revoke_connection")
    assert (again.role if again else None) == ("viewer" if how == "demotion" else None)


def test_an_identity_provider_sign_in_takes_its_role_from_the_deployment_and_audits(db, admin):
    users.add_user(db, actor=admin, name="root", role="admin")
    vic = users.external_sign_in(db, name="vic@example.com", key=users.external_key("a"),
                                 admin=False)
    assert vic.role == Role.VIEWER
    again = users.external_sign_in(db, name="vic@example.com", key=users.external_key("b"),
                                   admin=True)  # a new sign-in: CONNMODEL_OIDC_ADMINS decides
    assert again.role == Role.ADMIN
    users.set_disabled(db, actor=admin, name="vic@example.com")
    assert users.external_sign_in(db, name="vic@example.com", key=users.external_key("c"),
                                  admin=True) is None
    events = db.execute(select(AuditEvent.actor, AuditEvent.outcome)
                        .where(AuditEvent.action == "sign-in")).all()
    assert events == [("vic@example.com", "ok"), ("vic@example.com", "ok"),
                      ("vic@example.com", "refused: user disabled")]


def test_acting_user_is_a_user_with_their_role_now(db, admin):
    """The explore notebook's `actor`: a user by name, as their role is in the store."""
    users.add_user(db, actor=admin, name="adam", role="admin")
    users.add_user(db, actor=admin, name="vera", role="viewer")
    assert users.acting_user(db, " vera ") == users.Actor("vera", Role.VIEWER)
    users.set_role(db, actor=admin, name="vera", role="admin")
    assert users.acting_user(db, "vera").role == Role.ADMIN
    users.set_disabled(db, actor=admin, name="vera")
    with pytest.raises(PermissionDenied, match="disabled"):
        users.acting_user(db, "vera")
    with pytest.raises(NotFound, match="no user named 'nobody'"):
        users.acting_user(db, "nobody")
