"""Where an OAuth2 provider lives: the Google preset, discovery from an issuer, explicit endpoints.

Everything a person types is checked here before any network call: URLs must be https (plain
http only on a loopback host, for local development and tests), scopes must be RFC 6749 scope
tokens, the client id must be present. Discovery tries OpenID Connect's
`.well-known/openid-configuration`, then RFC 8414's `.well-known/oauth-authorization-server`.
"""

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

import httpx2

from connmodel.errors import InvalidInput, ProviderRefused, ProviderUnreachable

HTTP_TIMEOUT = 10.0
MAX_SCOPES = 50
MAX_SCOPES_CHARS = 2000
SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")  # RFC 6749 section 3.3

GOOGLE_PRESET: dict[str, Any] = {
    "preset": "google",
    "issuer": "https://accounts.google.com",
    "authorize_url": "https://accounts.google.com/o/oauth2/v2/auth",
    "token_url": "https://oauth2.googleapis.com/token",
    "revocation_url": "https://oauth2.googleapis.com/revoke",
    "userinfo_url": "https://openidconnect.googleapis.com/v1/userinfo",
    # Google issues a refresh token only with offline access, and again only on consent.
    "authorize_params": {"access_type": "offline", "prompt": "consent"},
}
DEFAULT_GOOGLE_SCOPES = ["openid", "email"]

# discovery document field -> our settings key
DISCOVERED = {
    "authorization_endpoint": "authorize_url",
    "token_endpoint": "token_url",
    "revocation_endpoint": "revocation_url",
    "introspection_endpoint": "introspection_url",
    "userinfo_endpoint": "userinfo_url",
}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str | None, what: str) -> str:
    """An absolute https URL (http only on loopback); InvalidInput with the reason otherwise."""
    url = (url or "").strip()
    if not url:
        raise InvalidInput(f"{what} is empty")
    if len(url) > 2000:
        raise InvalidInput(f"{what} is longer than 2000 characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise InvalidInput(f"{what} {url[:80]!r} is not a URL: expected https://host/...")
    if parts.scheme == "http" and not is_loopback(host):
        raise InvalidInput(
            f"{what} {url[:80]!r} uses plain http: only https is allowed, except on a "
            "loopback host (127.0.0.1, ::1, localhost)"
        )
    if parts.username or parts.password:
        raise InvalidInput(f"{what} may not contain a user name or password")
    return url


def check_scopes(scopes: list[str] | str | None) -> list[str]:
    """Scopes as a list of RFC 6749 scope tokens; split a space-separated string."""
    if isinstance(scopes, str):
        scopes = scopes.replace(",", " ").split()
    scopes = [s.strip() for s in scopes or [] if s.strip()]
    if len(scopes) > MAX_SCOPES:
        raise InvalidInput(f"{len(scopes)} scopes given: at most {MAX_SCOPES}")
    if sum(len(s) + 1 for s in scopes) > MAX_SCOPES_CHARS:
        raise InvalidInput(f"the scopes are longer than {MAX_SCOPES_CHARS} characters together")
    for scope in scopes:
        if not SCOPE_TOKEN.match(scope):
            raise InvalidInput(
                f"scope {scope[:40]!r} is not a valid scope: no spaces, quotes or backslashes"
            )
    return list(dict.fromkeys(scopes))


def check_client_id(client_id: str | None) -> str:
    client_id = (client_id or "").strip()
    if not client_id:
        raise InvalidInput("client id is empty")
    if len(client_id) > 500 or not SCOPE_TOKEN.match(client_id.replace(" ", "\x00")):
        raise InvalidInput("client id must be at most 500 printable characters without spaces")
    return client_id


def _well_known(issuer: str, suffix: str) -> list[str]:
    """OIDC appends the well-known path; RFC 8414 inserts it before the issuer's path."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    base = f"{parts.scheme}://{parts.netloc}"
    urls = [f"{base}{path}/.well-known/{suffix}"]
    if path:
        urls.append(f"{base}/.well-known/{suffix}{path}")
    return urls


def discover(issuer: str, *, timeout: float = HTTP_TIMEOUT) -> dict[str, Any]:
    """The endpoints an issuer publishes, as settings; clear errors when they cannot be found."""
    issuer = check_url(issuer, "issuer URL").rstrip("/")
    candidates = (_well_known(issuer, "openid-configuration")
                  + _well_known(issuer, "oauth-authorization-server"))
    last = ""
    for url in candidates:
        try:
            response = httpx2.get(url, timeout=timeout, follow_redirects=False)
        except httpx2.HTTPError as exc:
            raise ProviderUnreachable(
                f"cannot reach the issuer {issuer}: {type(exc).__name__}"
            ) from None
        if response.status_code != 200:
            last = f"HTTP {response.status_code} from {url}"
            continue
        try:
            doc = response.json()
        except ValueError:
            last = f"{url} is not JSON"
            continue
        if isinstance(doc, dict):
            return _settings_from(doc, issuer, url)
        last = f"{url} is not a JSON object"
    raise ProviderRefused(f"no discovery document for the issuer {issuer} ({last})")


def _settings_from(doc: dict[str, Any], issuer: str, url: str) -> dict[str, Any]:
    missing = [k for k in ("authorization_endpoint", "token_endpoint") if not doc.get(k)]
    if missing:
        raise ProviderRefused(f"the discovery document {url} lacks {', '.join(missing)}")
    if str(doc.get("issuer", "")).rstrip("/") != issuer:
        raise ProviderRefused(
            f"the discovery document {url} names the issuer {str(doc.get('issuer'))[:80]!r}, "
            f"not {issuer!r}"
        )
    settings: dict[str, Any] = {"issuer": issuer}
    for field, key in DISCOVERED.items():
        if doc.get(field):
            settings[key] = check_url(str(doc[field]), f"the discovered {field}")
    return settings


def oauth_settings(
    *,
    client_id: str,
    scopes: list[str] | str | None = None,
    preset: str | None = None,
    issuer: str | None = None,
    authorize_url: str | None = None,
    token_url: str | None = None,
    revocation_url: str | None = None,
    userinfo_url: str | None = None,
    introspection_url: str | None = None,
    needs_authorize: bool = True,
) -> dict[str, Any]:
    """The stored (non-secret) settings of an OAuth2 provider config, endpoints resolved."""
    client_id = check_client_id(client_id)
    scope_list = check_scopes(scopes)
    if preset:
        if preset.strip().lower() != "google":
            raise InvalidInput(f"unknown preset {preset!r}: the only preset is google")
        settings = dict(GOOGLE_PRESET)
        scope_list = scope_list or list(DEFAULT_GOOGLE_SCOPES)
    elif issuer and not token_url:
        settings = discover(issuer)
    else:
        settings = {"issuer": check_url(issuer, "issuer URL")} if issuer else {}
        if needs_authorize:
            settings["authorize_url"] = check_url(authorize_url, "authorization endpoint")
        settings["token_url"] = check_url(token_url, "token endpoint")
        for key, value, what in (("revocation_url", revocation_url, "revocation endpoint"),
                                 ("userinfo_url", userinfo_url, "userinfo endpoint"),
                                 ("introspection_url", introspection_url,
                                  "introspection endpoint")):
            if value:
                settings[key] = check_url(value, what)
    if needs_authorize and not settings.get("authorize_url"):
        raise ProviderRefused("the provider publishes no authorization endpoint")
    settings["client_id"] = client_id
    settings["scopes"] = scope_list
    return settings
