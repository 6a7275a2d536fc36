"""Where sign-in sends the browser next: only a path of this server, as a browser reads it."""

import pytest

from dashboard.auth import safe_next


@pytest.mark.parametrize("target", [
    "//evil.example/x", "https://evil.example/", "javascript:alert(1)", "evil.example",
    "/\\evil.example/phish", "\\\\evil.example", "/\t/evil.example", "/\n/evil.example",
    "/\x00/evil.example", "\\/evil.example", " //evil.example", "", None,
])
def test_other_origins_become_the_front_page(target):
    assert safe_next(target) == "/"


@pytest.mark.parametrize(("target", "path"), [
    ("/app?page=connections&status=Error", "/app?page=connections&status=Error"),
    ("/app\\x", "/app/x"),
    ("/app?q=a\tb", "/app?q=ab"),
])
def test_paths_of_this_server_are_kept_as_a_browser_reads_them(target, path):
    assert safe_next(target) == path
