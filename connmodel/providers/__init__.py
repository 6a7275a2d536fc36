"""Real providers: create provider configs and profiles, connect, refresh, disable, revoke.

The chain is Provider Config -> Profile -> Connection. `none` and `api_key` connect at once;
`oauth2` runs the authorization code flow with PKCE (`begin_authorization` /
`complete_authorization`); `client_credentials` fetches a machine token. Tokens are refreshed
before they expire with compare-and-swap on `Connection.token_version`, and a revoked OAuth
connection's token is revoked at the provider through a durable queue. Every function takes the
acting user and a session, like the rest of `connmodel.services`.
"""
