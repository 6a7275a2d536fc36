"""The sign-in page takes the console's theme by the console's rule (dashboard.auth.chosen_theme):
the URL's `?theme=` when it has one, else the theme switch's cookie."""

from tornado.testing import AsyncHTTPTestCase
from tornado.web import Application

from dashboard.auth import LoginHandler

CASES = [  # query, theme cookie, the page's color-scheme
    ("", None, "light"),
    ("", "dark", "dark"),
    ("?theme=dark", None, "dark"),
    # The URL wins, as on the console's pages (this page was dark with a dark cookie).
    ("?theme=default", "dark", "light"),
    ("?theme=", "dark", "light"),
    ("", "<b>", "light"),
]


class TestSignInTheme(AsyncHTTPTestCase):
    def get_app(self) -> Application:
        return Application([("/login", LoginHandler)])

    def test_the_sign_in_page_takes_the_consoles_theme(self) -> None:
        for query, cookie, scheme in CASES:
            with self.subTest(query=query, cookie=cookie):
                headers = {"Cookie": f"connmodel_theme={cookie}"} if cookie else {}
                body = self.fetch(f"/login{query}", headers=headers).body.decode()
                assert f":root{{color-scheme:{scheme}}}" in body
