"""New profile in one step (the dashboard's "New profile" dialog and scripts).

A profile either reuses a provider config by name or brings a new one; the provider config and
the profile are created in one transaction, so a taken profile name or a bad issuer leaves
neither behind, only an audit event saying why.
"""

from dataclasses import dataclass, field

from sqlmodel import Session

from connmodel.errors import ConnModelError
from connmodel.models import DEFAULT_PROFILE_DESCRIPTION, Profile
from connmodel.permissions import Action, Actor, require
from connmodel.providers.connect import build_oauth_provider
from connmodel.providers.records import audited
from connmodel.secrets import KeyRing
from connmodel.services.profiles import (
    create_profile,
    create_provider_config,
    provider_config_id_by_name,
    refuse_taken_profile_name,
)
from connmodel.status import ProviderKind
from connmodel.validation import clean_name


@dataclass(frozen=True)
class NewProvider:
    """How the new profile authenticates. OAuth fields are ignored for none / api_key."""

    name: str
    kind: str
    client_id: str = ""
    client_secret: str | None = field(default=None, repr=False)
    scopes: str | list[str] | None = None
    preset: str | None = None
    issuer: str | None = None
    authorize_url: str | None = None
    token_url: str | None = None
    revocation_url: str | None = None
    userinfo_url: str | None = None


def _provider_id(session: Session, actor: Actor, keyring: KeyRing,
                 provider: str | NewProvider) -> int:
    if isinstance(provider, str):
        return provider_config_id_by_name(session, provider)
    if provider.kind in (ProviderKind.NONE.value, ProviderKind.API_KEY.value):
        config = create_provider_config(session, actor=actor, name=provider.name,
                                        kind=provider.kind)
    else:
        config = build_oauth_provider(
            session, actor=actor, keyring=keyring, name=provider.name, kind=provider.kind,
            client_id=provider.client_id, client_secret=provider.client_secret,
            scopes=provider.scopes, preset=provider.preset, issuer=provider.issuer,
            authorize_url=provider.authorize_url, token_url=provider.token_url,
            revocation_url=provider.revocation_url, userinfo_url=provider.userinfo_url)
    return config.id or 0


def new_profile(
    session: Session,
    *,
    actor: Actor,
    keyring: KeyRing,
    name: str,
    provider: str | NewProvider,
    environment: str = "dev",
    description: str = DEFAULT_PROFILE_DESCRIPTION,
) -> Profile:
    """Create a profile (and its provider config when `provider` is a NewProvider); committed."""
    require(actor, Action.WRITE, session)
    try:
        name = clean_name(name, "profile name")
        refuse_taken_profile_name(session, name)  # before the provider config is built
        profile = create_profile(session, actor=actor, name=name, environment=environment,
                                 description=description,
                                 provider_config_id=_provider_id(session, actor, keyring,
                                                                 provider))
    except ConnModelError as exc:
        audited(session, actor, "profile.create", f"profile {name}", exc)
        raise
    session.commit()
    return profile
