"""CPU per credential-broker request, measured in-process so a busy shared machine does not skew it.

`python bench/broker_profile.py` seeds a SQLite file and a fresh PostgreSQL database (on the
server of CONNMODEL_TEST_POSTGRES_URL, dropped at the end) with N generated connections, a
fleet of API-key servers and a broker token, then drives the real ASGI app
(connmodel.api.app.create_app) with `POST /api/v1/credentials` for a random fleet server and
prints, per store, the process CPU time (time.process_time) per request of each stage and of
the whole request, then a cProfile top 20. `--uvicorn` also runs `connmodel api` on loopback
and reads the server process's CPU per request (psutil), which adds uvicorn's own share.

CPU time, not wall time: it does not grow when other processes take the cores, so before and
after compare on a loaded machine. A store's database round trips cost the server's CPU too
(PostgreSQL's backend), which this does not count: the `--uvicorn` figure does not either.
"""

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from connmodel.api.app import create_app
from connmodel.broker import credential_for
from connmodel.permissions import Actor, Role
from connmodel.providers.connect import connect_profile
from connmodel.schema import upgrade
from connmodel.secrets import ENV_KEY, KeyRing
from connmodel.services.generate import generate
from connmodel.services.profiles import create_profile, create_provider_config
from connmodel.services.servers import add_server
from connmodel.services.tokens import add_token, authenticate, token_hash
from connmodel.store import get_engine, session

ADMIN = Actor("bench", Role.ADMIN)
PG_SERVER = os.environ.get("CONNMODEL_TEST_POSTGRES_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_DB = "connmodel_broker_profile"
CONNMODEL = str(Path(sys.executable).parent / "connmodel")


def seed(url: str, keyring: KeyRing, connections: int, fleet: int) -> tuple[str, list[str]]:
    """Generated connections, `fleet` API-key profiles with one server each; the broker token
    and the fleet's server names."""
    upgrade(get_engine(url))
    with session(url) as s:
        generate(s, actor=ADMIN, connections=connections, profiles=max(1, connections // 100),
                 seed=18)
    names = [f"fleet-{i:03d}" for i in range(fleet)]
    with session(url) as s:
        provider = create_provider_config(s, actor=ADMIN, name="Profile key provider",
                                          kind="api_key", settings={"header": "X-API-Key"},
                                          keyring=keyring)
        s.commit()
        for i, name in enumerate(names):
            create_profile(s, actor=ADMIN, name=f"Fleet {i:03d}", provider_config_id=provider.id)
            add_server(s, actor=ADMIN, name=name, url=f"http://127.0.0.1:9/fleet/{i}/mcp")
            s.commit()
            connect_profile(s, actor=ADMIN, keyring=keyring, profile=f"Fleet {i:03d}",
                            api_key=f"fleet-key-{i:03d}-0123456789", servers=[name])
        token = add_token(s, actor=ADMIN, name="profile-broker", scope="broker")
    return token, names


ROUNDS = 3  # each figure is the least of this many rounds: a busy machine only adds


def per_call_ms(fn: Callable[[], Any], n: int) -> float:
    """Process CPU ms per call of `fn`, after a warm-up: the least of ROUNDS rounds of n calls."""
    for _ in range(min(50, n)):
        fn()
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, (time.process_time() - start) * 1000 / n)
    return best


class Asgi:
    """Calls the ASGI app as a server would, without a socket or an HTTP client's cost."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.token = app, token

    async def post(self, server: str) -> tuple[int, bytes]:
        body = json.dumps({"server": server}).encode()
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": "/api/v1/credentials",
                 "raw_path": b"/api/v1/credentials", "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                             (b"content-length", str(len(body)).encode()),
                             (b"authorization", f"Bearer {self.token}".encode())],
                 "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
        sent: list[dict[str, Any]] = []
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, receive, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def through_app(app: Any, token: str, names: list[str], n: int) -> Callable[[], None]:
    """One function running `n` requests on one event loop (as uvicorn's single loop would)."""
    client = Asgi(app, token)
    loop = asyncio.new_event_loop()

    async def many() -> None:
        for _ in range(n):
            status, body = await client.post(random.choice(names))
            if status != 200:
                raise RuntimeError(f"broker answered {status}: {body[:300]!r}")

    return lambda: loop.run_until_complete(many())


def app_ms(app: Any, token: str, names: list[str], n: int) -> float:
    """CPU ms per request through the app: the least of ROUNDS rounds of n requests."""
    run = through_app(app, token, names, n)
    through_app(app, token, names, 50)()  # warm-up
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.process_time()
        run()
        best = min(best, (time.process_time() - start) * 1000 / n)
    return best


def stages(url: str, keyring: KeyRing, token: str, names: list[str], n: int
           ) -> dict[str, float]:
    """CPU ms per request of each stage, and of the whole request through the app."""
    secret = None
    with session(url) as s:
        found = credential_for(s, token=token, keyring=keyring, server=names[0])
        secret = found.header_value
    assert secret
    sealed = keyring.encrypt(secret)

    def auth() -> None:
        with session(url) as s:
            authenticate(s, token, address="127.0.0.1")

    def broker() -> None:
        with session(url) as s:
            credential_for(s, token=token, keyring=keyring, server=random.choice(names))

    app = create_app(url)
    app.state.settings.keyring = keyring
    return {
        "token hash (sha256)": per_call_ms(lambda: token_hash(token), n),
        "decrypt (Fernet)": per_call_ms(lambda: keyring.decrypt(sealed), n),
        "authenticate (session + lookup)": per_call_ms(auth, n),
        "credential_for (session + token + reads)": per_call_ms(broker, n),
        "whole request through the ASGI app": app_ms(app, token, names, n),
    }


def profile(url: str, keyring: KeyRing, token: str, names: list[str], n: int, top: int) -> str:
    app = create_app(url)
    app.state.settings.keyring = keyring
    run = through_app(app, token, names, n)
    profiler = cProfile.Profile()
    profiler.runcall(run)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def uvicorn_ms(url: str, key: bytes, token: str, names: list[str], n: int) -> float:
    """CPU ms per request of a real `connmodel api` process on loopback, one client at a time."""
    port = 18000 + random.randrange(1000)
    process = subprocess.Popen([CONNMODEL, "api", "--port", str(port), "--database", url],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, ENV_KEY: key.decode()})
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.get("/openapi.json")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError("connmodel api did not start") from None
                    time.sleep(0.2)
            for _ in range(100):
                client.post("/api/v1/credentials", json={"server": random.choice(names)})
            server = psutil.Process(process.pid)
            before = server.cpu_times()
            for _ in range(n):
                answer = client.post("/api/v1/credentials", json={"server": random.choice(names)})
                answer.raise_for_status()
            after = server.cpu_times()
        return (after.user + after.system - before.user - before.system) * 1000 / n
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--connections", type=int, default=20_000)
    parser.add_argument("--fleet", type=int, default=100)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--uvicorn", action="store_true", help="also a real uvicorn process")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    random.seed(18)
    key = Fernet.generate_key()
    keyring = KeyRing((key,), ENV_KEY)
    rows: dict[str, dict[str, float]] = {}
    profiles: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        pg_admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
        for store in args.stores.split(","):
            if store == "sqlite":
                url = f"sqlite:///{tmp}/broker.db"
            else:
                with pg_admin.connect() as c:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
                    c.execute(text(f'CREATE DATABASE "{PG_DB}"'))
                url = PG_SERVER.rsplit("/", 1)[0] + "/" + PG_DB
            try:
                print(f"seeding {store}: {args.connections:,} connections ...", file=sys.stderr)
                token, names = seed(url, keyring, args.connections, args.fleet)
                rows[store] = stages(url, keyring, token, names, args.requests)
                if args.uvicorn:
                    rows[store]["whole request in a uvicorn process"] = uvicorn_ms(
                        url, key, token, names, args.requests)
                if not args.no_profile:
                    profiles[store] = profile(url, keyring, token, names, args.requests, args.top)
            finally:
                get_engine(url).dispose()
                if store != "sqlite":
                    with pg_admin.connect() as c:
                        c.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
        pg_admin.dispose()
    stores = list(rows)
    print(f"\nCPU ms per broker request ({args.requests:,} requests, "
          f"{args.connections:,} connections)\n")
    print(f"{'stage':40}" + "".join(f"{s:>12}" for s in stores))
    for stage in rows[stores[0]]:
        print(f"{stage:40}" + "".join(f"{rows[s][stage]:>12.3f}" for s in stores))
    for store, text_ in profiles.items():
        print(f"\ncProfile of {args.requests:,} requests through the app, {store}, "
              f"top {args.top} by own time:\n{text_}")


if __name__ == "__main__":
    main()
