"""Behind a reverse proxy (`--public-url`), the sign-in throttle counts each client's address.

The proxy (deploy/nginx.conf) sets X-Real-IP to the peer address. Without `--use-xheaders`
every request came from the proxy's 127.0.0.1, so one attacker's failures locked everyone out.
"""

import http.client
import os
import re
import subprocess
import sys
from urllib.parse import urlencode

from servers import free_port, serving
from ui.conftest import ROOT

from connmodel.services.users import MAX_FAILURES


def attempt(port: int, client: str, user: str) -> int:
    """One failed sign-in (a wrong password) from `client`, as the proxy forwards it."""
    headers = {"Host": f"localhost:{port}", "X-Real-IP": client}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/login", headers=headers)
    page = conn.getresponse()
    body = page.read().decode()
    cookie = page.getheader("Set-Cookie").split(";", 1)[0]
    csrf = re.search(r'name="csrf" value="([^"]+)"', body).group(1)
    conn.request("POST", "/login", urlencode({"csrf": csrf, "username": user, "password": "x",
                                              "next": "/"}),
                 headers={**headers, "Cookie": cookie,
                          "Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status


def test_one_clients_failures_do_not_lock_out_another(tmp_path):
    env = {**os.environ, "CONNMODEL_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
           "CONNMODEL_KEY_FILE": str(tmp_path / "c.key"), "CONNMODEL_DASHBOARD_AUTH": "local"}
    env.pop("CONNMODEL_SECRET_KEY", None)
    subprocess.run([sys.executable, "-m", "connmodel", "init"], env=env, check=True,
                   capture_output=True)
    port = free_port()
    command = [sys.executable, str(ROOT / "dashboard" / "serve.py"), "--port", str(port),
               "--public-url", f"http://localhost:{port}"]
    with serving(command, port=port, log=tmp_path / "serve.log", env=env, cwd=tmp_path,
                 ready_url=f"http://127.0.0.1:{port}/login"):
        codes = [attempt(port, "203.0.113.7", f"guess{i}") for i in range(MAX_FAILURES + 1)]
        assert codes[:MAX_FAILURES] == [401] * MAX_FAILURES and codes[-1] == 429
        assert attempt(port, "203.0.113.8", "someone") == 401  # another client: not throttled
