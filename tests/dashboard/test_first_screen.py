"""What a kept session's HTML is keyed by (dashboard.first_screen): the page and its theme."""

import pytest
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

from dashboard.first_screen import html_key


def request(uri: str, cookie: str | None = None) -> HTTPServerRequest:
    return HTTPServerRequest(start_line=RequestStartLine("GET", uri, "HTTP/1.1"),
                             headers=HTTPHeaders({"Host": "127.0.0.1", **({"Cookie": cookie} if cookie else {})}))


@pytest.mark.parametrize(("uri", "cookie", "key"), [
    ("/app?page=connections", None, ("/app", "default")),
    ("/app?page=activity", None, ("/app", "default")),  # one HTML for every page
    ("/", None, ("/", "default")),
    ("/app", "connmodel_theme=dark", ("/app", "dark")),  # the theme switch's cookie
    ("/app", "connmodel_theme=default; other=1", ("/app", "default")),
    ("/app?theme=default", "connmodel_theme=dark", ("/app", "default")),  # the URL wins
    ("/app?theme=dark", None, ("/app", "dark")),
    ("/app", "connmodel_theme=<b>", ("/app", "default")),  # anything else: the default
    ("/app?theme=x1", None, ("/app", "default")),  # or each value would keep a session more
    # An empty ?theme= is the URL's choice, as remembered_theme takes it: Panel's default,
    # whatever the cookie (keyed "dark", the page got dark HTML around a default document).
    ("/app?theme=", "connmodel_theme=dark", ("/app", "default")),
])
def test_a_page_is_keyed_by_its_path_and_theme(uri, cookie, key):
    assert html_key(request(uri, cookie)) == key
