"""API benchmark: list pages against Datasette's JSON API on the same SQLite file, the credential
broker's latency and throughput, and one refresh for 200 concurrent requests of a due token.

Every part runs as deployed, each in its own process: `connmodel api` (uvicorn, two workers:
one per core), `datasette serve` on the same SQLite file, and wrk as the client (bench/loadgen.py:
keep-alive connections driven by one C thread, so the client leaves the cores to the servers).
For each store holding N generated connections in P profiles (plus a broker fleet of API-key
profiles, one MCP server each), it measures p50 / p95 and requests/s at concurrency 1 and 16,
each for a fixed time:

- four list pages: profile + status sorted by account; status only; free-text search;
  unfiltered first page; and Datasette's table endpoint with the equivalent `_sort`, column
  filters, `__contains` and `revoked_at__isnull` (SQLite only: Datasette reads SQLite);
- the broker: `POST /api/v1/credentials` for a random server of the fleet;
- the HTTP floor (bench/http_floor.py): the broker's load against an app that only answers a
  fixed credential, on uvicorn served as `connmodel api` is: what the server stack and the
  client alone cost here;
- 200 concurrent broker requests for one OAuth connection whose token is due, against the real
  authlib server of the tests: the authorization server must see exactly one refresh.

The machine is shared: compare the ratios measured in the same run; the load average is
recorded. Run: `python bench/api.py` or `python bench/api.py --connections 100000 --stores
sqlite --seconds 5 --out /tmp/api.json` (`--page search` measures that list page only).
Writes bench/results/api.json by default.
"""

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import loadgen  # bench/loadgen.py
import psutil
from cryptography.fernet import Fernet
from sqlalchemy import func, select
from stores import drop_database, fresh_database  # bench/stores.py

from connmodel.models import Connection, Profile
from connmodel.permissions import Actor, Role
from connmodel.providers.authorization import begin_authorization, complete_authorization
from connmodel.providers.connect import connect_profile, create_oauth_provider
from connmodel.schema import upgrade
from connmodel.secrets import KeyRing
from connmodel.services.generate import generate
from connmodel.services.profiles import create_profile, create_provider_config
from connmodel.services.servers import add_server
from connmodel.services.tokens import add_token
from connmodel.store import get_engine, session

BENCH = Path(__file__).parent
RESULTS = BENCH / "results"
sys.path.insert(0, str(BENCH.parent / "tests" / "providers"))
from authserver import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, AuthServer, approve

ADMIN = Actor("bench", Role.ADMIN)
BENCH_DB = "connmodel_bench_api"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(argv: list[str], url: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a server process and wait until `url` answers."""
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, **env})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=5)
            return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{argv[0]} did not start")


def settle(process: subprocess.Popen[bytes], timeout: float = 300) -> float:
    """Wait until `process` is idle (under 5 % of a core over half a second); the seconds waited.

    wrk stops at its deadline, not Datasette: at concurrency 16 its threads go on running the
    searches already queued (seconds each at 1M), and the next figure measured beside them, the
    unfiltered page at concurrency 1 after the search, read a p95 five times its p50.
    """
    watched = psutil.Process(process.pid)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = sum(watched.cpu_times()[:2])
        time.sleep(0.5)
        if sum(watched.cpu_times()[:2]) - before < 0.025:
            break
    return round(time.monotonic() - started, 1)


def seed(url: str, keyring: KeyRing, connections: int, profiles: int, fleet: int,
         authserver: AuthServer) -> dict[str, Any]:
    """Generated connections, a broker fleet of API-key profiles with one server each, one OAuth
    profile with a due token and its server, and the tokens the client uses."""
    with session(url) as s:
        generate(s, actor=ADMIN, connections=connections, profiles=profiles, seed=18)
    with session(url) as s:
        provider = create_provider_config(s, actor=ADMIN, name="Bench key provider",
                                          kind="api_key", settings={"header": "X-API-Key"},
                                          keyring=keyring)
        s.commit()
        for i in range(fleet):
            create_profile(s, actor=ADMIN, name=f"Fleet {i:03d}", provider_config_id=provider.id)
            add_server(s, actor=ADMIN, name=f"fleet-{i:03d}",
                       url=f"http://127.0.0.1:9/fleet/{i}/mcp")
            s.commit()
            connect_profile(s, actor=ADMIN, keyring=keyring, profile=f"Fleet {i:03d}",
                            api_key=f"fleet-key-{i:03d}-0123456789", servers=[f"fleet-{i:03d}"])
        oauth = create_oauth_provider(s, actor=ADMIN, keyring=keyring, name="Bench OIDC",
                                      client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                      scopes="openid email", issuer=authserver.url)
        create_profile(s, actor=ADMIN, name="Bench OAuth", provider_config_id=oauth.id)
        add_server(s, actor=ADMIN, name="oauth-due", url="http://127.0.0.1:9/oauth/mcp")
        s.commit()
        start = begin_authorization(s, actor=ADMIN, keyring=keyring, profile="Bench OAuth",
                                    redirect_uri=REDIRECT_URI, servers=["oauth-due"])
    authserver.access_ttl = 120  # due within the broker's 5 minutes from the start
    params = approve(start.url)
    with session(url) as s:
        complete_authorization(s, actor=ADMIN, keyring=keyring, state=params["state"],
                               code=params["code"])
        tokens = {scope: add_token(s, actor=ADMIN, name=f"bench-{scope}", scope=scope)
                  for scope in ("read", "broker")}
        big = s.execute(select(Profile.id, Profile.name)
                        .join(Connection, Connection.profile_id == Profile.id)
                        .where(Profile.name.like("% %"), Connection.revoked_at.is_(None))
                        .group_by(Profile.id, Profile.name)
                        .order_by(func.count().desc()).limit(1)).one()
        account = s.scalars(select(Connection.account).where(Connection.id == connections // 2)
                            ).one()
    authserver.access_ttl = 3600  # the refreshed token is not due: one refresh is enough
    term = account.split("@")[0][:6]
    return {"tokens": tokens, "profile_id": big[0], "profile": big[1], "search": term}


def list_pages(facts: dict[str, Any]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """name -> (connmodel query, Datasette query) for the same page of 50."""
    live = {"revoked_at__isnull": "1", "_size": "50", "_nosuggest": "1", "_shape": "objects"}
    return {
        "profile+status by account": (
            {"profile": facts["profile"], "status": "Error", "sort": "account"},
            {**live, "profile_id": str(facts["profile_id"]), "status": "Error",
             "_sort": "account"}),
        "status only": ({"status": "Error"}, {**live, "status": "Error"}),
        "search": ({"search": facts["search"]}, {**live, "account__contains": facts["search"]}),
        "unfiltered": ({}, live),
    }


def measure(url: str, params: dict[str, Any], seconds: int, concurrency: int,
            **request: Any) -> dict[str, Any]:
    """loadgen.measure of `url` with `params` as its query string."""
    query = f"?{urlencode(params)}" if params else ""
    return loadgen.measure(url + query, seconds=seconds, concurrency=concurrency, **request)


def broker_bodies(fleet: int) -> list[str]:
    """A credential request for each fleet server (`seed` names them): wrk draws one per request."""
    return [json.dumps({"server": f"fleet-{i:03d}"}) for i in range(fleet)]


def http_floor(args: argparse.Namespace) -> dict[str, Any]:
    """The broker's load against bench/http_floor.py on uvicorn, served as `connmodel api` is."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = serve([str(BIN / "uvicorn"), "http_floor:app", "--app-dir", str(BENCH), "--port",
                     str(port), "--workers", str(args.workers), "--no-server-header",
                     "--timeout-graceful-shutdown", "5", "--log-level", "info"], url, {})
    bodies = broker_bodies(args.fleet)
    try:
        return {f"c{c}": measure(f"{url}/api/v1/credentials", {}, args.seconds, c,
                                 method="POST", bodies=bodies,
                                 headers={"Authorization": "Bearer floor"}) for c in (1, 16)}
    finally:
        process.terminate()
        process.wait(20)


async def one_refresh(api: str, token: str, authserver: AuthServer) -> dict[str, Any]:
    before = authserver.token_requests
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=200)) as client:
        answers = await asyncio.gather(*(
            client.post(f"{api}/api/v1/credentials", json={"server": "oauth-due"},
                        headers={"Authorization": f"Bearer {token}"}) for _ in range(200)))
    statuses: dict[int, int] = {}
    for a in answers:
        statuses[a.status_code] = statuses.get(a.status_code, 0) + 1
    tokens = {a.json().get("token") for a in answers if a.status_code == 200}
    return {"requests": 200, "statuses": statuses, "refreshes": authserver.token_requests - before,
            "distinct_tokens": len(tokens)}


async def run_store(store: str, url: str, args: argparse.Namespace,
                    authserver: AuthServer) -> dict[str, Any]:
    key = Fernet.generate_key()
    keyring = KeyRing((key,), "bench")
    upgrade(get_engine(url))
    started = time.perf_counter()
    facts = seed(url, keyring, args.connections, args.profiles, args.fleet, authserver)
    seeded = time.perf_counter() - started
    get_engine(url).dispose()
    api_port = free_port()
    api = f"http://127.0.0.1:{api_port}"
    processes = [serve([str(BIN / "connmodel"), "api", "--port", str(api_port), "--database",
                        url, "--workers", str(args.workers)], api + "/openapi.json",
                       {"CONNMODEL_SECRET_KEY": key.decode()})]
    datasette = None
    if store == "sqlite":
        ds_port = free_port()
        datasette = f"http://127.0.0.1:{ds_port}/{Path(url.split(':///', 1)[1]).stem}"
        processes.append(serve([str(BIN / "datasette"), "serve", url.split(":///", 1)[1],
                                "-p", str(ds_port), "--setting", "sql_time_limit_ms", "60000",
                                "--setting", "num_sql_threads", "4"],
                               datasette + ".json", {}))
    read = {"Authorization": f"Bearer {facts['tokens']['read']}"}
    broker = {"Authorization": f"Bearer {facts['tokens']['broker']}"}
    results: dict[str, Any] = {"store": store, "seed_s": round(seeded, 1), "facts": {
        k: v for k, v in facts.items() if k != "tokens"}, "lists": {}, "broker": {}}
    try:
        for name, (ours, theirs) in list_pages(facts).items():
            if args.pages and name not in args.pages:
                continue
            row: dict[str, Any] = {}
            for c in (1, 16):
                row[f"connmodel_c{c}"] = measure(f"{api}/api/v1/connections", ours,
                                                 args.seconds, c, headers=read)
                if datasette:  # seconds per request at 1M: a longer run for as many samples
                    row[f"datasette_c{c}"] = measure(f"{datasette}/connection.json", theirs,
                                                     3 * args.seconds, c)
                    row[f"datasette_c{c}"]["settled_s"] = settle(processes[-1])
            results["lists"][name] = row
        bodies = broker_bodies(args.fleet)
        for c in (1, 16):
            results["broker"][f"c{c}"] = measure(f"{api}/api/v1/credentials", {}, args.seconds,
                                                 c, method="POST", bodies=bodies, headers=broker)
        results["one_refresh"] = await one_refresh(api, facts["tokens"]["broker"], authserver)
    finally:
        for process in processes:
            process.terminate()
            process.wait(20)
    results["load_average"] = os.getloadavg()[0]
    return results


def table(results: list[dict[str, Any]], floor: dict[str, Any]) -> None:
    print(f"{'store':7} {'page':27} {'c':>2} {'ours p50':>9} {'p95':>8} {'req/s':>7} "
          f"{'Datasette p95':>13} {'req/s':>7} {'p95 ratio':>9}")
    for r in results:
        for name, row in r["lists"].items():
            for c in (1, 16):
                ours, theirs = row[f"connmodel_c{c}"], row.get(f"datasette_c{c}")
                ratio = (f"{theirs['p95_ms'] / ours['p95_ms']:.1f}x"
                         if theirs and theirs["p95_ms"] else "–")
                print(f"{r['store']:7} {name:27} {c:>2} {ours['p50_ms']:>9} {ours['p95_ms']:>8} "
                      f"{ours['rps']:>7} {theirs['p95_ms'] if theirs else '–':>13} "
                      f"{theirs['rps'] if theirs else '–':>7} {ratio:>9}")
        for c in (1, 16):
            b, f = r["broker"][f"c{c}"], floor[f"c{c}"]
            print(f"{r['store']:7} {'broker (credentials)':27} {c:>2} {b['p50_ms']:>9} "
                  f"{b['p95_ms']:>8} {b['rps']:>7}   HTTP floor p95 {f['p95_ms']} ms, "
                  f"{f['rps']} req/s: broker at {b['rps'] / f['rps']:.0%} of the floor's rate")
        o = r["one_refresh"]
        print(f"{r['store']:7} 200 concurrent requests for one due token: {o['refreshes']} "
              f"refresh(es), statuses {o['statuses']}, {o['distinct_tokens']} distinct token(s); "
              f"load average {r['load_average']:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1_000_000)
    parser.add_argument("--profiles", type=int, default=200)
    parser.add_argument("--fleet", type=int, default=100, help="API-key servers for the broker")
    parser.add_argument("--seconds", type=int, default=10,
                        help="per page and concurrency (Datasette: three times as long)")
    parser.add_argument("--workers", type=int, default=2, help="connmodel api processes")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--out", type=Path, default=RESULTS / "api.json")
    parser.add_argument("--page", dest="pages", action="append", default=[],
                        help="measure only this list page (repeatable; default all four: "
                             "'profile+status by account', 'status only', 'search', 'unfiltered')")
    args = parser.parse_args()
    floor = http_floor(args)
    authserver = AuthServer().start()
    results = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            for store in args.stores.split(","):
                url = fresh_database(store, Path(folder), BENCH_DB)
                try:
                    results.append(asyncio.run(run_store(store, url, args, authserver)))
                finally:
                    drop_database(store, url, BENCH_DB)
    finally:
        authserver.stop()
    table(results, floor)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                    "machine": platform.platform(), "cpus": os.cpu_count(),
                                    "http_floor": floor, "results": results}, indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
