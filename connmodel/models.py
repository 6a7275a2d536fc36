"""SQLModel tables: ProviderConfig -> Profile -> Connection, McpServer, AuditEvent, Meta.

Times are timezone-aware UTC (`utcnow()`); SQLModel's UTCDateTime stores them as UTC on both
stores and refuses naive values, so no local time can slip in. Secrets live only in the `*_enc` columns, encrypted by `connmodel.secrets`;
`credential_hint` keeps the last four characters so a mask can be shown without the key.

A revoked connection keeps its row (the audit trail points at it) but its credential is wiped
and `revoked_at` is set; every listing filters on `revoked_at IS NULL`, and the partial indexes
below cover only live rows.
"""

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, Column, Index, Text, text
from sqlmodel import Field, SQLModel

NAME_MAX = 100
ACCOUNT_MAX = 320  # the longest e-mail address
TEXT_MAX = 2000
TOKEN_NAME_MAX = 60  # "token:" + name is the actor of its audit events (NAME_MAX)
DEFAULT_PROFILE_DESCRIPTION = "Connections in this profile"


def utcnow() -> datetime:
    """Aware UTC now: what every timestamp column stores."""
    return datetime.now(UTC)


LIVE = text("revoked_at IS NULL")
# A profile card sorts its rows by these columns (and by status, account: indexed above). Each
# has an index (profile_id, column, id, status), so a card's sorted page is one index range; the
# trailing status lets a status filter be checked in the index instead of on each row.
CARD_SORTS = {"service": "service", "created": "created_at", "expires": "expires_at",
              "last_used": "last_used_at", "checked": "checked_at"}
# Live rows whose account or service a two-character needle can hide in from the text index
# (connmodel.search.pair_hits): a character beyond ASCII (which no list of trigrams can spell
# out; connmodel.validation lets no control character in), or on SQLite a value of two
# characters (which has no trigram). SQLite tells beyond ASCII by more bytes than characters:
# a GLOB of the characters cost 9.5 s more to index at 10M rows, this 1.9 s.
ODD_TEXT = {"sqlite": "(length(account) = 2 OR length(service) = 2 "
                      "OR length(CAST(account AS BLOB)) <> length(account) "
                      "OR length(CAST(service AS BLOB)) <> length(service))",
            "postgresql": "(account ~ '[^ -~]' OR service ~ '[^ -~]')"}


class ProviderConfig(SQLModel, table=True):
    """How to authenticate: kind none / api_key / oauth2, with non-secret settings as JSON."""

    __tablename__ = "provider_config"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_MAX, unique=True, index=True)
    kind: str = Field(max_length=20)
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    client_secret_enc: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow)


class Profile(SQLModel, table=True):
    """A named use of one provider config ("Noauth", "Hubspot", "Google")."""

    __tablename__ = "profile"
    # Names are unique ignoring case ("google" beside "Google" is refused), and listed in this
    # index's order (connmodel.services.profiles.PROFILE_NAME_KEY).
    __table_args__ = (Index("ux_profile_name_lower", text("lower(name)"), unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_MAX, unique=True, index=True)
    description: str = Field(default=DEFAULT_PROFILE_DESCRIPTION, max_length=TEXT_MAX)
    environment: str = Field(default="dev", max_length=20, index=True)
    provider_config_id: int = Field(foreign_key="provider_config.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)


class Connection(SQLModel, table=True):
    """A profile connected to the gateway's MCP servers, with its status and credential."""

    __tablename__ = "connection"
    __table_args__ = (
        Index("ix_connection_live_profile_status", "profile_id", "status", "id",
              sqlite_where=LIVE, postgresql_where=LIVE),
        Index("ix_connection_live_profile_account", "profile_id", "account", "id",
              sqlite_where=LIVE, postgresql_where=LIVE),
        Index("ix_connection_live_profile_status_account", "profile_id", "status", "account", "id",
              sqlite_where=LIVE, postgresql_where=LIVE),
        Index("ix_connection_live_status", "status", "id", sqlite_where=LIVE, postgresql_where=LIVE),
        Index("ix_connection_live_profile_id", "profile_id", "id",
              sqlite_where=LIVE, postgresql_where=LIVE),
        Index("ix_connection_live_expires_status", "expires_at", "status",
              sqlite_where=LIVE, postgresql_where=LIVE),
        Index("ix_connection_live_last_used", "last_used_at",
              sqlite_where=LIVE, postgresql_where=LIVE),
        Index("ix_connection_live_odd_text", "id",
              sqlite_where=text(f"revoked_at IS NULL AND {ODD_TEXT['sqlite']}"),
              postgresql_where=text(f"revoked_at IS NULL AND {ODD_TEXT['postgresql']}")),
        *(Index(f"ix_connection_live_profile_{name}", "profile_id", column, "id", "status",
                sqlite_where=LIVE, postgresql_where=LIVE) for name, column in CARD_SORTS.items()),
    )

    id: int | None = Field(default=None, primary_key=True)
    profile_id: int = Field(foreign_key="profile.id")
    service: str = Field(max_length=NAME_MAX)
    account: str = Field(max_length=ACCOUNT_MAX)
    status: str = Field(default="Active", max_length=10)
    status_reason: str | None = Field(default=None, max_length=TEXT_MAX)
    checked_at: datetime | None = None
    credential_enc: str | None = Field(default=None, sa_column=Column(Text))
    credential_hint: str | None = Field(default=None, max_length=8)
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    revoked_by: str | None = Field(default=None, max_length=NAME_MAX)
    # Provider lifecycle (connmodel.providers): a disabled connection keeps its credential;
    # token_version is the compare-and-swap guard of refresh-token rotation; a refresher claims
    # the row until refresh_claimed_until; failures back off until next_refresh_at.
    disabled_at: datetime | None = None
    disabled_by: str | None = Field(default=None, max_length=NAME_MAX)
    # The Error reason a disable set aside (its status is then Inactive); Enable brings it back
    # unless a new working credential came meanwhile (migration 0020).
    held_error: str | None = Field(default=None, max_length=TEXT_MAX)
    token_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    refresh_claimed_until: datetime | None = None
    refresh_failures: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    next_refresh_at: datetime | None = None


class ConnectionCount(SQLModel, table=True):
    """Live connections per (profile, status), kept exact by the triggers of migration 0009.

    The Connections page reads its counts by status here: a few rows instead of ~117,000
    index entries for a screen of large profiles at a million connections. Only the triggers
    write it; a missing row means zero.
    """

    __tablename__ = "connection_count"

    profile_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    status: str = Field(primary_key=True, max_length=10)
    n: int = 0


class ProfileTerm(SQLModel, table=True):
    """A run of letters found in the accounts or the services (`source`) of a profile's
    connections (see connmodel.terms), added by the triggers of migration 0013, never removed.

    A common search reads only the profiles, and of them only the columns, holding every run of
    its needle.
    """

    __tablename__ = "profile_term"
    __table_args__ = {"sqlite_with_rowid": False}

    profile_id: int = Field(primary_key=True, foreign_key="profile.id", ondelete="CASCADE",
                            sa_column_kwargs={"autoincrement": False})
    source: str = Field(primary_key=True, max_length=7)  # "account" or "service"
    term: str = Field(primary_key=True, max_length=320)


class OAuthAuthorization(SQLModel, table=True):
    """A started authorization-code flow, kept durably until its callback (or expiry).

    Only the SHA-256 of `state` is stored; the PKCE verifier is encrypted. `used_at` is set by
    the one conditional UPDATE that completes it, so a replayed state is refused.
    """

    __tablename__ = "oauth_authorization"

    id: int | None = Field(default=None, primary_key=True)
    state_hash: str = Field(max_length=64, unique=True, index=True)
    profile_id: int = Field(foreign_key="profile.id")
    connection_id: int | None = Field(default=None, foreign_key="connection.id")
    verifier_enc: str = Field(sa_column=Column(Text, nullable=False))
    redirect_uri: str = Field(max_length=TEXT_MAX)
    servers: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    actor: str = Field(max_length=NAME_MAX)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None


class ProviderRevocation(SQLModel, table=True):
    """A token to revoke at the provider (RFC 7009): a durable queue, retried with back-off.

    Rows are written in the revoke transaction, so a crash after the local revoke loses nothing.
    """

    __tablename__ = "provider_revocation"
    __table_args__ = (Index("ix_provider_revocation_pending", "delivered_at", "given_up_at",
                            "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    connection_id: int = Field(foreign_key="connection.id")
    provider_config_id: int = Field(foreign_key="provider_config.id")
    credential_enc: str = Field(sa_column=Column(Text, nullable=False))
    actor: str = Field(max_length=NAME_MAX)
    created_at: datetime = Field(default_factory=utcnow)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    last_error: str | None = Field(default=None, max_length=TEXT_MAX)
    delivered_at: datetime | None = None
    given_up_at: datetime | None = None


class McpServer(SQLModel, table=True):
    """A server of the gateway and the profile it authenticates with."""

    __tablename__ = "mcp_server"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_MAX, unique=True, index=True)
    url: str = Field(max_length=TEXT_MAX)
    transport: str = Field(default="streamable-http", max_length=20)
    profile_id: int | None = Field(default=None, foreign_key="profile.id", index=True)
    state: str = Field(default="connected", max_length=20)
    reason: str | None = Field(default=None, max_length=TEXT_MAX)
    updated_at: datetime = Field(default_factory=utcnow)
    # The latest live check (connmodel.checks): "ok", "error" or "unreachable", with its reason.
    check_outcome: str | None = Field(default=None, max_length=12)
    check_reason: str | None = Field(default=None, max_length=TEXT_MAX)
    checked_at: datetime | None = None
    tool_count: int | None = None
    latency_ms: float | None = None


class AuditEvent(SQLModel, table=True):
    """Append-only record of every change. Services insert; nothing updates or deletes."""

    __tablename__ = "audit_event"
    # (actor, action, id): "what did alice revoke" is one index range, newest first; with the
    # actor's index alone it tested every event of hers (190 ms among 1.3 million).
    __table_args__ = (Index("ix_audit_event_at", "at", "id"),
                      Index("ix_audit_event_actor_action", "actor", "action", "id"))

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=NAME_MAX, index=True)
    action: str = Field(max_length=40, index=True)
    target: str = Field(max_length=TEXT_MAX)
    outcome: str = Field(default="ok", max_length=TEXT_MAX)


class CheckResult(SQLModel, table=True):
    """One status check of a connection (against a provider or an MCP server), kept for history.

    The audit notebooks chart status over time from this table; old rows are pruned by age.
    """

    __tablename__ = "check_result"
    __table_args__ = (Index("ix_check_result_at", "at", "status"),
                      Index("ix_check_result_status_at", "status", "at"),
                      Index("ix_check_result_connection_at", "connection_id", "at"))

    id: int | None = Field(default=None, primary_key=True)
    connection_id: int = Field(foreign_key="connection.id")
    server_id: int | None = Field(default=None, foreign_key="mcp_server.id")
    at: datetime = Field(default_factory=utcnow)
    status: str = Field(max_length=10)
    reachable: bool = True
    reason: str | None = Field(default=None, max_length=TEXT_MAX)
    latency_ms: float | None = None
    tool_count: int | None = None


class Webhook(SQLModel, table=True):
    """A URL told about status changes; events are signed with its secret (HMAC-SHA256)."""

    __tablename__ = "webhook"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=TEXT_MAX, unique=True)
    secret_enc: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class WebhookDelivery(SQLModel, table=True):
    """The durable outbox: one event for one URL, retried with back-off until delivered.

    Checks only insert rows here; a sender delivers them later, so a slow or dead receiver
    never holds up a check. `url` and the signing secret are copied in at enqueue time, so
    environment-configured webhooks need no row in `webhook`.
    """

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_due", "delivered_at", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    url: str = Field(max_length=TEXT_MAX)
    secret_enc: str = Field(sa_column=Column(Text, nullable=False))
    event: str = Field(max_length=40)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=TEXT_MAX)


class ScheduledJob(SQLModel, table=True):
    """When a periodic job of `connmodel worker` is next due (the scheduled check round).

    A worker runs a round only after moving `next_run_at` forward with a conditional update,
    so several workers run each round once; `last_finished_at` gives the worker's lag.
    """

    __tablename__ = "scheduled_job"

    name: str = Field(primary_key=True, max_length=40)
    next_run_at: datetime = Field(default_factory=utcnow)
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=TEXT_MAX)


class Meta(SQLModel, table=True):
    """Small key/value facts about the database itself (the secret-key check token)."""

    __tablename__ = "meta"

    key: str = Field(primary_key=True, max_length=60)
    value: str = Field(sa_column=Column(Text, nullable=False))


class ConnectionPublic(BaseModel):
    """A connection as every listing shows it: no credential, only what a person may see.

    A plain pydantic model rather than an SQLModel one: a page builds fifty of these, and
    SQLModel's __init__ costs twice pydantic's while adding nothing to a model without a table.
    """

    id: int
    profile: str
    environment: str
    service: str
    account: str
    status: str
    status_reason: str | None = None
    hint: str = ""
    checked_at: datetime | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    created_at: datetime


class ServerPublic(SQLModel):
    name: str
    url: str
    transport: str
    profile: str | None = None
    state: str
    reason: str | None = None


class ServerRow(ServerPublic):
    """A My Servers row: the server, its latest live check and the connection behind it.

    `health` is what the page shows as the state: disconnected, error (connected but its last
    check failed or did not reach it) or connected.
    """

    id: int
    health: str
    check_outcome: str | None = None
    check_reason: str | None = None
    checked_at: datetime | None = None
    tool_count: int | None = None
    latency_ms: float | None = None
    connection_id: int | None = None


class ConnectionDetail(ConnectionPublic):
    """What View shows: the listing fields, the masked configuration and the servers using it."""

    provider: str
    provider_kind: str
    description: str
    config: dict[str, str]
    mcp_servers: list[ServerPublic]
    disabled: bool = False  # disabled by a person (Enable brings it back), not expired


class RevokeResult(SQLModel):
    id: int
    profile: str
    account: str
    service: str
    disconnected_servers: list[str]


class ProviderConfigPublic(SQLModel):
    """A provider config as a chooser lists it: no settings, never a secret."""

    id: int
    name: str
    kind: str


class ProfilePublic(SQLModel):
    id: int
    name: str
    description: str
    environment: str
    provider: str
    provider_kind: str
    counts: dict[str, int]
    counts_exact: bool = True  # False: a common search stopped counting at 10,001 matches


class ProfileCard(ProfilePublic):
    """A profile as the page's card shows it: its first connections and how many it has.

    `connections` holds at most the requested number (a profile may have 100k); `total` counts
    them all (live only), `counts` splits that total by status.
    """

    total: int
    connections: list[ConnectionPublic]


class AuditEventPublic(SQLModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    outcome: str


class User(SQLModel, table=True):
    """A person who may sign in to the console; only an argon2 hash of the password is kept."""

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_MAX, unique=True, index=True)
    role: str = Field(default="viewer", max_length=10)
    password_hash: str = Field(sa_column=Column(Text, nullable=False))
    disabled: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class LoginAttempt(SQLModel, table=True):
    """Sign-in attempts by user name and by address, for throttling; pruned by age."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_key_at", "key", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=NAME_MAX + 10)
    at: datetime = Field(default_factory=utcnow)
    ok: bool = False


class UserSession(SQLModel, table=True):
    """A signed-in browser; the cookie carries a random token, the table only its SHA-256."""

    __tablename__ = "user_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class ApiToken(SQLModel, table=True):
    """A bearer token of the HTTP API (`connmodel token add`); only its SHA-256 is kept.

    `scope` is read, admin or broker (connmodel.permissions.TokenScope); the API acts as
    "token:NAME" with the scope's role, so every audit event names the token.
    """

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=TOKEN_NAME_MAX, unique=True, index=True)
    scope: str = Field(max_length=10)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = Field(max_length=NAME_MAX)
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = Field(default=None, max_length=NAME_MAX)


class ApiTokenPublic(BaseModel):
    """A token as `token list` and the dashboard show it: never the token, never its hash."""

    name: str
    scope: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None
