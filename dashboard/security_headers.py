"""Security headers on every response of the dashboard's server (a Tornado output transform).

`panel serve` has no hook for response headers, but a Tornado application takes `transforms`:
classes that see the status, headers and first chunk of every response before it is sent: the
dashboard pages (the OAuth callback is one of them), the sign-in page, static files, OAuth
redirects, error pages. dashboard/serve.py hands `SecurityHeaders` to the Bokeh server.

Every response gets `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` (a
callback's code never leaves in a Referer) and `X-Frame-Options: DENY`; one served over https
(directly, or through a proxy with `--public-url`) also `Strict-Transport-Security`. HTML responses get the
Content-Security-Policy of `page_policy`, anything else one that allows nothing. A handler that
set its own policy keeps it (the sign-in page, dashboard/auth.py, allows no script at all).

The page policy, and why each relaxation is there (measured in Chromium against the real pages,
see tests/security/test_csp.py and the README):

- Scripts: this server's files (`'self'`, never sniffed: nosniff), blob: modules (Panel and
  es-module-shims load components' ES modules that way; only code already running can make a
  blob: URL), and inline scripts with this response's nonce, which is added here to each
  `<script>` of a Bokeh document page (fresh per response). That trusts those pages' HTML, which
  is sound because it carries no user data: the document comes over the websocket (a test checks
  the hostile data and a hostile query are not in the HTML). Every other page (Panel's OAuth
  error and logout pages echo the request) runs no script at all. No `'strict-dynamic'`: Panel's
  HTML pane re-creates the `<script>` elements in its content, which `'strict-dynamic'` would let
  run; without it they are refused, as are injected `onerror=` handlers.
- `'unsafe-hashes'` and the hashes of the page's own inline handlers (the Fast template's
  `onclick="closeNav()"`, `onChange="toggleLightDarkTheme('default')"`, ...): those, no others.
- `'unsafe-eval'`: Panel's ReactiveHTML (the notification area of `pn.extension(notifications=
  True)`) compiles its templates with `new Function`. Code that is already running could eval.
- `style-src 'unsafe-inline'`: Bokeh writes `<style>` elements and `style` attributes into each
  component's shadow root at run time (thousands per page), which no nonce or hash can cover.
- `img-src data:`: Bokeh's icons are data: SVGs. `connect-src blob:`: es-module-shims reads
  the blob: modules Panel made. Neither reaches another host.
- Stylesheets and fonts from the console only: its font is served here (`dashboard.design`), and
  its icons are inline SVG (a named `icon=` would make Bokeh link Tabler's webfont from
  jsDelivr). One image from elsewhere, by exact path: Panel's logout page links its favicon
  from Panel's CDN. `manifest-src 'self'`: Panel's pages link its web manifest.
"""

import base64
import hashlib
import html
import re
import secrets
from collections.abc import Iterable

from tornado.httputil import HTTPHeaders, HTTPServerRequest
from tornado.web import OutputTransform

CSP = "Content-Security-Policy"

IMAGE_SOURCES = ("https://cdn.holoviz.org/panel/",)

NOT_A_PAGE_POLICY = "default-src 'none'; frame-ancestors 'none'"

_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_HANDLER = re.compile(r"""\son[a-z]+\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)


def source_hash(text: str) -> str:
    """The CSP source expression ('sha256-...') for an inline script or handler text."""
    # The HTML parser turns CR LF and CR into LF before the browser hashes the text.
    normal = text.replace("\r\n", "\n").replace("\r", "\n")
    digest = hashlib.sha256(normal.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def add_nonce(page: str, nonce: str) -> str:
    """`page` with `nonce` on each of its <script> elements (their opening tags only)."""
    def tag(match: re.Match[str]) -> str:
        return f'<script nonce="{nonce}"{match.group(1)}>{match.group(2)}</script>'
    return _SCRIPT.sub(tag, page)


def handler_hashes(page: str) -> list[str]:
    """Hashes of the inline event handlers (onclick="...") in `page`, as the browser sees them."""
    texts = (html.unescape(double if double or not single else single)
             for double, single in _HANDLER.findall(page))
    return list(dict.fromkeys(source_hash(text) for text in texts))


def page_policy(nonce: str | None, handlers: list[str]) -> str:
    """The Content-Security-Policy of an HTML page (see the module docstring for each part).

    Without a nonce (a page with no script, or one this transform could not see whole) no
    script runs at all.
    """
    script = (["'none'"] if nonce is None else
              ["'self'", f"'nonce-{nonce}'", "blob:", "'unsafe-eval'",
               *(["'unsafe-hashes'", *handlers] if handlers else []), "'report-sample'"])
    return "; ".join([
        "default-src 'none'",
        f"script-src {' '.join(script)}",
        "style-src 'self' 'unsafe-inline'",
        f"img-src 'self' data: {' '.join(IMAGE_SOURCES)}",
        "font-src 'self'",
        "connect-src 'self' blob:",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


class SecurityHeaders(OutputTransform):
    """Adds the security headers to a response; puts a nonce on an app page's scripts.

    Only the Bokeh documents at `app_paths` get a nonce: their HTML is known to hold no user
    data. Any other page (Panel's OAuth error and logout pages echo text from the request)
    runs no script at all, whatever it contains. Use `for_apps` to make the class for a server.
    """

    app_paths: frozenset[str] = frozenset()

    def __init__(self, request: HTTPServerRequest) -> None:
        super().__init__(request)
        self._is_app = (request.path.rstrip("/") or "/") in self.app_paths
        self._https = request.protocol == "https"

    def transform_first_chunk(self, status_code: int, headers: HTTPHeaders, chunk: bytes,
                              finishing: bool) -> tuple[int, HTTPHeaders, bytes]:
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Frame-Options"] = "DENY"
        if self._https:
            headers["Strict-Transport-Security"] = "max-age=31536000"
        if CSP in headers:
            return status_code, headers, chunk
        if not headers.get("Content-Type", "").startswith("text/html"):
            headers[CSP] = NOT_A_PAGE_POLICY
            return status_code, headers, chunk
        if not finishing:
            # Sent in several chunks, the page may hold scripts this chunk does not show: it
            # gets no nonce, so none of its scripts run (fails closed). Bokeh sends one chunk.
            headers[CSP] = page_policy(None, [])
            return status_code, headers, chunk
        page = chunk.decode("utf-8", "replace")
        if not self._is_app or not _SCRIPT.search(page):
            headers[CSP] = page_policy(None, [])
            return status_code, headers, chunk
        nonce = secrets.token_urlsafe(18)
        headers[CSP] = page_policy(nonce, handler_hashes(page))
        chunk = add_nonce(page, nonce).encode("utf-8")
        if "Content-Length" in headers:
            headers["Content-Length"] = str(len(chunk))
        return status_code, headers, chunk


def for_apps(paths: Iterable[str]) -> type[SecurityHeaders]:
    """The transform for a server whose Bokeh documents are at `paths` ("/", "/app")."""
    normal = frozenset(path.rstrip("/") or "/" for path in paths)
    return type("AppSecurityHeaders", (SecurityHeaders,), {"app_paths": normal})
