"""Reusable fixtures for browser tests: a real `panel serve` of the dashboard on a free port.

`start_dashboard(folder)` creates a SQLite database and key file in `folder` (with `connmodel
init`, optionally `connmodel demo`), serves `dashboard/app.py` against them as a subprocess, and
waits until it answers. The demo database is made by those commands once per test run and copied
for each server (with its key file): ~1.5 s saved on each of some thirty servers.
`demo_dashboard` is one such server per test module, seeded with the
seed page's demo data plus a profile whose name is markup. Sign-in is off (loopback only).

Servers are started, waited for and stopped by tests/servers.py, which says how their ports are
chosen and where their output goes.
"""

import atexit
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from servers import free_port, log_tail, serving

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
XSS_NAME = "<img src=x onerror=alert(1)>"
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
