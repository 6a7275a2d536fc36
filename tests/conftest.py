"""Shared fixtures: real stores (a SQLite file, a PostgreSQL database per test), keys, actors.

PostgreSQL tests skip when 127.0.0.1:5432 cannot be reached, unless CONNMODEL_REQUIRE_POSTGRES
is set (CI), in which case they fail.
"""

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Generator, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from servers import log_tail
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from connmodel.permissions import Actor, Role
from connmodel.schema import upgrade
from connmodel.secrets import KeyRing, load_keyring
from connmodel.services.demo import seed_demo
from connmodel.store import get_engine, session

PG_SERVER_URL = os.environ.get(
    "CONNMODEL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def _executed(url: str, *starts: str) -> Iterator[list[tuple[str, Any]]]:
    """The statements (with their parameters) run on `url`'s engine inside the block whose
    text starts with one of `starts`, in order."""
    seen: list[tuple[str, Any]] = []

    def keep(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.startswith(starts):
            seen.append((statement, parameters))

    engine = get_engine(url)
    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", keep)


@pytest.fixture
def executed() -> Callable[..., AbstractContextManager[list[tuple[str, Any]]]]:
    """`with executed(url, "SELECT count(*)") as seen:`: the statements a block ran on a store
    that start so (see _executed), for tests that check how a read is done."""
    return _executed


@pytest.fixture(autouse=True)
def expect_timeout(request):
    """Playwright's `expect` timeout is one global setting, so a module setting it at import let
    the last module imported decide for all (a notebook test waiting on a kernel got 10 s, not
    its 30, in a full run). Each browser test gets its module's EXPECT_TIMEOUT_MS, else 10 s:
    two shared cores under a full run."""
    if {"page", "browser"} & set(request.fixturenames):
        from playwright.sync_api import expect

        expect.set_options(timeout=getattr(request.module, "EXPECT_TIMEOUT_MS", 10_000))


@pytest.fixture
def keyring(tmp_path, monkeypatch) -> KeyRing:
    """A fresh key file in the test's directory, used by every library call in the test."""
    monkeypatch.delenv("CONNMODEL_SECRET_KEY", raising=False)
    monkeypatch.setenv("CONNMODEL_KEY_FILE", str(tmp_path / "connmodel.key"))
    return load_keyring(create=True)


@pytest.fixture
def admin() -> Actor:
    return Actor("alice", Role.ADMIN)


@pytest.fixture
def viewer() -> Actor:
    return Actor("victor", Role.VIEWER)


@cache
def _sqlite_template() -> Path:
    """A SQLite file migrated once per test process, copied for each test (~60 ms saved)."""
    path = Path(tempfile.mkdtemp(prefix="connmodel-template-")) / "connmodel.db"
    url = f"sqlite:///{path}"
    upgrade(get_engine(url))
    get_engine(url).dispose()  # the last connection's close folds the write-ahead log in
    atexit.register(shutil.rmtree, path.parent, ignore_errors=True)
    return path


def _migrated_sqlite(path: Path) -> str:
    """A migrated SQLite store at `path` (a copy of the process's template)."""
    shutil.copyfile(_sqlite_template(), path)
    return f"sqlite:///{path}"


@pytest.fixture
def sqlite_url(tmp_path) -> Iterator[str]:
    url = _migrated_sqlite(tmp_path / "connmodel.db")
    yield url
    get_engine(url).dispose()


def _postgres_unreachable(reason: str) -> None:
    if os.environ.get("CONNMODEL_REQUIRE_POSTGRES"):
        pytest.fail(f"PostgreSQL is required (CONNMODEL_REQUIRE_POSTGRES) but: {reason}")
    pytest.skip(f"PostgreSQL unreachable: {reason}")


@cache
def _postgres_template() -> str:
    """A database migrated once per test process, copied for each test (CREATE DATABASE ...
    TEMPLATE: a file copy, where running the migrations again cost ~0.2 s a test). Dropped when
    the process exits."""
    name = f"connmodel_template_{uuid.uuid4().hex[:12]}"
    _create_database(name)
    url = _database_url(name)
    upgrade(get_engine(url))
    get_engine(url).dispose()  # a template with a connection open cannot be copied
    atexit.register(_drop_database, name)
    return name


def _database_url(name: str) -> str:
    return PG_SERVER_URL.rsplit("/", 1)[0] + "/" + name


def _server_statement(sql: str) -> None:
    server = create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT",
                           connect_args={"connect_timeout": 3})
    try:
        with server.connect() as conn:
            conn.execute(text(sql))
    finally:
        server.dispose()


def _create_database(name: str, template: str | None = None) -> None:
    try:
        _server_statement(f'CREATE DATABASE "{name}"'
                          + (f' TEMPLATE "{template}"' if template else ""))
    except OperationalError as exc:
        _postgres_unreachable(str(exc.orig).strip().splitlines()[0])


def _drop_database(name: str) -> None:
    _server_statement(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def _postgres_database() -> Iterator[str]:
    """A new database on the local PostgreSQL, migrated, dropped on exit."""
    name = f"connmodel_test_{uuid.uuid4().hex[:12]}"
    _create_database(name, template=_postgres_template())
    url = _database_url(name)
    try:
        yield url
    finally:
        get_engine(url).dispose()
        _drop_database(name)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new database on the local PostgreSQL, migrated, dropped after the test."""
    with _postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request) -> str:
    """Each test using this runs twice: on a SQLite file and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def module_store_url(request, tmp_path_factory) -> Iterator[str]:
    """One migrated store per test module and kind, for read-only tests over a large dataset."""
    if request.param == "postgres":
        with _postgres_database() as url:
            yield url
        return
    url = _migrated_sqlite(tmp_path_factory.mktemp("store") / "connmodel.db")
    yield url
    get_engine(url).dispose()


@pytest.fixture
def db(store_url) -> Iterator[Session]:
    with session(store_url) as s:
        yield s


@pytest.fixture
def demo_url(store_url, keyring, admin) -> str:
    """A store seeded with the seed page's example profiles."""
    with session(store_url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
    return store_url


CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright launches Debian's Chromium (never a downloaded browser)."""
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium",
            "args": CHROMIUM_ARGS}


@pytest.fixture
def run_async():
    """Run a coroutine to completion on a loop in a thread of its own.

    After the browser tests, pytest-playwright's sync API holds a running loop in the main
    thread, where `asyncio.run` refuses to start another.
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    def run(coro):
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coro).result()

    return run


async def _settled() -> None:
    """Wait until the tasks a parameter change started on this loop are done.

    A view model's async watcher (a filter's re-read) is scheduled by param (or Panel) as a
    task on the running loop, not awaited by whoever set the parameter: a test awaits this
    after setting one, as the browser waits for the page to change. A task's exception is
    raised here."""
    import asyncio

    while True:
        for _ in range(3):  # let scheduled callbacks start their tasks
            await asyncio.sleep(0)
        others = asyncio.all_tasks() - {asyncio.current_task()}
        if not others:
            return
        await asyncio.gather(*others)


@pytest.fixture
def settled():
    """`await settled()`: the tasks parameter changes started on this loop are done (above)."""
    return _settled


async def _changes_while_held(catch_up, backend, method: str) -> int:
    """Five changes of the store, each while the first re-read is held in `backend.method`;
    then the reads are let go. Returns how many reads were made."""
    import asyncio
    import threading

    from connmodel.changes import Change

    gate, reads = threading.Event(), []
    real = getattr(backend, method)

    if asyncio.iscoroutinefunction(real):
        async def held(*args, **kwargs):
            reads.append(args)
            assert await asyncio.to_thread(gate.wait, 30)
            return await real(*args, **kwargs)
    else:
        def held(*args, **kwargs):
            reads.append(args)
            assert gate.wait(30)
            return real(*args, **kwargs)

    object.__setattr__(backend, method, held)
    try:
        caught = [asyncio.ensure_future(catch_up(Change(token=(n, 0, 0, 0)))) for n in range(5)]
        await asyncio.sleep(0.2)  # every change has come while the first read is held
        gate.set()
        await asyncio.gather(*caught)
    finally:
        object.__delattr__(backend, method)
    return len(reads)


@pytest.fixture
def changes_while_held():
    """`await changes_while_held(page.catch_up, page.backend, "read")`: a stream of changes."""
    return _changes_while_held


# The page's markup including every open shadow root (Panel renders its widgets in shadow DOM,
# which page.content() leaves out): what secret and escaping checks must read.
ALL_HTML_JS = """() => {
  const out = []
  const walk = (root) => {
    out.push(root.innerHTML || '')
    root.querySelectorAll('*').forEach((el) => { if (el.shadowRoot) walk(el.shadowRoot) })
  }
  walk(document.documentElement)
  return out.join('\\n')
}"""


@pytest.fixture
def page_html():
    """page_html(page): the page's markup, shadow roots included."""
    return lambda page: page.evaluate(ALL_HTML_JS)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that used a served process (a fixture value with a `log` file, such as a
    served dashboard) shows the end of that process's log."""
    report: pytest.TestReport = yield
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(log := getattr(value, "log", None), Path):
                report.sections.append(("server log", log_tail(log)))
    return report
