"""Provider configs and profiles: create them, and list profiles with counts by status."""

from typing import Any

from sqlalchemy import ColumnElement, String, func, select
from sqlmodel import Session, col

from connmodel.errors import AlreadyExists, InvalidInput, NotFound
from connmodel.models import (
    DEFAULT_PROFILE_DESCRIPTION,
    Connection,
    Profile,
    ProfileCard,
    ProfilePublic,
    ProviderConfig,
    ProviderConfigPublic,
)
from connmodel.paging import MAX_LIMIT, Page, SortKey, capped_count, keyset_page
from connmodel.permissions import Action, Actor, require
from connmodel.search import like_pattern
from connmodel.secrets import KeyRing
from connmodel.services.connections import ConnectionFilter, list_connections
from connmodel.services.events import record
from connmodel.services.groups import PROFILE_NAME_KEY, profile_order
from connmodel.services.keys import sealing_ring
from connmodel.status import ProviderKind, Status, parse_environment
from connmodel.store import flush_unique
from connmodel.validation import clean_name, clean_text


def refuse_taken_profile_name(session: Session, name: str) -> None:
    """AlreadyExists when a profile has this name in any case, naming the one that does."""
    taken = session.execute(select(col(Profile.name)).where(
        PROFILE_NAME_KEY == func.lower(name, type_=String))).scalar()
    if taken is None:
        return
    if taken == name:
        raise AlreadyExists(f"a profile named {name!r} exists")
    raise AlreadyExists(f"a profile named {taken!r} exists (profile names ignore case): "
                        "choose another name")


# How each kind is named in the seeded provider configs ("API Key Authentication Provider"):
# the Service column shows a provider config's name, "the auth provider type used".
KIND_LABELS = {ProviderKind.NONE.value: "No Authentication",
               ProviderKind.API_KEY.value: "API Key Authentication",
               ProviderKind.OAUTH2.value: "OAuth2",
               ProviderKind.CLIENT_CREDENTIALS.value: "OAuth2 Client Credentials"}


def default_provider_name(profile: str, kind: str) -> str:
    """The name a new profile's own provider config gets when none is given: the profile's,
    then its kind as the seeded configs say it ("Twilio API Key Authentication Provider"),
    so that its connections' Service reads like theirs."""
    return f"{profile.strip()} {KIND_LABELS.get(kind, kind)} Provider"


def create_provider_config(
    session: Session,
    *,
    actor: Actor,
    name: str,
    kind: str,
    settings: dict[str, Any] | None = None,
    client_secret: str | None = None,
    keyring: KeyRing | None = None,
) -> ProviderConfig:
    """Add a provider config; the client secret (if any) is encrypted with `keyring`."""
    require(actor, Action.WRITE, session)
    name = clean_name(name, "provider config name")
    try:
        kind = ProviderKind(kind).value
    except ValueError:
        raise InvalidInput(
            f"unknown provider kind {kind!r}: choose one of {', '.join(ProviderKind)}"
        ) from None
    exists = select(col(ProviderConfig.id)).where(col(ProviderConfig.name) == name)
    if session.execute(exists).first():
        raise AlreadyExists(f"a provider config named {name!r} exists")
    if client_secret and keyring is None:
        raise InvalidInput("a client secret needs the secret key to be stored")
    config = ProviderConfig(
        name=name,
        kind=kind,
        settings=settings or {},
        client_secret_enc=(sealing_ring(session, keyring).encrypt(client_secret)
                           if client_secret and keyring else None),
    )
    session.add(config)
    flush_unique(session, f"a provider config named {name!r} exists")
    record(session, actor=actor, action="provider.create", target=f"provider config {name}")
    return config


def create_profile(
    session: Session,
    *,
    actor: Actor,
    name: str,
    provider_config_id: int,
    environment: str = "dev",
    description: str = DEFAULT_PROFILE_DESCRIPTION,
) -> Profile:
    """Add a profile using an existing provider config."""
    require(actor, Action.WRITE, session)
    name = clean_name(name, "profile name")
    env = parse_environment(environment).value
    if session.get(ProviderConfig, provider_config_id) is None:
        raise InvalidInput(f"no provider config with id {provider_config_id}")
    refuse_taken_profile_name(session, name)
    profile = Profile(
        name=name,
        environment=env,
        provider_config_id=provider_config_id,
        description=clean_text(description, "description") or DEFAULT_PROFILE_DESCRIPTION,
    )
    session.add(profile)
    flush_unique(session, f"a profile named {name!r} exists")
    record(session, actor=actor, action="profile.create", target=f"profile {name} ({env})")
    return profile


def status_counts(session: Session, profile_ids: list[int]) -> dict[int, dict[str, int]]:
    """Live connections per profile and status, for the given profiles only."""
    counts: dict[int, dict[str, int]] = {pid: {s.value: 0 for s in Status} for pid in profile_ids}
    if not profile_ids:
        return counts
    rows = session.execute(
        select(col(Connection.profile_id), col(Connection.status), func.count())
        .where(col(Connection.revoked_at).is_(None), col(Connection.profile_id).in_(profile_ids))
        .group_by(col(Connection.profile_id), col(Connection.status))
    ).all()
    for pid, status, n in rows:
        counts[pid][status] = n
    return counts


def list_profiles(
    session: Session,
    *,
    actor: Actor,
    environment: str | None = None,
    name_contains: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[ProfilePublic]:
    """Profiles by name (ignoring case), keyset-paged, each with its provider and live counts
    by status."""
    require(actor, Action.READ)
    conds: list[ColumnElement[bool]] = []
    if environment:
        conds.append(col(Profile.environment) == parse_environment(environment).value)
    if name_contains and name_contains.strip():
        pattern = like_pattern(name_contains.strip())
        conds.append(col(Profile.name).ilike(pattern, escape="\\"))
    stmt = (
        select(PROFILE_NAME_KEY, col(Profile.id), Profile, col(ProviderConfig.name),
               col(ProviderConfig.kind))
        .join(ProviderConfig, col(ProviderConfig.id) == col(Profile.provider_config_id))
        .where(*conds)
    )
    rows, next_cursor = keyset_page(session, stmt, key=profile_order(), cursor=cursor,
                                    limit=limit)
    total, exact = capped_count(session, select(col(Profile.id)).where(*conds))
    counts = status_counts(session, [r[1] for r in rows])
    items = [
        ProfilePublic(id=p.id, name=p.name, description=p.description, environment=p.environment,
                      provider=prov, provider_kind=kind, counts=counts[p.id])
        for _, _, p, prov, kind in rows
    ]
    return Page(items, next_cursor, total, exact)


def list_provider_configs(
    session: Session,
    *,
    actor: Actor,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[ProviderConfigPublic]:
    """Provider configs by name, keyset-paged: what a profile can reuse (name and kind only)."""
    require(actor, Action.READ)
    stmt = select(col(ProviderConfig.name), col(ProviderConfig.id), col(ProviderConfig.kind))
    key = SortKey(ProviderConfig.name, ProviderConfig.id)  # type: ignore[arg-type]
    rows, next_cursor = keyset_page(session, stmt, key=key, cursor=cursor, limit=limit)
    total, exact = capped_count(session, select(col(ProviderConfig.id)))
    return Page([ProviderConfigPublic(id=i, name=n, kind=k) for n, i, k in rows], next_cursor,
                total, exact)


def provider_config_id_by_name(session: Session, name: str) -> int:
    """The id of the provider config called `name`; NotFound (naming the choices) otherwise."""
    name = clean_name(name, "provider config name")
    pid: int | None = session.execute(
        select(col(ProviderConfig.id)).where(col(ProviderConfig.name) == name)
    ).scalar_one_or_none()
    if pid is None:
        known = session.execute(
            select(col(ProviderConfig.name)).order_by(col(ProviderConfig.name)).limit(20)
        ).scalars().all()
        choices = "; ".join(known) if known else "none yet: add one with `connmodel provider add`"
        raise NotFound(f"no provider config named {name!r} (known: {choices})")
    return pid


def profile_cards(
    session: Session,
    *,
    actor: Actor,
    environment: str | None = None,
    per_profile: int = 10,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[ProfileCard]:
    """One page of profiles (by name, keyset-paged), each with its first `per_profile` live
    connections (by id) and its counts.

    A gateway may hold thousands of profiles and 100k connections in one: a page of cards costs
    `limit` small reads whatever the totals, and the counts say how many there are.
    `per_profile=0` gives counts only.
    """
    require(actor, Action.READ)
    if not 0 <= per_profile <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 0 and {MAX_LIMIT}, not {per_profile}")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"profiles per page must be between 1 and {MAX_LIMIT}, not {limit}")
    page = list_profiles(session, actor=actor, environment=environment, cursor=cursor,
                         limit=limit)
    cards = [
        ProfileCard(**profile.model_dump(), total=sum(profile.counts.values()),
                    connections=list_connections(
                        session, actor=actor, where=ConnectionFilter(profile_id=profile.id),
                        limit=per_profile, count=False).items if per_profile else [])
        for profile in page.items
    ]
    return Page(cards, page.next_cursor, page.total, page.total_exact)


def add_profile(
    session: Session,
    *,
    actor: Actor,
    name: str,
    provider: str,
    environment: str = "dev",
    description: str = DEFAULT_PROFILE_DESCRIPTION,
) -> Profile:
    """create_profile with the provider config given by name (what a person types)."""
    require(actor, Action.WRITE, session)
    name = clean_name(name, "profile name")
    return create_profile(session, actor=actor, name=name, environment=environment,
                          description=description,
                          provider_config_id=provider_config_id_by_name(session, provider))
