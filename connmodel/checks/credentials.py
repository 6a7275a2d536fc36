"""The HTTP headers a check sends to an MCP server: the one place checks decrypt a credential.

An API key goes in the provider config's `header` (default X-API-Key), prefixed by its `scheme`
when one is set ("Authorization: Bearer <key>"). An OAuth2 connection sends its access token as
a bearer token; the stored credential is either the token itself or a JSON token set with an
`access_token` field. The headers live only in memory for the length of one check.
"""

import json

from connmodel.secrets import KeyRing
from connmodel.status import ProviderKind

DEFAULT_API_KEY_HEADER = "X-API-Key"


class MissingCredential(Exception):
    """A provider kind that needs a credential has none stored."""


def _access_token(secret: str) -> str:
    try:
        data = json.loads(secret)
    except ValueError:
        return secret
    if isinstance(data, dict) and isinstance(data.get("access_token"), str):
        return data["access_token"]
    return secret


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
    return {"Authorization": f"Bearer {_access_token(secret)}"}
