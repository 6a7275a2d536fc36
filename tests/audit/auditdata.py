"""The audited store's contents: the seed page's demo data, a small generated gateway, and a
few rows that give each audit question an answer (and user text carrying markup)."""

from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet
from sqlalchemy import insert, select, update

from connmodel.models import AuditEvent, CheckResult, Connection, Profile, ProviderConfig
from connmodel.permissions import Actor, Role
from connmodel.secrets import KeyRing
from connmodel.services.connections import revoke_connection
from connmodel.services.demo import seed_demo
from connmodel.services.generate import generate
from connmodel.services.profiles import create_profile
from connmodel.store import session

NOW = datetime.now(UTC).replace(microsecond=0)
ALICE = Actor("alice", Role.ADMIN)
BOB = Actor("bob", Role.ADMIN)
VIEWER = Actor("victor", Role.VIEWER)
MARKUP = '<img src=x onerror="document.title=\'pwned\'">'


def seed_audit_store(url: str) -> dict[str, int]:
    """Demo + 600 generated connections + hand-made cases; returns the ids the tests name."""
    keyring = KeyRing((Fernet.generate_key(),), "test")
    with session(url) as s:
        seed_demo(s, actor=ALICE, keyring=keyring)
        generate(s, actor=ALICE, connections=600, profiles=12, seed=7, keyring=keyring, now=NOW)
    with session(url) as s:
        api_key = s.execute(select(ProviderConfig.id).where(
            ProviderConfig.name == "API Key Authentication Provider")).scalar_one()
        create_profile(s, actor=ALICE, name="Forgotten", environment="dev",
                       provider_config_id=api_key)
        create_profile(s, actor=ALICE, name="Prod Unwatched", environment="production",
                       provider_config_id=api_key)
        s.commit()
        github = s.execute(select(Connection.id).join(Profile).where(
            Profile.name == "GitHub Staging")).scalar_one()
        # Error since 3 days ago: an Error run after an Active check; an older Error before it.
        s.execute(insert(CheckResult), [
            {"connection_id": github, "at": NOW - timedelta(days=9), "status": "Error"},
            {"connection_id": github, "at": NOW - timedelta(days=5), "status": "Active"},
            {"connection_id": github, "at": NOW - timedelta(days=3), "status": "Error"},
            {"connection_id": github, "at": NOW - timedelta(days=1), "status": "Error"},
        ])
        # An account and a reason written by a provider: user-controlled text with markup.
        s.execute(update(Connection).where(Connection.id == github).values(
            status_reason=f"invalid_grant {MARKUP} | *bold* `tick`", account=f"ci{MARKUP}@x"))
        s.commit()
        live = s.execute(select(Connection.id).where(Connection.revoked_at.is_(None))
                         .order_by(Connection.id.desc()).limit(3)).scalars().all()
    for cid in live[:2]:
        with session(url) as s:
            revoke_connection(s, actor=BOB, connection_id=cid)
    with session(url) as s:
        s.execute(insert(AuditEvent).values(at=NOW - timedelta(days=2), actor="alice",
                                            action="reauthorize", target="connection 1",
                                            outcome="ok; servers: unchanged"))
        s.execute(insert(AuditEvent).values(at=NOW - timedelta(days=2), actor="alice",
                                            action="reauthorize", target="connection 1",
                                            outcome="failed: invalid_grant"))
        s.commit()
    return {"github": github}


