"""A real OAuth2 / OIDC authorization server for tests, built from authlib's server components.

Flask + authlib: authorization code with PKCE (S256), refresh tokens with rotation (the old
refresh token dies when a new one is issued), client credentials, RFC 7009 revocation, RFC 7662
introspection, a discovery document and a userinfo endpoint with an e-mail. The consent page is
a form with an "Approve" and a "Deny" button, so a browser (or httpx) can click through it.

Switches make it fail the ways a real provider does: `fail["token"]` = "invalid_grant" | "401"
| "403" | "malformed"; `fail["revoke"]` = "503"; `stop()` / `start()` take the whole server
down and back up on the same port (connection refused in between).
"""

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Flask, jsonify, request
from markupsafe import escape
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

CLIENT_ID = "connmodel-test-client"
CLIENT_SECRET = "test-client-secret-9f1c2e7d"
PUBLIC_CLIENT_ID = "connmodel-dashboard"  # no secret: PKCE only (the dashboard's OIDC sign-in)
USER_EMAIL = "user@example.com"
LOOPBACK = ("http://127.0.0.1", "http://localhost", "http://[::1]")


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@dataclass
class Client:
    client_id: str
    client_secret: str

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return scope or ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri.startswith(LOOPBACK)

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if not self.client_secret:  # a public client (PKCE only), like a browser sign-in
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token", "client_credentials")


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Token:
    client_id: str
    user: str | None
    scope: str
    access_token: str
    refresh_token: str | None
    issued_at: float
    expires_in: int
    revoked: bool = False

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() > self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> str | None:
        return self.user

    def get_client(self) -> Client:
        return Client(self.client_id, "")


@dataclass
class AuthServerState:
    """Everything the server knows, shared by its handler threads under one lock."""

    clients: dict[str, Client] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    by_access: dict[str, Token] = field(default_factory=dict)
    by_refresh: dict[str, Token] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class AuthServer:
    """The server on a loopback port, run in a thread; `url` is its issuer."""

    def __init__(self, port: int = 0) -> None:
        self.state = AuthServerState()
        self.state.clients[CLIENT_ID] = Client(CLIENT_ID, CLIENT_SECRET)
        self.state.clients[PUBLIC_CLIENT_ID] = Client(PUBLIC_CLIENT_ID, "")
        self.fail: dict[str, str] = {}
        self.access_ttl = 3600
        self.code_ttl = 300
        self.user_email = USER_EMAIL
        self.deny = False
        self.id_token_email: str | None = None  # set: ID tokens carry this e-mail
        self.discovery_drop: set[str] = set()
        self.token_requests = 0
        self.token_gate = threading.Event()  # cleared: /token holds requests until it is set
        self.token_gate.set()
        self.app = self._build_app()
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> "AuthServer":
        """Listen (again) on the same port; a restart retries while the old socket lingers."""
        deadline = time.monotonic() + 5
        while True:
            try:
                self._server = make_server("127.0.0.1", self._port, self.app, threaded=True,
                                           request_handler=QuietHandler)
                break
            except SystemExit:  # werkzeug exits on EADDRINUSE
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def mint(self, prefix: str, count: int, *, expires_in: int = 60) -> None:
        """Issue `count` refresh tokens PREFIX-0 .. PREFIX-(count-1) directly (for benchmarks)."""
        now = time.time()
        with self.state.lock:
            for i in range(count):
                tok = Token(CLIENT_ID, "user-1", "openid email", f"{prefix}-access-{i}",
                            f"{prefix}-{i}", now, expires_in)
                self.state.by_access[tok.access_token] = tok
                self.state.by_refresh[f"{prefix}-{i}"] = tok

    def token(self, value: str) -> Token | None:
        """The token record for an access or refresh token (for assertions)."""
        with self.state.lock:
            return self.state.by_access.get(value) or self.state.by_refresh.get(value)

    def is_active(self, value: str) -> bool:
        """What RFC 7662 introspection would answer, read directly."""
        tok = self.token(value)
        return bool(tok and not tok.is_revoked() and (
            tok.refresh_token == value or not tok.is_expired()))

    def id_token(self, client_id: str, user: str) -> str:
        """An HS256 ID token signed with the client secret (OIDC Core 10.1)."""
        def part(data: dict[str, Any]) -> str:
            raw = json.dumps(data, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        now = int(time.time())
        signing_input = part({"alg": "HS256", "typ": "JWT"}) + "." + part(
            {"iss": self.url, "sub": user, "aud": client_id, "iat": now, "exp": now + 300,
             "email": self.id_token_email})
        secret = self.state.clients[client_id].client_secret.encode()
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()

    # --- authlib wiring ---------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask(__name__)
        state = self.state
        outer = self

        def query_client(client_id: str) -> Client | None:
            return state.clients.get(client_id)

        def save_token(token: dict[str, Any], req: Any) -> None:
            if outer.id_token_email and req.payload.grant_type == "authorization_code" \
                    and "openid" in (token.get("scope") or "").split():
                token["id_token"] = outer.id_token(req.client.client_id, req.user)
            tok = Token(client_id=req.client.client_id, user=req.user, scope=token.get("scope", ""),
                        access_token=token["access_token"],
                        refresh_token=token.get("refresh_token"), issued_at=time.time(),
                        expires_in=int(token["expires_in"]))
            with state.lock:
                state.by_access[tok.access_token] = tok
                if tok.refresh_token:
                    state.by_refresh[tok.refresh_token] = tok

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")

            def save_authorization_code(self, code: str, req: Any) -> None:
                data = req.payload.data
                with state.lock:
                    state.codes[code] = AuthCode(
                        code, req.client.client_id, req.payload.redirect_uri, req.scope or "",
                        req.user, data.get("code_challenge"), data.get("code_challenge_method"),
                        time.time() + outer.code_ttl)

            def query_authorization_code(self, code: str, client: Client) -> AuthCode | None:
                with state.lock:
                    item = state.codes.get(code)
                if item and item.client_id == client.client_id and item.expires_at > time.time():
                    return item
                return None

            def delete_authorization_code(self, authorization_code: AuthCode) -> None:
                with state.lock:
                    state.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: AuthCode) -> str:
                return authorization_code.user

        class RotatingRefreshGrant(grants.RefreshTokenGrant):
            INCLUDE_NEW_REFRESH_TOKEN = True

            def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
                with state.lock:
                    tok = state.by_refresh.get(refresh_token)
                return tok if tok and not tok.revoked else None

            def authenticate_user(self, refresh_token: Token) -> str | None:
                return refresh_token.user

            def revoke_old_credential(self, refresh_token: Token) -> None:
                with state.lock:
                    refresh_token.revoked = True

        class Revocation(RevocationEndpoint):
            def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
                return outer.token(token_string)

            def revoke_token(self, token: Token, req: Any) -> None:
                with state.lock:
                    token.revoked = True

        class Introspection(IntrospectionEndpoint):
            def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
                return outer.token(token_string)

            def introspect_token(self, token: Token) -> dict[str, Any]:
                return {"active": True, "client_id": token.client_id, "scope": token.scope,
                        "sub": token.user, "exp": int(token.issued_at + token.expires_in)}

            def check_permission(self, token: Token, client: Client, req: Any) -> bool:
                return token.client_id == client.client_id

        server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
        server.register_token_generator("default", BearerTokenGenerator(
            lambda *a, **k: secrets.token_urlsafe(32),
            lambda *a, **k: secrets.token_urlsafe(40),
            lambda client, grant_type: outer.access_ttl,
        ))
        server.register_grant(CodeGrant, [CodeChallenge(required=True)])
        server.register_grant(RotatingRefreshGrant)
        server.register_grant(grants.ClientCredentialsGrant)
        server.register_endpoint(Revocation)
        server.register_endpoint(Introspection)
        self._routes(app, server)
        return app

    def _routes(self, app: Flask, server: AuthorizationServer) -> None:
        outer = self

        @app.get("/.well-known/openid-configuration")
        @app.get("/.well-known/oauth-authorization-server")
        def discovery() -> Any:
            doc = {
                "issuer": outer.url,
                "authorization_endpoint": f"{outer.url}/authorize",
                "token_endpoint": f"{outer.url}/token",
                "revocation_endpoint": f"{outer.url}/revoke",
                "introspection_endpoint": f"{outer.url}/introspect",
                "userinfo_endpoint": f"{outer.url}/userinfo",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token",
                                          "client_credentials"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                          "client_secret_post"],
                "scopes_supported": ["openid", "email", "profile", "read", "write"],
            }
            return jsonify({k: v for k, v in doc.items() if k not in outer.discovery_drop})

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize() -> Any:
            user = "user-1"
            if request.method == "GET":
                try:
                    grant = server.get_consent_grant(end_user=user)
                except OAuth2Error as error:
                    return f"<h1>Authorization error</h1><p>{escape(error.error)}</p>", 400
                client_id = escape(grant.client.client_id)
                scope = escape(grant.request.scope or "")
                return (
                    "<!doctype html><title>Consent</title>"
                    f"<h1>Authorize {client_id}</h1><p>Scopes: {scope}</p>"
                    f"<p>Signed in as {escape(outer.user_email)}</p>"
                    '<form method="post"><button name="decision" value="approve" type="submit">'
                    'Approve</button> <button name="decision" value="deny" type="submit">'
                    "Deny</button></form>"
                )
            approved = request.form.get("decision") == "approve" and not outer.deny
            try:
                grant = server.get_consent_grant(end_user=user)
            except OAuth2Error as error:
                return f"<h1>Authorization error</h1><p>{escape(error.error)}</p>", 400
            return server.create_authorization_response(grant_user=user if approved else None,
                                                        grant=grant)

        @app.post("/token")
        def token() -> Any:
            outer.token_requests += 1
            outer.token_gate.wait(30)
            failure = outer.fail.get("token")
            if failure == "invalid_grant":
                return jsonify(error="invalid_grant",
                               error_description="The refresh token has been revoked"), 400
            if failure == "401":
                return jsonify(error="invalid_client",
                               error_description="Client authentication failed"), 401
            if failure == "403":
                return "Forbidden: this client is suspended", 403
            if failure == "malformed":
                return "<html>maintenance</html>", 200
            return server.create_token_response()

        @app.post("/revoke")
        def revoke() -> Any:
            if outer.fail.get("revoke") == "503":
                return "Service Unavailable", 503
            return server.create_endpoint_response(RevocationEndpoint.ENDPOINT_NAME)

        @app.post("/introspect")
        def introspect() -> Any:
            return server.create_endpoint_response(IntrospectionEndpoint.ENDPOINT_NAME)

        @app.get("/userinfo")
        def userinfo() -> Any:
            auth = request.headers.get("Authorization", "")
            tok = outer.token(auth.removeprefix("Bearer ").strip()) if auth else None
            if tok is None or tok.access_token != auth.removeprefix("Bearer ").strip() \
                    or tok.is_revoked() or tok.is_expired():
                return jsonify(error="invalid_token"), 401
            return jsonify(sub=tok.user, email=outer.user_email, email_verified=True)


REDIRECT_URI = "http://127.0.0.1:8765/oauth/callback"


def approve(url: str, decision: str = "approve",
            redirect_uri: str = REDIRECT_URI) -> dict[str, str]:
    """Click the consent page's button as a browser would; return the callback's parameters."""
    page = httpx.get(url)
    assert page.status_code == 200 and "Approve" in page.text, page.text
    answer = httpx.post(url, data={"decision": decision})
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(redirect_uri)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
