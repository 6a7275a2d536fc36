"""Named domain errors. Library code raises these; the edges (CLI, dashboard) translate them.

Every message is written for the person at the edge: it says what was wrong and, where it helps,
what to do. No message ever contains a secret.
"""


class ConnModelError(Exception):
    """Base class of every error a user can cause or must be told about."""

    exit_code = 1


class InvalidInput(ConnModelError):
    """A value given by the user is malformed or out of range."""

    exit_code = 2


class NotFound(ConnModelError):
    """The named profile, connection or server does not exist."""


class AlreadyExists(ConnModelError):
    """A name that must be unique is taken."""


class StateConflict(ConnModelError):
    """The request is well formed but the target's state does not allow it now (enable what is
    not disabled, disable what is): a refusal like AlreadyRevoked (exit 1, HTTP 409), not
    malformed input (exit 2, HTTP 422)."""


class AlreadyRevoked(ConnModelError):
    """The connection was revoked before this call (possibly by someone else a moment ago)."""


class CredentialUnavailable(ConnModelError):
    """The credential broker will not hand out a credential: the connection is revoked,
    disabled, expired or in Error, or the server is disconnected. The message says which and
    what to do ("reconfigure", "re-authorize"), as the seed's hints do."""


class PermissionDenied(ConnModelError):
    """The acting user's role does not allow the action; the store's session audits it."""

    def __init__(self, message: str, *, actor: str = "", attempted: str = "") -> None:
        super().__init__(message)
        self.actor = actor
        self.attempted = attempted


class SignInEnded(PermissionDenied):
    """The signed-in user's session ended (signed out, expired, disabled) or their role changed
    since the page acting for them was opened: they must sign in again."""


class ReadBudgetExceeded(ConnModelError):
    """A read that serves a person took longer than its budget and was stopped; the message
    says how to narrow it."""


class ReadCancelled(ConnModelError):
    """A read stopped from another thread because its result is no longer wanted (a newer
    input replaced it); nobody is shown this."""


class StoreUnavailable(ConnModelError):
    """The database cannot be reached or is not a connmodel database."""

    exit_code = 2


class SecretKeyError(ConnModelError):
    """The secret key is missing, malformed, or not the one the stored secrets were written with."""

    exit_code = 2


class ProviderRefused(ConnModelError):
    """The provider answered and said no (invalid_grant, 401, 403, access_denied, bad response)."""


class ProviderUnreachable(ConnModelError):
    """The provider could not be reached; nothing was changed and the attempt will be retried."""


class AuthenticationFailed(ConnModelError):
    """Sign-in refused: the message never says whether the name or the password was wrong."""


class Throttled(ConnModelError):
    """Too many failed sign-ins for this user or address; try again after `retry_after` s."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
