"""`connmodel api` as a person runs it: a real uvicorn process on a free loopback port, over a
real store (SQLite file or PostgreSQL), with one API token of each scope.

Starting the process and seeding the demo cost seconds on a loaded machine, so one API serves a
whole test module per store; its tests act on different connections and tokens.
"""

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet

from api.running import RunningApi, start_api, stop
from connmodel.permissions import Actor, Role
from connmodel.secrets import KeyRing
from connmodel.services.demo import seed_demo
from connmodel.services.tokens import add_token
from connmodel.store import session

ADMIN = Actor("alice", Role.ADMIN)
SCOPES = {"read": "read", "admin": "admin", "broker": "broker", "expiring": "read"}


@pytest.fixture(scope="module")
def api(module_store_url, tmp_path_factory) -> Iterator[RunningApi]:
    """The API over the demo store, on SQLite and on PostgreSQL, for one test module."""
    key = Fernet.generate_key()
    keyring = KeyRing((key,), "tests")
    with session(module_store_url) as s:
        seed_demo(s, actor=ADMIN, keyring=keyring)
        tokens = {name: add_token(s, actor=ADMIN, name=f"{name}-token", scope=scope)
                  for name, scope in SCOPES.items()}
    log = tmp_path_factory.mktemp("api") / "api.log"
    process, url = start_api(module_store_url, log, env={"CONNMODEL_SECRET_KEY": key.decode()})
    yield RunningApi(url, module_store_url, tokens, keyring, log)
    stop(process)
