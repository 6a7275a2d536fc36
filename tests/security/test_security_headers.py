"""dashboard/security_headers.py on its own: which policy each kind of response gets.

The browser tests (test_csp.py) show the policy fits the real pages; these pin the edges a
browser run does not reach: pages sent in several chunks, pages without scripts, other types.
"""

from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

from dashboard.security_headers import (
    CSP,
    NOT_A_PAGE_POLICY,
    add_nonce,
    for_apps,
    handler_hashes,
    source_hash,
)

PAGE = (b'<html><head><script type="text/javascript">go()</script>'
        b'<script src="static/x.js"></script></head>'
        b'<body><span onclick="closeNav()">=</span><a onClick=\'f(&quot;x&quot;)\'>f</a>'
        b'</body></html>')


def transform(body: bytes, content_type: str = "text/html", finishing: bool = True,
              path: str = "/app", **extra: str) -> tuple[HTTPHeaders, bytes]:
    headers = HTTPHeaders({"Content-Type": content_type, "Content-Length": str(len(body)),
                           **extra})
    step = for_apps(["/app", "/"])(HTTPServerRequest(
        start_line=RequestStartLine("GET", path, "HTTP/1.1"),
        headers=HTTPHeaders({"Host": "127.0.0.1"})))
    _, headers, chunk = step.transform_first_chunk(200, headers, body, finishing)
    return headers, chunk


def directive(policy: str, name: str) -> str:
    return next(part.strip() for part in policy.split(";") if part.strip().startswith(name))


def test_a_page_gets_a_fresh_nonce_on_each_of_its_scripts_and_its_handlers_hashes():
    headers, chunk = transform(PAGE)
    scripts = directive(headers[CSP], "script-src")
    nonce = scripts.split("'nonce-")[1].split("'")[0]
    page = chunk.decode()
    assert page.count(f'<script nonce="{nonce}"') == 2
    assert page.replace(f' nonce="{nonce}"', "") == PAGE.decode()
    assert headers["Content-Length"] == str(len(chunk))
    assert source_hash("closeNav()") in scripts and source_hash('f("x")') in scripts
    assert "'unsafe-inline'" not in scripts and "'strict-dynamic'" not in scripts
    assert directive(headers[CSP], "frame-ancestors") == "frame-ancestors 'none'"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    other, _ = transform(PAGE)
    assert f"'nonce-{nonce}'" not in other[CSP]


def test_pages_without_scripts_not_seen_whole_or_not_an_app_run_no_script():
    headers, chunk = transform(b"<html><body>404: Not Found</body></html>")
    assert directive(headers[CSP], "script-src") == "script-src 'none'"
    for path in ("/app/", "/"):
        headers, chunk = transform(PAGE, path=path)
        assert "'nonce-" in headers[CSP]
    # Panel's OAuth error page echoes the request: a <script> there must not get a nonce.
    headers, chunk = transform(PAGE, path="/login")
    assert directive(headers[CSP], "script-src") == "script-src 'none'" and chunk == PAGE
    headers, chunk = transform(PAGE, finishing=False)
    assert directive(headers[CSP], "script-src") == "script-src 'none'"
    assert chunk == PAGE


def test_other_responses_allow_nothing_and_a_handlers_own_policy_is_kept():
    headers, chunk = transform(b"console.log(1)", "application/javascript")
    assert headers[CSP] == NOT_A_PAGE_POLICY and chunk == b"console.log(1)"
    assert headers["X-Content-Type-Options"] == "nosniff"
    own = "default-src 'none'; form-action 'self'"
    headers, chunk = transform(PAGE, **{CSP: own})
    assert headers[CSP] == own and chunk == PAGE


def test_helpers_match_what_a_browser_hashes():
    assert add_nonce("<SCRIPT>a</SCRIPT>", "n") == '<script nonce="n">a</script>'
    # The hash under which Chromium runs the template's `closeNav()` (test_csp.py clicks it).
    assert source_hash("closeNav()") == "'sha256-YLps+kgjXfkB4cAERGB7IKBbIr/kBFROU3A65JJ/HJ8='"
    assert source_hash("a\r\nb") == source_hash("a\nb")
    assert handler_hashes('<b onmouseover="x()" onmouseover="x()">') == [source_hash("x()")]
