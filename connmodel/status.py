"""Connection statuses, server states and the one table of troubleshooting hints.

The words are the seed page's: a connection is Active, Inactive or Error, and each status that
needs attention carries the seed's troubleshooting advice.
"""

from enum import StrEnum


class Status(StrEnum):
    ACTIVE = "Active"
    INACTIVE = "Inactive"
    ERROR = "Error"


class ServerState(StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


class Environment(StrEnum):
    DEV = "dev"
    STAGING = "staging"
    PRODUCTION = "production"


class ProviderKind(StrEnum):
    NONE = "none"
    API_KEY = "api_key"
    OAUTH2 = "oauth2"
    CLIENT_CREDENTIALS = "client_credentials"


OAUTH_KINDS = (ProviderKind.OAUTH2.value, ProviderKind.CLIENT_CREDENTIALS.value)


MEANING: dict[Status, str] = {
    Status.ACTIVE: "Connection is working",
    Status.INACTIVE: "Connection disabled or expired",
    Status.ERROR: "Authentication failed",
}

HINTS: dict[Status, str] = {
    Status.ACTIVE: "",
    Status.INACTIVE: "Token may have expired, re-authorize",
    Status.ERROR: "Re-authenticate or check credentials",
}

def disabled_hint(connection_id: int) -> str:
    """Inactive by choice rather than expiry: re-authorizing would not help, enabling does.
    Plain text with this connection's id (the page shows it as text: "`connmodel enable ID`"
    read as a template)."""
    return ("Disabled, not expired: Enable it to use it again (View → Enable, or: connmodel "
            f"enable {connection_id})")


# Why a server is disconnected while its profile's connection N is disabled: Enable reconnects
# exactly the servers with this reason; a revoke of N takes them too (nothing can enable N then).
DISABLED_SERVER_REASON = ("connection ", " disabled by ", "; enable it to reconnect")


def disabled_server_reason(connection_id: int, name: str) -> str:
    before, middle, after = DISABLED_SERVER_REASON
    return f"{before}{connection_id}{middle}{name}{after}"


SERVER_STOPPED_HINT = "MCP server stopped working: check connection status here"

REVOKE_NOTE = (
    "Revoking a connection will disconnect all MCP servers using that profile. "
    "They will stop working until you reconfigure."
)


def hint_for(status: str, *, disabled_id: int | None = None) -> str:
    """The troubleshooting hint: the seed's for a status ('' for Active), or `disabled_hint`
    for a disabled connection (`disabled_id`: its id, when its `disabled_by` is set), which the
    seed's Inactive advice misleads."""
    return disabled_hint(disabled_id) if disabled_id is not None else HINTS[Status(status)]


def parse_status(value: str) -> Status:
    """Accept a status in any case ('error', 'Error'); raise InvalidInput otherwise."""
    from connmodel.errors import InvalidInput

    for status in Status:
        if value.strip().lower() == status.value.lower():
            return status
    choices = ", ".join(s.value for s in Status)
    raise InvalidInput(f"unknown status {value!r}: choose one of {choices}")


def parse_environment(value: str) -> Environment:
    from connmodel.errors import InvalidInput

    try:
        return Environment(value.strip().lower())
    except ValueError:
        choices = ", ".join(e.value for e in Environment)
        raise InvalidInput(f"unknown environment {value!r}: choose one of {choices}") from None
