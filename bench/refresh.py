"""Refresh benchmark: 10,000 OAuth tokens expiring in the next window, refreshed against a real
local authlib server with bounded concurrency, while a "dashboard" keeps listing connections.

The authorization server (tests/providers/authserver.py: Flask + authlib, rotating refresh
tokens) runs in its own process on a loopback port and mints the refresh tokens; the store is a
SQLite file (or PostgreSQL with --store postgres) seeded with one OAuth connection per token.
Measured in the same run:

- baseline: the same number of bare authlib `refresh_token` calls at the same concurrency, no
  database (the ceiling the server and HTTP allow);
- connmodel: `refresh_due`'s path (claim, provider call, compare-and-swap write, check result),
  timed per connection;
- dashboard: p95 of a first page of `list_connections` (50 rows + count), idle and while the
  refresh runs (target <= 50 ms).

Prints a table and writes bench/results/refresh-STORE.json.
Run: `python bench/refresh.py` or `python bench/refresh.py --tokens 2000 --store postgres`.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from authlib.integrations.httpx_client import OAuth2Client
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, insert, text

from connmodel.models import Connection, utcnow
from connmodel.permissions import Actor
from connmodel.providers.client import TokenSet
from connmodel.providers.connect import create_oauth_provider
from connmodel.providers.refresh import due_ids, refresh_connection
from connmodel.schema import upgrade
from connmodel.secrets import KeyRing
from connmodel.services.connections import list_connections
from connmodel.services.profiles import create_profile
from connmodel.store import get_engine, session

RESULTS = Path(__file__).parent / "results"
TESTS = Path(__file__).parents[1] / "tests" / "providers"
ACTOR = Actor("bench")
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DASHBOARD_TARGET_MS = 50.0

SERVER = """
import sys
sys.path.insert(0, {tests!r})
from authserver import AuthServer
server = AuthServer().start()
server.mint("bench", {bench}, expires_in=120)
server.mint("base", {base}, expires_in=120)
print(server.url, flush=True)
sys.stdin.read()
"""


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)


def start_server(bench: int, base: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-c", SERVER.format(tests=str(TESTS), bench=bench,
                                                                 base=base)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def store_url(kind: str, tmp: str) -> tuple[str, str | None]:
    if kind == "sqlite":
        return f"sqlite:///{tmp}/refresh.db", None
    name = f"bench_refresh_{uuid.uuid4().hex[:8]}"
    with create_engine(PG_SERVER, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return PG_SERVER.rsplit("/", 1)[0] + "/" + name, name


def seed(url: str, keyring: KeyRing, issuer: str, tokens: int) -> None:
    from authserver import CLIENT_ID, CLIENT_SECRET

    upgrade(get_engine(url))
    with session(url) as s:
        provider = create_oauth_provider(s, actor=ACTOR, keyring=keyring, name="Local OIDC",
                                         client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                         scopes="openid email", issuer=issuer)
        profile = create_profile(s, actor=ACTOR, name="Local", provider_config_id=provider.id)
        s.commit()
        expires = utcnow() + timedelta(minutes=2)
        rows = [
            {"profile_id": profile.id, "service": provider.name, "account": f"user{i}@example.com",
             "status": "Active", "credential_enc": keyring.encrypt(TokenSet(
                 f"bench-access-{i}", f"bench-{i}", expires.timestamp()).to_json()),
             "expires_at": expires, "created_at": utcnow(), "token_version": 1,
             "refresh_failures": 0}
            for i in range(tokens)
        ]
        for start in range(0, len(rows), 2000):
            s.execute(insert(Connection), rows[start:start + 2000])
        s.commit()
    if url.startswith("postgresql"):  # fresh statistics, as `connmodel generate` leaves them
        with get_engine(url).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))


def baseline(issuer: str, count: int, concurrency: int) -> dict[str, float]:
    """Bare authlib refreshes, no database: what the server and HTTP allow."""
    from authserver import CLIENT_ID, CLIENT_SECRET

    local = threading.local()

    def one(i: int) -> float:
        if not hasattr(local, "client"):
            local.client = OAuth2Client(CLIENT_ID, CLIENT_SECRET)
        started = time.perf_counter()
        local.client.refresh_token(f"{issuer}/token", refresh_token=f"base-{i}")
        return (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(one, range(count)))
    elapsed = time.perf_counter() - started
    return {"tokens": count, "seconds": elapsed, "tokens_per_s": count / elapsed,
            "p95_ms": p95(latencies)}


def probe(url: str, stop: threading.Event, out: list[float]) -> None:
    """A dashboard: first page of the connections table, every 50 ms."""
    while not stop.is_set():
        started = time.perf_counter()
        with session(url) as s:
            list_connections(s, actor=ACTOR, limit=50)
        out.append((time.perf_counter() - started) * 1000)
        stop.wait(0.05)


def connmodel_refresh(url: str, keyring: KeyRing, concurrency: int) -> dict[str, float]:
    """refresh_due's path, timed per connection, with the dashboard probe running."""
    with session(url) as s:
        ids = due_ids(s, window=timedelta(minutes=10), limit=1_000_000)
    engine = get_engine(url)
    results: list[str] = []

    def one(connection_id: int) -> float:
        from sqlmodel import Session

        started = time.perf_counter()
        with Session(engine, expire_on_commit=False) as own:
            results.append(refresh_connection(own, actor=ACTOR, keyring=keyring,
                                              connection_id=connection_id).result)
        return (time.perf_counter() - started) * 1000

    stop, during = threading.Event(), []
    watcher = threading.Thread(target=probe, args=(url, stop, during))
    watcher.start()
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(one, ids))
    elapsed = time.perf_counter() - started
    stop.set()
    watcher.join()
    refreshed = results.count("refreshed")
    return {"tokens": len(ids), "refreshed": refreshed, "seconds": elapsed,
            "tokens_per_s": refreshed / elapsed, "p95_ms": p95(latencies),
            "dashboard_p95_ms": p95(during), "dashboard_samples": len(during)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--baseline-tokens", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    sys.path.insert(0, str(TESTS))
    keyring = KeyRing((Fernet.generate_key(),), "bench")
    server, issuer = start_server(args.tokens, args.baseline_tokens)
    with tempfile.TemporaryDirectory() as tmp:
        url, pg_name = store_url(args.store, tmp)
        try:
            seed(url, keyring, issuer, args.tokens)
            idle: list[float] = []
            stop = threading.Event()
            threading.Timer(2.0, stop.set).start()
            probe(url, stop, idle)
            base = baseline(issuer, args.baseline_tokens, args.concurrency)
            ours = connmodel_refresh(url, keyring, args.concurrency)
        finally:
            server.communicate("", timeout=10)
            get_engine(url).dispose()
            if pg_name:
                with create_engine(PG_SERVER, isolation_level="AUTOCOMMIT").connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
    rows = [
        ("baseline: bare authlib refresh, no DB", base["tokens"], base["tokens_per_s"],
         base["p95_ms"], "–"),
        (f"connmodel refresh ({args.store})", ours["refreshed"], ours["tokens_per_s"],
         ours["p95_ms"], f"{ours['dashboard_p95_ms']:.1f}"),
    ]
    print(f"refresh benchmark: {args.tokens:,} tokens, concurrency {args.concurrency}, "
          f"store {args.store}, {os.cpu_count()} CPUs")
    print(f"{'run':42} {'tokens':>7} {'tokens/s':>9} {'p95 ms':>8} {'dashboard p95 ms':>17}")
    for name, n, rate, p, dash in rows:
        print(f"{name:42} {n:>7,} {rate:>9.0f} {p:>8.1f} {dash:>17}")
    print(f"dashboard p95 idle: {p95(idle):.1f} ms; while refreshing: "
          f"{ours['dashboard_p95_ms']:.1f} ms (target <= {DASHBOARD_TARGET_MS:.0f} ms)")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"refresh-{args.store}.json").write_text(json.dumps({
        "tokens": args.tokens, "concurrency": args.concurrency, "store": args.store,
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "baseline": base, "connmodel": ours, "dashboard_idle_p95_ms": p95(idle),
        "dashboard_target_ms": DASHBOARD_TARGET_MS,
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()
