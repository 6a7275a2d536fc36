"""The sign-in page takes the console's theme by the console's rule (dashboard.auth.chosen_theme):
the URL's `?theme=` when it has one, else the theme switch's cookie."""

import http.client
import os
import subprocess
import sys

from servers import free_port, serving
from ui.conftest import ROOT

CASES = [  # query, theme cookie, the page's color-scheme
    ("", None, "light"),
    ("", "dark", "dark"),
    ("?theme=dark", None, "dark"),
    # The URL wins, as on the console's pages (this page was dark with a dark cookie).
    ("?theme=default", "dark", "light"),
    ("?theme=", "dark", "light"),
    ("", "<b>", "light"),
]


def scheme(port: int, query: str, cookie: str | None) -> str:
    headers = {"Host": f"127.0.0.1:{port}",
               **({"Cookie": f"connmodel_theme={cookie}"} if cookie else {})}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", f"/login{query}", headers=headers)
    body = conn.getresponse().read().decode()
    conn.close()
    return body.split(":root{color-scheme:", 1)[1].split("}", 1)[0]


def test_the_sign_in_page_takes_the_consoles_theme(tmp_path):
    env = {**os.environ, "CONNMODEL_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
           "CONNMODEL_KEY_FILE": str(tmp_path / "c.key"), "CONNMODEL_DASHBOARD_AUTH": "local"}
    env.pop("CONNMODEL_SECRET_KEY", None)
    subprocess.run([sys.executable, "-m", "connmodel", "init"], env=env, check=True,
                   capture_output=True)
    port = free_port()
    command = [sys.executable, str(ROOT / "dashboard" / "serve.py"), "--port", str(port)]
    with serving(command, port=port, log=tmp_path / "serve.log", env=env, cwd=tmp_path,
                 ready_url=f"http://127.0.0.1:{port}/login"):
        seen = [(query, cookie, scheme(port, query, cookie)) for query, cookie, _ in CASES]
    assert seen == CASES
