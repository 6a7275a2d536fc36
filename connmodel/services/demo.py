"""The seed page's example profiles, plus a few showing Inactive and Error, for `connmodel demo`.

Running it twice changes nothing: each provider config, profile, connection and server is
created only when its name is not there yet. The secrets below are demo values; tests grep the
database, dumps, pages and logs for them to prove they never appear in clear.
"""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from connmodel.models import Connection, McpServer, Profile, ProviderConfig, utcnow
from connmodel.permissions import Actor
from connmodel.secrets import KeyRing
from connmodel.services.connections import create_connection
from connmodel.services.profiles import create_profile, create_provider_config
from connmodel.services.servers import add_server, set_servers_state
from connmodel.status import ServerState, disabled_server_reason

DEMO_HUBSPOT_API_KEY = "pat-na1-demo-hubspot-key-0c9e51d27f3a"
DEMO_GOOGLE_CLIENT_SECRET = "GOCSPX-demo-google-client-secret-5b1e"
DEMO_GOOGLE_REFRESH_TOKEN = "1//demo-google-refresh-token-a8c4f0e2"
DEMO_GITHUB_CLIENT_SECRET = "demo-github-client-secret-3d9b77aa"
DEMO_SECRETS = (DEMO_HUBSPOT_API_KEY, DEMO_GOOGLE_CLIENT_SECRET, DEMO_GOOGLE_REFRESH_TOKEN,
                DEMO_GITHUB_CLIENT_SECRET)

GOOGLE_SETTINGS: dict[str, object] = {
    "preset": "google",
    "issuer": "https://accounts.google.com",
    "authorize_url": "https://accounts.google.com/o/oauth2/v2/auth",
    "token_url": "https://oauth2.googleapis.com/token",
    "revocation_url": "https://oauth2.googleapis.com/revoke",
    "userinfo_url": "https://openidconnect.googleapis.com/v1/userinfo",
    "client_id": "123456789-demo.apps.googleusercontent.com",
    "scopes": ["openid", "email", "https://www.googleapis.com/auth/drive.readonly"],
}
GITHUB_SETTINGS: dict[str, object] = {
    "authorize_url": "https://github.com/login/oauth/authorize",
    "token_url": "https://github.com/login/oauth/access_token",
    "client_id": "Iv1.demo0github0client",
    "scopes": ["repo", "read:user"],
}


@dataclass(frozen=True)
class DemoProvider:
    name: str
    kind: str
    settings: dict[str, object]
    client_secret: str | None = None


@dataclass(frozen=True)
class DemoProfile:
    name: str
    environment: str
    provider: str
    account: str
    status: str
    servers: tuple[tuple[str, str], ...]
    reason: str | None = None
    credential: str | None = None
    expires_in_days: int | None = None
    disabled_by: str | None = None  # disabled on purpose (its reason says so too), not expired


PROVIDERS = (
    DemoProvider("No Authentication Provider", "none", {}),
    DemoProvider("API Key Authentication Provider", "api_key",
                 {"header": "Authorization", "scheme": "Bearer"}),
    DemoProvider("Google OAuth2 Provider", "oauth2", GOOGLE_SETTINGS, DEMO_GOOGLE_CLIENT_SECRET),
    DemoProvider("GitHub OAuth2 Provider", "oauth2", GITHUB_SETTINGS, DEMO_GITHUB_CLIENT_SECRET),
)

PROFILES = (
    DemoProfile("Noauth", "dev", "No Authentication Provider", "Configured", "Active",
                (("Calculator", "http://127.0.0.1:8101/mcp"),)),
    DemoProfile("Hubspot", "production", "API Key Authentication Provider", "Configured",
                "Active", (("Hubspot CRM", "https://mcp.hubspot.example/mcp"),),
                credential=DEMO_HUBSPOT_API_KEY),
    DemoProfile("Google", "production", "Google OAuth2 Provider", "user@example.com", "Active",
                (("Gsuite", "https://gsuite.mcp.example/mcp"),
                 ("Drive", "https://drive.mcp.example/mcp")),
                credential=DEMO_GOOGLE_REFRESH_TOKEN, expires_in_days=30),
    DemoProfile("GitHub Staging", "staging", "GitHub OAuth2 Provider", "ci-bot@example.com",
                "Error", (("GitHub Issues", "https://github.mcp.example/mcp"),),
                reason="invalid_grant: the refresh token has been revoked by the user"),
    DemoProfile("Hubspot Sandbox", "staging", "API Key Authentication Provider", "Configured",
                "Inactive", (("Hubspot Sandbox CRM", "https://sandbox.hubspot.example/mcp"),),
                reason="token expired", expires_in_days=-3),
    DemoProfile("Google Dev", "dev", "Google OAuth2 Provider", "dev@example.com", "Inactive",
                (("Calendar", "https://calendar.mcp.example/mcp"),),
                reason="disabled by admin", disabled_by="admin"),
)


def _exists(session: Session, model: type[ProviderConfig | Profile | McpServer], name: str) -> bool:
    stmt = select(col(model.id)).where(col(model.name) == name)
    return session.execute(stmt).first() is not None


def seed_demo(session: Session, *, actor: Actor, keyring: KeyRing) -> int:
    """Create whatever of the demo is missing; return how many profiles were added."""
    for p in PROVIDERS:
        if not _exists(session, ProviderConfig, p.name):
            create_provider_config(session, actor=actor, name=p.name, kind=p.kind,
                                   settings=dict(p.settings), client_secret=p.client_secret,
                                   keyring=keyring)
    added = 0
    now = utcnow()
    for d in PROFILES:
        if _exists(session, Profile, d.name):
            continue
        provider_id = session.execute(
            select(col(ProviderConfig.id)).where(col(ProviderConfig.name) == d.provider)
        ).scalar_one()
        profile = create_profile(session, actor=actor, name=d.name, environment=d.environment,
                                 provider_config_id=provider_id)
        conn: Connection = create_connection(
            session, actor=actor, profile_id=profile.id or 0, account=d.account,
            credential=d.credential, keyring=keyring, status=d.status, status_reason=d.reason,
            expires_at=now + timedelta(days=d.expires_in_days) if d.expires_in_days else None,
        )
        conn.last_used_at = conn.created_at  # used as it was connected, not before
        for server_name, url in d.servers:
            if not _exists(session, McpServer, server_name):
                add_server(session, actor=actor, name=server_name, url=url, profile=d.name)
        if d.disabled_by:  # as a disable leaves it: the profile's servers disconnected
            conn.disabled_by, conn.disabled_at = d.disabled_by, now
            set_servers_state(session, profile.id or 0, from_state=ServerState.CONNECTED,
                              to_state=ServerState.DISCONNECTED,
                              reason=disabled_server_reason(conn.id or 0, d.disabled_by))
        added += 1
    session.commit()
    return added
