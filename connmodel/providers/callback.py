"""The one call a web callback route makes: query parameters in, a result to show out.

The dashboard's OAuth callback route (and any other web front end) passes the query string it
received; it gets back whether the connection was made and a plain-text message for the person
(escape it before putting it in HTML). Domain errors become an unsuccessful result here, so the
route needs no error handling of its own; they are already audited by `complete_authorization`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlmodel import Session

from connmodel.errors import ConnModelError
from connmodel.permissions import Actor
from connmodel.providers.authorization import complete_authorization
from connmodel.secrets import KeyRing


@dataclass(frozen=True)
class CallbackResult:
    ok: bool
    message: str
    connection_id: int | None = None
    account: str | None = None


def _first(params: Mapping[str, str | Sequence[str]], key: str) -> str | None:
    value = params.get(key)
    if value is None or isinstance(value, str):
        return value
    return value[0] if value else None


def handle_callback(session: Session, *, actor: Actor, keyring: KeyRing,
                    params: Mapping[str, str | Sequence[str]]) -> CallbackResult:
    """Finish Connect / Re-authorize from the callback's query parameters."""
    try:
        conn = complete_authorization(
            session, actor=actor, keyring=keyring, state=_first(params, "state") or "",
            code=_first(params, "code"), error=_first(params, "error"),
            error_description=_first(params, "error_description"))
    except ConnModelError as exc:
        return CallbackResult(False, f"Not connected: {exc}")
    return CallbackResult(True, f"Connected as {conn.account} ({conn.status})", conn.id,
                          conn.account)
