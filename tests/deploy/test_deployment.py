"""The shipped deployment, run whole: deploy/nginx.conf (TLS, sticky routing, websockets) in front
of `dashboard/serve.py --processes 2 --worker --public-url ...` on one PostgreSQL.

One deployment per module (starting it costs ~30 s on this machine); the tests run in order:
the pages of both processes see each other's changes within the target, also after the LISTEN
connections are killed; forged Host / Origin are refused, at nginx and at a dashboard; the
worker runs the check round once per interval whatever the pages open; killing the supervisor
stops every process.
"""

import http.client
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from servers import free_port, log_tail
from sqlalchemy import text
from ui.conftest import ROOT

from connmodel.permissions import Actor, Role
from connmodel.services.connections import ConnectionFilter, list_connections, revoke_connection
from connmodel.store import get_engine, session

# tests/conftest.py by its file: `from conftest import` finds whichever directory's conftest was
# imported last when several test directories are given on one command line (a full run).
_spec = importlib.util.spec_from_file_location("tests_conftest",
                                               Path(__file__).parents[1] / "conftest.py")
assert _spec is not None and _spec.loader is not None
_top = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_top)
_postgres_database = _top._postgres_database

pytestmark = [pytest.mark.ui, pytest.mark.postgres]

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
BIN = Path(sys.executable).parent
CHECK_INTERVAL_S = 30  # the shortest CONNMODEL_CHECK_INTERVAL allowed
# Propagation's target is p95 <= 1 s (issue 17; bench/scale.py measures it). Here the wait is
# seen through Playwright on a shared 2-core machine (load 20-40 during a full run): the bound
# is the SQLite target, still under the old per-session poll's 2.1 s p95.
TARGET_S = 2.5
ADMIN = Actor("deploy-test", Role.ADMIN)


@dataclass
class Deployment:
    url: str  # the public URL, through nginx
    nginx_port: int
    dashboard_ports: tuple[int, int]
    database_url: str
    supervisor: subprocess.Popen[bytes]
    log: Path
    started: float


def render_nginx(folder: Path, nginx_port: int, ports: tuple[int, int]) -> Path:
    """deploy/nginx.conf with this test's ports, name, certificate and files: nothing else."""
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
                   check=True, capture_output=True)
    replacements = [
        ("listen 443 ssl", f"listen 127.0.0.1:{nginx_port} ssl"),
        ("server_name console.example.com", "server_name localhost"),
        ("/etc/ssl/certs/console.example.com.pem", str(folder / "cert.pem")),
        ("/etc/ssl/private/console.example.com.key", str(folder / "key.pem")),
        ("server 127.0.0.1:5006", f"server 127.0.0.1:{ports[0]}"),
        ("server 127.0.0.1:5007", f"server 127.0.0.1:{ports[1]}"),
        ("worker_processes auto;", (f"user root; worker_processes 1; pid {folder}/nginx.pid;"
                                    f" error_log {folder}/nginx-error.log;")),
        ("http {", (f"http {{ access_log {folder}/nginx-access.log; client_body_temp_path "
                    f"{folder}/body; proxy_temp_path {folder}/proxy;")),
    ]
    for old, new in replacements:
        assert old in conf, f"deploy/nginx.conf no longer has {old!r}: update this test"
        conf = conf.replace(old, new)
    CERTIFICATE[:] = [folder / "cert.pem"]
    path = folder / "nginx.conf"
    path.write_text(conf)
    return path


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


CERTIFICATE: list[Path] = []  # the deployment's self-signed certificate, trusted here


def https_get(port: int, path: str, headers: dict[str, str] | None = None,
              ) -> tuple[int, dict[str, str], bytes]:
    context = ssl.create_default_context(cafile=str(CERTIFICATE[0]))
    conn = http.client.HTTPSConnection("localhost", port, context=context, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def health(port: int, route: str) -> dict:
    status, _, body = https_get(port, "/healthz", {"Cookie": f"connmodel_route={route}"})
    assert status == 200, body
    return json.loads(body)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    if not os.access(NGINX, os.X_OK):
        pytest.skip("nginx is not installed (make install-test installs it)")
    folder = tmp_path_factory.mktemp("deploy")
    with _postgres_database() as url:
        env = {**os.environ, "CONNMODEL_DATABASE_URL": url,
               "CONNMODEL_KEY_FILE": str(folder / "connmodel.key"),
               "CONNMODEL_CHECK_INTERVAL": str(CHECK_INTERVAL_S)}
        env.pop("CONNMODEL_SECRET_KEY", None)
        for command in (["init"], ["demo"]):
            subprocess.run([BIN / "connmodel", *command], env=env, check=True,
                           capture_output=True)
        for attempt in range(PORT_ATTEMPTS):
            ports, nginx_port = two_ports_and_one()
            public = f"https://localhost:{nginx_port}"
            log = folder / "deployment.log"
            started = time.monotonic()  # the worker's first check round is now
            with log.open("wb") as out:
                supervisor = subprocess.Popen(
                    [sys.executable, str(ROOT / "dashboard" / "serve.py"),
                     "--no-auth-on-loopback", "--port", str(ports[0]), "--processes", "2",
                     "--worker", "--public-url", public, "--pool-size", "3",
                     "--max-overflow", "2"],
                    env=env, cwd=folder, stdout=out, stderr=subprocess.STDOUT)
            try:
                if _serving(supervisor, ports, log):
                    break
            except BaseException:
                _stop(supervisor)
                raise
            if attempt == PORT_ATTEMPTS - 1:
                raise AssertionError(f"lost a port {PORT_ATTEMPTS} times\n" + log_tail(log))
        nginx = subprocess.Popen([NGINX, "-c", str(render_nginx(folder, nginx_port, ports)),
                                  "-g", "daemon off;"], cwd=folder)
        try:
            wait_for(lambda: _listening(nginx_port), 30, f"nginx on {nginx_port}")
            yield Deployment(public, nginx_port, ports, url, supervisor, log, started)
        except BaseException as exc:
            exc.add_note(log_tail(log))
            raise
        finally:
            nginx.terminate()
            nginx.wait(10)
            _stop(supervisor)
            get_engine(url).dispose()


def _stop(supervisor: subprocess.Popen[bytes]) -> None:
    if supervisor.poll() is None:
        supervisor.terminate()
        supervisor.wait(60)


PORT_ATTEMPTS = 3


def two_ports_and_one() -> tuple[tuple[int, int], int]:
    """Two consecutive free ports (the supervisor's PORT and PORT+1) and one more for nginx."""
    base = free_port(consecutive=2)
    return (base, base + 1), free_port()


def _serving(supervisor: subprocess.Popen[bytes], ports: tuple[int, int], log: Path) -> bool:
    """True once both dashboards answer; False when one lost its port to another socket, which
    the supervisor shows by ending (the child that could not bind ends the group). Anything
    else fails at once, with the log, rather than at the test's timeout."""
    deadline = time.monotonic() + 120
    while not all(_answers(port) for port in ports):
        if supervisor.poll() is not None:
            if b"already in use" in log.read_bytes():
                return False
            raise AssertionError(f"the supervisor ended with {supervisor.returncode}\n"
                                 + log_tail(log))
        if time.monotonic() > deadline:
            raise AssertionError(f"no dashboard answered on {ports} in 120 s\n"
                                 + log_tail(log))
        time.sleep(0.1)
    return True


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _answers(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False


def routes_to_each_process(d: Deployment) -> dict[int, str]:
    """A route cookie value that nginx sends to each dashboard process (by its pid)."""
    found: dict[int, str] = {}
    for i in range(64):
        found.setdefault(health(d.nginx_port, f"r{i}")["pid"], f"r{i}")
        if len(found) == 2:
            return found
    raise AssertionError(f"nginx sent 64 routes to one process: {found}")


def test_health_sticky_routing_and_a_forged_host_refused(deployment):
    d = deployment
    routes = routes_to_each_process(d)
    for pid, route in routes.items():  # the same cookie always reaches the same process
        assert {health(d.nginx_port, route)["pid"] for _ in range(3)} == {pid}
    status, headers, _ = https_get(d.nginx_port, "/healthz")
    assert status == 200 and "connmodel_route=" in headers.get("Set-Cookie", "")
    assert "Secure" in headers["Set-Cookie"] and "Strict-Transport-Security" in headers

    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        https_get(d.nginx_port, "/app", {"Host": "evil.example:9999"})  # nginx: 444
    forged = {"Host": "evil.example:9999", "Origin": "http://evil.example:9999",
              "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    for port in d.dashboard_ports:  # a client that reaches a dashboard directly
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/app/ws", headers=forged)
        assert conn.getresponse().status == 403
        conn.close()


def open_connections_page(browser, d: Deployment, route: str):
    context = browser.new_context(ignore_https_errors=True)
    context.add_cookies([{"name": "connmodel_route", "value": route, "url": d.url}])
    page = context.new_page()
    page.goto(f"{d.url}/app?page=connections")
    page.get_by_text("Hubspot Sandbox").first.wait_for(timeout=90_000)
    return page


def revoke(d: Deployment, profile: str) -> None:
    with session(d.database_url) as s:
        row = list_connections(s, actor=ADMIN, where=ConnectionFilter(profile=profile)).items[0]
        revoke_connection(s, actor=ADMIN, connection_id=row.id)


def seen_on(pages, button: str) -> float:
    """Seconds until the Revoke button named `button` is gone from every page."""
    started = time.monotonic()
    for page in pages:
        page.get_by_role("button", name=button).wait_for(state="detached", timeout=15_000)
    return time.monotonic() - started


def test_a_change_reaches_both_processes_pages_and_survives_killed_listens(deployment, browser):
    d = deployment
    routes = routes_to_each_process(d)
    pages = [open_connections_page(browser, d, route) for route in routes.values()]
    cases = [("Hubspot", "Revoke Hubspot connection (Configured)"),
             ("Google", "Revoke Google connection (user@example.com)"),
             ("Noauth", "Revoke Noauth connection (Configured)")]
    for _, button in cases:
        for page in pages:
            page.get_by_role("button", name=button).wait_for()
    took = []
    for profile, button in cases[:2]:
        revoke(d, profile)
        took.append(seen_on(pages, button))
    print(f"propagation to both processes' pages: {[round(t, 2) for t in took]} s "
          f"(load average {os.getloadavg()[0]:.1f})")
    assert statistics.median(took) <= TARGET_S and max(took) <= 2 * TARGET_S, took

    with session(d.database_url) as s:  # every process's LISTEN connection, killed
        killed = s.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE query = 'LISTEN connmodel_changes' AND datname = current_database()"
        )).scalars().all()
    assert killed == [True, True]
    profile, button = cases[2]
    revoke(d, profile)
    assert seen_on(pages, button) <= 10  # reconnected (back-off from 0.2 s) and caught up
    for page in pages:
        page.context.close()


def test_the_worker_runs_each_check_round_once_whatever_the_pages(deployment, browser):
    d = deployment
    routes = list(routes_to_each_process(d).values())
    contexts = [browser.new_context(ignore_https_errors=True) for _ in range(4)]
    for i, context in enumerate(contexts):
        context.add_cookies([{"name": "connmodel_route", "value": routes[i % 2], "url": d.url}])
        context.new_page().goto(f"{d.url}/app?page=servers")
    wait_for(lambda: time.monotonic() - d.started > CHECK_INTERVAL_S + 5, 120, "two intervals")
    elapsed = time.monotonic() - d.started
    rounds = len(re.findall(r"check round: \d+ connections", d.log.read_text()))
    expected = int(elapsed // CHECK_INTERVAL_S) + 1
    assert expected - 1 <= rounds <= expected, (rounds, elapsed)
    for context in contexts:
        context.close()


def children_of(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def test_killing_the_supervisor_stops_every_process(deployment):
    d = deployment
    children = children_of(d.supervisor.pid)
    assert len(children) == 3  # two dashboards and the worker
    d.supervisor.send_signal(signal.SIGKILL)
    d.supervisor.wait(10)
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in children), 120,
             "the dashboards and the worker to exit")
    assert not any(_listening(p) for p in d.dashboard_ports)
