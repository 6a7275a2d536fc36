"""The HTTP headers a check sends to an MCP server: the one place checks decrypt a credential.

An API key goes in the provider config's `header` (default X-API-Key), prefixed by its `scheme`
when one is set ("Authorization: Bearer <key>"). An OAuth connection sends the access token of
its stored token set (`connmodel.providers.client.TokenSet`) as a bearer token; refreshing it is
the providers' job, not a check's. The headers live only in memory for the length of one check.
"""

from connmodel.providers.client import TokenSet
from connmodel.secrets import KeyRing
from connmodel.status import ProviderKind

DEFAULT_API_KEY_HEADER = "X-API-Key"


class MissingCredential(Exception):
    """A provider kind that needs a credential has none stored."""


def auth_headers(
    kind: str, settings: dict[str, object], credential_enc: str | None, keyring: KeyRing | None
) -> dict[str, str]:
    """Headers proving the connection's identity; MissingCredential when there is nothing to send."""
    if kind == ProviderKind.NONE:
        return {}
    if not credential_enc or keyring is None:
        raise MissingCredential("no credential stored: re-authenticate")
    secret = keyring.decrypt(credential_enc)
    if kind == ProviderKind.API_KEY:
        header = str(settings.get("header") or DEFAULT_API_KEY_HEADER)
        scheme = str(settings.get("scheme") or "")
        return {header: f"{scheme} {secret}" if scheme else secret}
    token = TokenSet.from_json(secret)
    if not token.access_token:
        raise MissingCredential("no access token stored: re-authorize")
    return {"Authorization": f"Bearer {token.access_token}"}
