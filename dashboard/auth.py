"""Sign-in for the dashboard: a Bokeh auth module over connmodel's local users.

`panel serve dashboard/app.py --auth-module dashboard/auth.py` (what `make run` does) sends every
request without a valid session cookie to /login. The cookie holds a random token; the store
keeps its SHA-256 and an expiry (connmodel.services.users). Throttling, hashing and auditing live
in the service; this module only speaks HTTP.
"""

import html
import os
import re
import secrets
from collections.abc import Mapping
from urllib.parse import urlsplit

from tornado.web import RequestHandler

from connmodel.errors import AuthenticationFailed, ConnModelError, Throttled
from connmodel.permissions import Actor, Role
from connmodel.services import users
from connmodel.store import session

SESSION_COOKIE = "connmodel_session"
CSRF_COOKIE = "connmodel_login_csrf"
login_url = "/login"
logout_url = "/logout"


LOCAL_ADMIN = Actor("local-admin", Role.ADMIN)
# Panel's OAuth sign-in (OIDC mode) keeps the signed-in user in these cookies; `user` is a
# signed value made at sign-in, so it names one sign-in (its SHA-256 keys the store's session).
OIDC_COOKIE = "user"
OIDC_COOKIES = ("user", "id_token", "access_token", "refresh_token", "oauth_expiry", "state")


def current_actor(cookies: dict[str, str], oauth_user: str | None = None) -> Actor | None:
    """Who is using this browser session, by the sign-in mode dashboard/serve.py chose.

    None means nobody is signed in: the page then says how to sign in and shows nothing else.
    Started without serve.py (no mode set), sign-in is required, which is the safe default.
    """
    mode = os.environ.get("CONNMODEL_DASHBOARD_AUTH", "local")
    if mode == "none":
        return LOCAL_ADMIN
    if mode == "oidc":
        cookie = cookies.get(OIDC_COOKIE)
        if not oauth_user or not cookie:
            return None
        admins = {a.strip() for a in os.environ.get("CONNMODEL_OIDC_ADMINS", "").split(",")}
        with session() as s:  # recorded as a session, so sign-out, demotion etc. end it
            return users.external_sign_in(s, name=oauth_user, key=users.external_key(cookie),
                                          admin=oauth_user in admins)
    token = cookies.get(SESSION_COOKIE)
    if not token:
        return None
    with session() as s:
        return users.actor_for_token(s, token)


def get_user(request_handler: RequestHandler) -> str | None:
    """The signed-in user's name for Bokeh (HTTP and websocket), or None → /login."""
    token = request_handler.get_cookie(SESSION_COOKIE)
    if not token:
        return None
    try:
        with session() as s:
            actor = users.actor_for_token(s, token)
    except ConnModelError:
        return None
    return actor.name if actor else None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_next(target: str | None) -> str:
    """Only a path on this server, read as a browser reads it: '//evil.example',
    'https://evil.example', '/\\evil.example' and '/' TAB '/evil.example' all become '/'.

    Browsers drop tabs and newlines from a URL and take a backslash for a slash, so both are
    normalised before the check, and the normalised path is what is returned.
    """
    path = _CONTROL.sub("", target or "").replace("\\", "/")
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or not path.startswith("/") or path.startswith("//"):
        return "/"
    return path


THEME_COOKIE = "connmodel_theme"  # set by the console's theme switch (components.template_tweaks)


def chosen_theme(arguments: Mapping[str, list[bytes]], cookie: str | None) -> str:
    """A page's theme, "dark" or "default": the URL's `?theme=` when it has one (even empty:
    Panel's default), else the cookie the theme switch writes. `arguments` are the request's
    (Tornado's, or `pn.state.session_args`); any other value is the default."""
    chosen = arguments["theme"][0] if "theme" in arguments else (cookie or "").encode()
    return "dark" if chosen == b"dark" else "default"

# No script runs on this page (its policy allows none), so it cannot read Panel's design
# variables: it takes the browser's own light or dark palette (CSS system colours under
# `color-scheme`), chosen as the console's pages choose (`chosen_theme`). No colour is written.
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · connmodel</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
:root{{color-scheme:{scheme}}}
body{{font-family:system-ui,sans-serif;background:Canvas;color:CanvasText;display:flex;
justify-content:center;align-items:center;min-height:100vh;margin:0}}
form{{background:Canvas;padding:2rem 2.5rem;border-radius:8px;border:1px solid GrayText;
width:20rem;max-width:calc(100vw - 6rem)}}
h1{{font-size:1.3rem;margin:0 0 .3rem}} p.sub{{margin:0 0 1.2rem;font-size:.9rem}}
label{{display:block;font-size:.85rem;margin:.8rem 0 .2rem}}
input[type=text],input[type=password]{{width:100%;box-sizing:border-box;padding:.5rem;
border:1px solid CanvasText;border-radius:4px;font-size:1rem;background:Field;color:FieldText}}
button{{margin-top:1.2rem;width:100%;padding:.6rem;background:CanvasText;color:Canvas;border:0;
border-radius:4px;font-size:1rem;cursor:pointer}}
button:focus-visible,input:focus-visible{{outline:2px solid CanvasText;outline-offset:2px}}
.error,.done{{border-left:4px solid CanvasText;padding:.5rem .7rem;font-size:.9rem}}
.error{{font-weight:600}}
</style></head><body><main>
<form method="post" action="/login">
<h1>connmodel</h1><p class="sub">Connections &amp; Profiles of the MCP gateway</p>
{error}
<input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="next" value="{next}">
<label for="username">User name</label>
<input id="username" name="username" type="text" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form></main></body></html>"""
SIGNED_OUT = "signed_out"  # /login?signed_out=1, where Sign out lands


class LoginHandler(RequestHandler):
    """GET shows the form; POST checks the password through the users service."""

    def _cookie_flags(self) -> dict[str, object]:
        return {"httponly": True, "samesite": "Strict", "path": "/",
                "secure": self.request.protocol == "https"}

    def _page(self, error: str = "", status: int = 200) -> None:
        csrf = secrets.token_urlsafe(24)
        self.set_cookie(CSRF_COOKIE, csrf, **self._cookie_flags())  # type: ignore[arg-type]
        self.set_status(status)
        self.set_header("Content-Security-Policy",
                        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                        "frame-ancestors 'none'")
        self.set_header("X-Frame-Options", "DENY")
        box = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
        if not error and self.get_argument(SIGNED_OUT, ""):
            box = '<p class="done" role="status">You are signed out.</p>'
        nxt = html.escape(safe_next(self.get_argument("next", "/")), quote=True)
        dark = chosen_theme(self.request.arguments, self.get_cookie(THEME_COOKIE)) == "dark"
        self.write(PAGE.format(error=box, csrf=csrf, next=nxt,
                               scheme="dark" if dark else "light"))

    def get(self) -> None:
        self._page()

    def post(self) -> None:
        expected = self.get_cookie(CSRF_COOKIE)
        sent = self.get_body_argument("csrf", "")
        if not expected or not secrets.compare_digest(expected, sent):
            self._page("Your sign-in form expired: please try again.", 400)
            return
        name = self.get_body_argument("username", "").strip()
        password = self.get_body_argument("password", "")
        try:
            with session() as s:
                token = users.sign_in(s, name=name, password=password,
                                      address=self.request.remote_ip or "?")
        except Throttled as exc:
            self.set_header("Retry-After", str(exc.retry_after))
            self._page(str(exc).capitalize() + ".", 429)
            return
        except AuthenticationFailed:
            self._page("Wrong user name or password.", 401)
            return
        except ConnModelError as exc:
            self._page(f"Sign-in is unavailable: {exc}", 503)
            return
        self.clear_cookie(CSRF_COOKIE, path="/")
        self.set_cookie(SESSION_COOKIE, token, expires_days=users.SESSION_TTL.total_seconds() / 86400,
                        **self._cookie_flags())  # type: ignore[arg-type]
        self.redirect(safe_next(self.get_body_argument("next", "/")))


class LogoutHandler(RequestHandler):
    """End the session in the store, clear the cookie, back to the sign-in page, which says so."""

    def get(self) -> None:
        token = self.get_cookie(SESSION_COOKIE)
        if token:
            try:
                with session() as s:
                    users.sign_out(s, token)
            except ConnModelError:
                pass  # the cookie is cleared anyway; the session expires on its own
        self.clear_cookie(SESSION_COOKIE, path="/")
        self.redirect(f"{login_url}?{SIGNED_OUT}=1")


class OidcLogoutHandler(RequestHandler):
    """/logout in OIDC mode: ends the sign-in in the store (so every open page of it loses its
    write power at once, as a local sign-out does), then clears Panel's OAuth cookies as
    Panel's own logout does. The identity provider's session is the provider's: the way back
    in goes through it."""

    def get(self) -> None:
        cookie = self.get_cookie(OIDC_COOKIE)
        if cookie:
            try:
                with session() as s:
                    users.end_external_session(s, users.external_key(cookie))
            except ConnModelError:
                pass  # the cookies are cleared anyway; the session expires on its own
        path = os.environ.get("PANEL_COOKIE_PATH", "/")
        for name in OIDC_COOKIES:
            self.clear_cookie(name, path=path)
        self.set_header("Content-Security-Policy",
                        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
        self.set_header("X-Frame-Options", "DENY")
        self.write(SIGNED_OUT_PAGE)


SIGNED_OUT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Signed out · connmodel</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>:root{color-scheme:light dark}body{font-family:system-ui,sans-serif;margin:3rem}</style>
</head><body><main><h1>connmodel</h1><p role="status">You are signed out.</p>
<p><a href="/login">Sign in</a></p></main></body></html>"""
