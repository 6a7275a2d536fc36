"""Talking to a provider: authlib's httpx OAuth2Client, the stored token, and error sorting.

Every provider call goes through `call`, which sorts failures into the two kinds the status
rules need: ProviderRefused (the provider answered no: invalid_grant, 401, 403, access_denied)
and ProviderUnreachable (connection refused, timeout, 5xx, a maintenance page instead of JSON).
Messages carry the provider's error code and description, never a token or a secret.
"""

import base64
import json
import ssl
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any, TypeVar

import httpx2
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client

from connmodel.errors import ProviderRefused, ProviderUnreachable
from connmodel.models import ProviderConfig, utcnow
from connmodel.providers.endpoints import HTTP_TIMEOUT
from connmodel.secrets import KeyRing

T = TypeVar("T")


@dataclass(frozen=True)
class TokenSet:
    """What is stored (encrypted, as JSON) in Connection.credential_enc for OAuth connections."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    token_type: str = "Bearer"
    scope: str | None = None

    @classmethod
    def from_response(cls, token: dict[str, Any], previous: "TokenSet | None" = None) -> "TokenSet":
        """From a token endpoint answer; a refresh answer without a new refresh token keeps the
        old one (providers that do not rotate)."""
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise ProviderUnreachable("the provider's token response has no access_token")
        expires_at = token.get("expires_at")
        if expires_at is None and token.get("expires_in") is not None:
            expires_at = utcnow().timestamp() + float(token["expires_in"])
        refresh = token.get("refresh_token") or (previous.refresh_token if previous else None)
        return cls(access, refresh, float(expires_at) if expires_at is not None else None,
                   str(token.get("token_type") or "Bearer"), token.get("scope"))

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str) -> "TokenSet":
        """A stored credential; a bare string (older rows, the demo) is a refresh token."""
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return cls(access_token="", refresh_token=raw)
        return cls(**data)

    @property
    def expires(self) -> datetime | None:
        from datetime import UTC

        return datetime.fromtimestamp(self.expires_at, UTC) if self.expires_at else None


@cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building one loads the CA store (~30 ms of CPU),
    which would otherwise be paid by every refresh and dominate a refresh run."""
    return ssl.create_default_context()


class _SharedTransport(httpx2.HTTPTransport):
    """A connection pool that outlives the clients using it: closing a client leaves it open."""

    def close(self) -> None:
        pass

    def __exit__(self, *args: object) -> None:
        pass


@cache
def shared_transport() -> httpx2.HTTPTransport:
    """One keep-alive pool (and TLS context) for every provider call in the process: a refresh
    run reuses connections instead of paying a TCP (and TLS) handshake per token."""
    return _SharedTransport(verify=tls_context(),
                            limits=httpx2.Limits(max_connections=64, max_keepalive_connections=32))


def client_secret(provider: ProviderConfig, keyring: KeyRing) -> str | None:
    return keyring.decrypt(provider.client_secret_enc) if provider.client_secret_enc else None


def oauth_client(provider: ProviderConfig, keyring: KeyRing, *, redirect_uri: str | None = None,
                 token: TokenSet | None = None) -> OAuth2Client:
    """An authlib client for this provider config (close it after use)."""
    settings = provider.settings
    secret = client_secret(provider, keyring)
    return OAuth2Client(
        client_id=settings["client_id"],
        client_secret=secret,
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
        scope=" ".join(settings.get("scopes") or []) or None,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token=asdict(token) if token else None,
        timeout=HTTP_TIMEOUT,
        follow_redirects=False,
        transport=shared_transport(),
    )


def _http_reason(response: httpx2.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        desc = body.get("error_description")
        return f"{body['error']}: {desc}" if desc else str(body["error"])
    text = " ".join(response.text.split())[:200]
    return text or response.reason_phrase


def call(what: str, fn: Callable[[], T]) -> T:
    """Run one provider request and sort its failure (see the module docstring)."""
    try:
        return fn()
    except OAuthError as exc:
        desc = f": {exc.description}" if exc.description else ""
        raise ProviderRefused(f"{what} refused by the provider: {exc.error}{desc}") from None
    except httpx2.HTTPStatusError as exc:
        code = exc.response.status_code
        reason = _http_reason(exc.response)
        if code >= 500 or code == 429:
            raise ProviderUnreachable(
                f"{what}: the provider is unavailable (HTTP {code}: {reason})") from None
        raise ProviderRefused(f"{what} refused by the provider: HTTP {code}: {reason}") from None
    except httpx2.TransportError as exc:
        raise ProviderUnreachable(
            f"{what}: cannot reach the provider ({type(exc).__name__})") from None
    except ValueError:
        raise ProviderUnreachable(
            f"{what}: the provider's answer is malformed (not an OAuth2 JSON response)"
        ) from None


def check_response(what: str, response: httpx2.Response) -> None:
    """authlib's revoke/introspect return the response even on an error status: check it."""
    if response.status_code == 200:
        return
    reason = _http_reason(response)
    if response.status_code >= 500 or response.status_code == 429:
        raise ProviderUnreachable(
            f"{what}: the provider is unavailable (HTTP {response.status_code}: {reason})")
    raise ProviderRefused(f"{what} refused by the provider: HTTP {response.status_code}: {reason}")


def id_token_claims(id_token: str) -> dict[str, Any]:
    """The claims of an ID token received directly from the token endpoint.

    OpenID Connect Core 3.1.3.7 lets a client that got the ID token over TLS straight from the
    token endpoint trust the issuer by TLS instead of the signature; the caller still checks
    `aud` and `iss`.
    """
    try:
        payload = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def account_of(provider: ProviderConfig, client: OAuth2Client, token: dict[str, Any]) -> str:
    """The account a token belongs to: the e-mail from the ID token, else from userinfo."""
    settings = provider.settings
    if token.get("id_token"):
        claims = id_token_claims(str(token["id_token"]))
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        issuer = settings.get("issuer")
        if settings["client_id"] in auds and (not issuer or claims.get("iss") == issuer):
            found = _account_from(claims)
            if found:
                return found
    if settings.get("userinfo_url"):
        def fetch() -> dict[str, Any]:
            response = client.get(settings["userinfo_url"])
            check_response("userinfo", response)
            data = response.json()
            return data if isinstance(data, dict) else {}

        found = _account_from(call("userinfo", fetch))
        if found:
            return found
    return "authorized (no e-mail)"


def _account_from(claims: dict[str, Any]) -> str | None:
    for key in ("email", "preferred_username", "login", "sub"):
        value = claims.get(key)
        if isinstance(value, str | int) and str(value).strip():
            return str(value).strip()[:320]
    return None


def backoff(failures: int, *, base: float = 30.0, cap: float = 3600.0) -> timedelta:
    """30 s, 60 s, 120 s, ... up to an hour: the wait before retrying an unreachable provider."""
    return timedelta(seconds=min(cap, base * 2 ** max(0, failures - 1)))
