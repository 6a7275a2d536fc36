"""Reusable fixtures for browser tests: a real `panel serve` of the dashboard on a free port.

`start_dashboard(folder)` creates a SQLite database and key file in `folder` (with `connmodel
init`, optionally `connmodel demo`), serves `dashboard/app.py` against them as a subprocess, and
waits until it answers. The demo database is made by those commands once per test run and copied
for each server (with its key file): ~1.5 s saved on each of some thirty servers.
`demo_dashboard` is one such server per test module, seeded with the
seed page's demo data plus a profile whose name is markup. Sign-in is off (loopback only).

A server's output goes to a log file, never to a pipe: nobody reads a pipe while a test runs, and
a chatty server would block on a full one and hang. When it does not come up, or a test using it
fails, the failure message carries the log's tail.
"""

import atexit
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Generator, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
XSS_NAME = "<img src=x onerror=alert(1)>"
START_TIMEOUT_S = 120  # a loaded 2-core machine can take over 30 s to import Panel and start
LOG_TAIL_CHARS = 3000
# How Panel and Bokeh log an exception raised in a session's callback: never expected.
CALLBACK_FAILED = ("Callback failed for object", "exception calling callback for")
SEEDED = ("connmodel.db", "connmodel.key")  # what `connmodel init` + `demo` leave in a folder


@dataclass(frozen=True)
class Dashboard:
    url: str
    database_url: str
    env: dict[str, str]
    log: Path | None = None

    def page_url(self, query: str = "") -> str:
        return f"{self.url}/app{query}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(log: Path) -> str:
    """The end of a server's log, to put in a failure message."""
    try:
        text = log.read_bytes()[-LOG_TAIL_CHARS:].decode(errors="replace")
    except OSError as exc:
        return f"(no server log: {exc})"
    return f"--- end of the server log {log} ---\n{text or '(empty)'}"


def _wait_until_up(url: str | None, port: int, proc: subprocess.Popen[bytes],
                   timeout: float) -> None:
    """Wait for the port to listen, then (with `url`) for one first page.

    One request with a long timeout, not a retry loop: each abandoned request leaves a
    session the server still builds, and on a loaded machine it would never catch up.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            time.sleep(0.2)
            continue
        if url is None:
            return
        with urllib.request.urlopen(url, timeout=max(1.0, deadline - time.monotonic())) as r:
            if r.status == 200:
                return
    raise RuntimeError(f"the server did not answer {url or f'on port {port}'} within {timeout} s")


@contextmanager
def serving(command: list[str], *, port: int, log: Path, env: dict[str, str], cwd: Path,
            ready_url: str | None, timeout: float = START_TIMEOUT_S
            ) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server with its stdout and stderr in `log` until the block ends.

    A start-up failure, and any exception the block raises (a test that could not reach the
    server), carries the log's tail.
    """
    with log.open("wb") as out:  # the child keeps its own descriptor
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        try:
            _wait_until_up(ready_url, port, proc, timeout)
        except Exception as exc:
            raise RuntimeError(f"{exc}\n{log_tail(log)}") from exc
        try:
            yield proc
        except BaseException as exc:
            exc.add_note(log_tail(log))
            raise
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server this test started: politely, then for good after 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@cache
def _seeded_demo() -> Path:
    """A folder with a database and key file made by `connmodel init` and `connmodel demo`,
    once per run; its write-ahead log is folded into the database file, which is copied."""
    folder = Path(tempfile.mkdtemp(prefix="connmodel-demo-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    env = {**os.environ, "CONNMODEL_DATABASE_URL": f"sqlite:///{folder / SEEDED[0]}",
           "CONNMODEL_KEY_FILE": str(folder / SEEDED[1])}
    env.pop("CONNMODEL_SECRET_KEY", None)  # the key file, as start_dashboard's servers use
    for command in ("init", "demo"):
        subprocess.run([BIN / "connmodel", command], env=env, check=True, capture_output=True)
    with closing(sqlite3.connect(folder / SEEDED[0])) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return folder


@contextmanager
def start_dashboard(folder: Path, *, demo: bool = True, database_url: str | None = None,
                    init: bool = True, log: Path | None = None,
                    local_users: bool = False,
                    extra_env: dict[str, str] | None = None) -> Iterator[Dashboard]:
    """Serve the dashboard against a database in `folder`; stop it afterwards, failing if its
    log holds an exception raised in a callback (the page may look right and still be half-done).

    The server's output goes to `log` (default `folder`/dashboard.log), for tests that scan it.
    With `local_users`, it is started as `make run` does (dashboard/serve.py, sign-in required).
    `extra_env` adds to the environment of the commands and the server (a read budget).
    """
    url = database_url or f"sqlite:///{folder / 'connmodel.db'}"
    env = {**os.environ, "CONNMODEL_DATABASE_URL": url,
           "CONNMODEL_KEY_FILE": str(folder / "connmodel.key"),
           "CONNMODEL_DASHBOARD_AUTH": "local" if local_users else "none", **(extra_env or {})}
    env.pop("CONNMODEL_SECRET_KEY", None)
    if init and demo and database_url is None and extra_env is None:
        for name in SEEDED:
            shutil.copy(_seeded_demo() / name, folder / name)
    else:
        if init:
            subprocess.run([BIN / "connmodel", "init"], env=env, check=True, capture_output=True)
        if demo:
            subprocess.run([BIN / "connmodel", "demo"], env=env, check=True, capture_output=True)
    port = free_port()
    log = log or folder / "dashboard.log"
    # As `make run` serves it (dashboard/serve.py: security headers and CSP on every page);
    # the sign-in mode comes from CONNMODEL_DASHBOARD_AUTH above.
    command = [sys.executable, str(ROOT / "dashboard" / "serve.py"), "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    with serving(command, port=port, log=log, env=env, cwd=folder, ready_url=f"{base}/app"):
        yield Dashboard(base, url, env, log)
    failed = [line for line in log.read_text(errors="replace").splitlines()
              if any(mark in line for mark in CALLBACK_FAILED)]
    assert not failed, f"the dashboard logged exceptions in callbacks: {failed}\n{log_tail(log)}"


def add_markup_profile(database_url: str) -> None:
    """A profile and connection whose texts are markup, written past the name validation."""
    from sqlmodel import select

    from connmodel.models import Connection, Profile, ProviderConfig
    from connmodel.store import get_engine, session

    with session(database_url) as s:
        provider = s.exec(select(ProviderConfig).where(ProviderConfig.kind == "none")).first()
        assert provider is not None
        profile = Profile(name=XSS_NAME, environment="dev", provider_config_id=provider.id,
                          description="<b>bold</b> description")
        s.add(profile)
        s.flush()
        s.add(Connection(profile_id=profile.id, service="No Authentication Provider",
                         account="<script>alert(2)</script>", status="Error",
                         status_reason="<img src=y onerror=alert(3)>"))
        s.commit()
    get_engine(database_url).dispose()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that used a served dashboard shows the end of that server's log."""
    report: pytest.TestReport = yield
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, Dashboard) and value.log is not None:
                report.sections.append(("dashboard server log", log_tail(value.log)))
    return report


@pytest.fixture(scope="session")
def serve_dashboard():
    """`start_dashboard` for tests that need their own server (empty, broken, other data)."""
    return start_dashboard


@pytest.fixture
def markup_name() -> str:
    """The name of the profile `demo_dashboard` adds whose every text is markup."""
    return XSS_NAME


@pytest.fixture(scope="module")
def demo_dashboard(tmp_path_factory) -> Iterator[Dashboard]:
    """One served dashboard per test module over the demo data (plus the markup profile)."""
    folder = tmp_path_factory.mktemp("dashboard")
    with start_dashboard(folder) as dashboard:
        add_markup_profile(dashboard.database_url)
        yield dashboard


class PanelServe:
    """`panel serve dashboard/app.py EXTRA` from the project root, as a Panel user starts it:
    no CONNMODEL_DASHBOARD_AUTH (what serve.py sets); a database with the admin "ann"."""

    password = "correct horse battery staple"

    def __call__(self, folder: Path, *extra: str) -> tuple[Any, str]:
        from connmodel.permissions import Actor
        from connmodel.services import users
        from connmodel.store import get_engine, session

        url = f"sqlite:///{folder / 'connmodel.db'}"
        env = {**os.environ, "CONNMODEL_DATABASE_URL": url,
               "CONNMODEL_KEY_FILE": str(folder / "connmodel.key")}
        env.pop("CONNMODEL_DASHBOARD_AUTH", None)
        subprocess.run([BIN / "connmodel", "init"], env=env, check=True, capture_output=True)
        with session(url) as s:
            users.add_user(s, actor=Actor("setup"), name="ann", role="admin",
                           password=self.password)
        get_engine(url).dispose()
        port = free_port()
        command = [sys.executable, "-m", "panel", "serve", "dashboard/app.py", "--port",
                   str(port), *extra]
        base = f"http://127.0.0.1:{port}"
        return serving(command, port=port, log=folder / "panel.log", env=env, cwd=ROOT,
                       ready_url=f"{base}/app"), base


@pytest.fixture(scope="session")
def panel_serve() -> PanelServe:
    """Start `panel serve dashboard/app.py` with extra arguments (see PanelServe)."""
    return PanelServe()
