"""Refresh benchmark: 10,000 OAuth tokens due for refresh, refreshed against a real local authlib
server, while a dashboard in another process is being used.

Every part runs as it is deployed, each in its own process:

- the authorization server: tests/providers/authserver.py (Flask + authlib, rotating refresh
  tokens, werkzeug's threaded server, a new TCP connection per request);
- the refresher: the real `connmodel refresh` command (cron, or a worker with --watch), at the
  command's default CPU priority (nice 10: `--nice 0` here passes --nice 0 to measure it at
  normal priority); its JSON output gives every token's outcome and latency (provider call to
  committed write);
- the dashboard: one session of the real Connections page, driven by the previous issue's
  benchmark code (bench/dashboard.py's `PagedSession` and `FILTERS`): a filter change, Load more,
  View, one every 50 ms, each timed (wall and CPU of the dashboard process).

`--refresher dashboard` measures the other deployment instead: the refresher the dashboard
process runs itself (`BackgroundRefresher`, concurrency 2), sharing the page's process and GIL.

For each store (a SQLite file, a fresh PostgreSQL database) holding N OAuth connections in 20
profiles, it reports: the baseline (bare authlib refresh calls, no database, same concurrency,
in this process before the dashboard starts); the refresher's tokens/s (refreshed / wall time
of the command, start-up included), CPU per token and p95 latency; the dashboard's interaction
p95, idle (before the refresher starts and after it ends) and while it runs (target <= 50 ms),
wall and CPU time: on a shared machine the wall time is mostly waiting for a CPU, so the load
average is recorded too.
Writes bench/results/refresh-STORE[-nice0|-in-dashboard].json.
Run: `python bench/refresh.py` or `python bench/refresh.py --tokens 2000 --stores postgres`.
"""

import argparse
import importlib.util
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

from authlib.integrations.httpx_client import OAuth2Client
from cryptography.fernet import Fernet
from sqlalchemy import insert, text
from stores import drop_database, fresh_database  # bench/stores.py

from connmodel.models import Connection, utcnow
from connmodel.permissions import Actor
from connmodel.providers.client import TokenSet
from connmodel.providers.connect import create_oauth_provider
from connmodel.schema import upgrade
from connmodel.secrets import KeyRing
from connmodel.services.profiles import create_profile
from connmodel.store import get_engine, session

BENCH = Path(__file__).parent
RESULTS = BENCH / "results"
TESTS = BENCH.parent / "tests" / "providers"
ACTOR = Actor("bench")
BENCH_DB = "connmodel_bench_refresh"
PROFILES = 20
WINDOW_MINUTES = 120  # seeded tokens expire in 2 min; a refreshed one in 1 h: both due
DASHBOARD_TARGET_MS = 50.0
PAUSE_S = 0.05

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
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values, default=0)


def start_server(bench: int, base: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-c", SERVER.format(tests=str(TESTS), bench=bench,
                                                                 base=base)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def seed(url: str, keyring: KeyRing, issuer: str, tokens: int) -> None:
    """One provider config, PROFILES profiles (dev / staging / production), one OAuth
    connection per minted refresh token, all expiring in two minutes."""
    from authserver import CLIENT_ID, CLIENT_SECRET

    upgrade(get_engine(url))
    with session(url) as s:
        provider = create_oauth_provider(s, actor=ACTOR, keyring=keyring, name="Local OIDC",
                                         client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                         scopes="openid email", issuer=issuer)
        profiles = [create_profile(s, actor=ACTOR, name=f"Team {n:02d}",
                                   provider_config_id=provider.id or 0,
                                   environment=("dev", "staging", "production")[n % 3]).id
                    for n in range(PROFILES)]
        s.commit()
        expires = utcnow() + timedelta(minutes=2)
        rows = [
            {"profile_id": profiles[i % PROFILES], "service": provider.name,
             "account": f"user{i}@example.com", "status": "Active",
             "credential_enc": keyring.encrypt(TokenSet(
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

    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(one, range(count)))
    elapsed = time.perf_counter() - started
    return {"tokens": count, "seconds": elapsed, "tokens_per_s": count / elapsed,
            "p95_ms": p95(latencies),
            "cpu_ms_per_token": (time.process_time() - cpu) * 1000 / count}


# --- the dashboard process ---------------------------------------------------------------------

def page_driver() -> ModuleType:
    """bench/dashboard.py, loaded under another name: as `dashboard` it would shadow the package."""
    spec = importlib.util.spec_from_file_location("bench_dashboard", BENCH / "dashboard.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def emit(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def dashboard_process(url: str, tokens: int, key: str) -> None:
    """One session of the Connections page, used until stdin closes; a sample per line.

    The line "refresh" on stdin starts the dashboard process's own refresher once
    (`--refresher dashboard`); its summary comes back as a line too.
    """
    import panel as pn

    from connmodel.providers.background import BackgroundRefresher

    driver = page_driver()
    pn.extension()
    page = driver.PagedSession(url)
    rng = random.Random(1)
    stop = threading.Event()

    def refresh_in_process() -> None:
        refresher = BackgroundRefresher(url, KeyRing((key.encode(),), "bench"),
                                        window=timedelta(minutes=WINDOW_MINUTES))
        started = time.monotonic()
        cycle = refresher.run_once()
        emit({"refresher": {"started": started, "ended": time.monotonic(), "error": cycle.error,
                            "outcomes": [o.__dict__ for o in cycle.refreshed]}})

    def commands() -> None:
        for line in sys.stdin:
            if line.strip() == "refresh":
                threading.Thread(target=refresh_in_process, daemon=True).start()
        stop.set()

    threading.Thread(target=commands, daemon=True).start()
    emit({"ready": time.monotonic()})
    n = 0
    while not stop.is_set():
        where = driver.FILTERS[n % len(driver.FILTERS)]
        ops: list[tuple[str, Callable[[], Any]]] = [("filter", partial(page.filter, where))]
        if not where and page.can_page():  # every row: cards have a next page (not when tiny)
            ops.append(("next_page", partial(page.next_page, n)))
        ops.append(("view", page.click("view", rng.randint(1, tokens))))
        for op, fn in ops:
            at = time.monotonic()
            wall, cpu = driver.timed(fn)
            emit({"op": op, "at": at, "wall_ms": wall, "cpu_ms": cpu})
            page.reset()
            stop.wait(PAUSE_S)
        n += 1


class Dashboard:
    """The dashboard process seen from here: its samples, collected by a reader thread."""

    def __init__(self, url: str, tokens: int, key: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--dashboard-process", url, str(tokens)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "BENCH_KEY": key})
        self.samples: list[dict[str, Any]] = []
        self.refresher: dict[str, Any] | None = None
        self.ready = threading.Event()
        self.refreshed = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self.ready.wait(120):
            raise RuntimeError("the dashboard process did not start")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            data = json.loads(line)
            if "ready" in data:
                self.ready.set()
            elif "refresher" in data:
                self.refresher = data["refresher"]
                self.refreshed.set()
            else:
                self.samples.append(data)

    def refresh_inside(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write("refresh\n")
        self.proc.stdin.flush()
        self.refreshed.wait()
        assert self.refresher is not None
        return self.refresher

    def stop(self) -> None:
        self.proc.communicate(timeout=60)  # closes stdin: the loop ends
        self._reader.join(10)

    def between(self, start: float, end: float, since: float | None = None) -> dict[str, Any]:
        """Per interaction p50 / p95 (wall and CPU) of the samples taken in [start, end], and
        after `since` if given."""
        picked = [s for s in self.samples if start <= s["at"] <= end
                  or (since is not None and s["at"] >= since)]
        out: dict[str, Any] = {}
        for op in sorted({s["op"] for s in picked}):
            wall = [s["wall_ms"] for s in picked if s["op"] == op]
            cpu = [s["cpu_ms"] for s in picked if s["op"] == op]
            out[op] = {"p50_ms": statistics.median(wall), "p95_ms": p95(wall),
                       "cpu_p50_ms": statistics.median(cpu), "cpu_p95_ms": p95(cpu),
                       "samples": len(wall)}
        out["worst_p95_ms"] = max((v["p95_ms"] for v in out.values()), default=0.0)
        return out


# --- the refresher -----------------------------------------------------------------------------

def refresh_command(url: str, key: str, concurrency: int, nice: int | None) -> dict[str, Any]:
    """`connmodel refresh` in its own process (at its default priority unless `nice` is given);
    its outcomes from --format json."""
    command = [str(Path(sys.executable).with_name("connmodel")), "refresh", "--database", url,
               "--window", str(WINDOW_MINUTES), "--concurrency", str(concurrency),
               "--format", "json", *([] if nice is None else ["--nice", str(nice)])]
    started, cpu = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=3600,
                          env={**os.environ, "CONNMODEL_SECRET_KEY": key,
                               "CONNMODEL_ACTOR": "bench"})
    ended, after = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"connmodel refresh failed ({done.returncode}): {done.stderr[-2000:]}")
    cpu_s = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    return {"started": started, "ended": ended, "error": None, "cpu_s": cpu_s,
            "outcomes": json.loads(done.stdout)["refreshed"]}


def summary(run: dict[str, Any]) -> dict[str, Any]:
    outcomes = run["outcomes"]
    seconds = run["ended"] - run["started"]
    refreshed = [o for o in outcomes if o["result"] == "refreshed"]
    cpu_s = run.get("cpu_s")
    return {"tokens": len(outcomes), "refreshed": len(refreshed), "seconds": seconds,
            "tokens_per_s": len(refreshed) / seconds,
            "p95_ms": p95([o["latency_ms"] for o in refreshed]), "error": run["error"],
            "cpu_ms_per_token": cpu_s * 1000 / len(outcomes) if cpu_s and outcomes else None,
            "load_average_after": os.getloadavg()[0]}


def run_store(store: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    key = Fernet.generate_key().decode()
    keyring = KeyRing((key.encode(),), "bench")
    server, issuer = start_server(args.tokens, args.baseline_tokens)
    url = fresh_database(store, folder, BENCH_DB)
    try:
        seed(url, keyring, issuer, args.tokens)
        get_engine(url).dispose()
        base = baseline(issuer, args.baseline_tokens, args.concurrency)
        dashboard = Dashboard(url, args.tokens, key)
        try:
            idle_from, load_idle = time.monotonic(), os.getloadavg()[0]
            time.sleep(args.idle_seconds)
            if args.refresher == "process":
                run = refresh_command(url, key, args.concurrency, args.nice)
            else:
                run = dashboard.refresh_inside()
            idle_again = time.monotonic()
            time.sleep(args.idle_seconds)  # idle again: the machine's other load changes
        finally:
            dashboard.stop()
    finally:
        server.communicate("", timeout=10)
        drop_database(store, url, BENCH_DB)
    return {"baseline": base, "refresher": args.refresher, "nice": args.nice,
            "concurrency": args.concurrency if args.refresher == "process" else 2,
            "refresh": summary(run), "load_average_before": load_idle,
            "dashboard_idle": dashboard.between(idle_from, run["started"], idle_again),
            "dashboard_during": dashboard.between(run["started"], run["ended"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--baseline-tokens", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--refresher", choices=["process", "dashboard"], default="process",
                        help="process: `connmodel refresh`; dashboard: the dashboard's own")
    parser.add_argument("--nice", type=int, default=None,
                        help="pass --nice N to `connmodel refresh` (default: its own default)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS,
                        help="the folder of the refresh-STORE*.json files")
    args = parser.parse_args()
    sys.path.insert(0, str(TESTS))
    print(f"refresh benchmark: {args.tokens:,} tokens, refresher {args.refresher}, "
          f"{os.cpu_count()} CPUs")
    print(f"{'store':9} {'run':34} {'tokens/s':>9} {'p95 ms':>8} {'dash p95 idle':>14} "
          f"{'dash p95 during':>16}")
    with tempfile.TemporaryDirectory() as tmp:
        for store in args.stores.split(","):
            r = run_store(store, args, Path(tmp))
            base, ours = r["baseline"], r["refresh"]
            print(f"{store:9} {'baseline: bare authlib, no DB':34} {base['tokens_per_s']:>9.0f} "
                  f"{base['p95_ms']:>8.1f} {'–':>14} {'–':>16}")
            label = ("in the dashboard process" if args.refresher == "dashboard" else
                     "connmodel refresh" + ("" if args.nice is None else f" --nice {args.nice}"))
            print(f"{store:9} {label:34} "
                  f"{ours['tokens_per_s']:>9.0f} {ours['p95_ms']:>8.1f} "
                  f"{r['dashboard_idle']['worst_p95_ms']:>14.1f} "
                  f"{r['dashboard_during']['worst_p95_ms']:>16.1f}")
            suffix = ("-in-dashboard" if args.refresher == "dashboard"
                      else "" if args.nice is None else f"-nice{args.nice}")
            args.out_dir.mkdir(parents=True, exist_ok=True)
            (args.out_dir / f"refresh-{store}{suffix}.json").write_text(json.dumps({
                "tokens": args.tokens, "store": store, "profiles": PROFILES,
                "cpus": os.cpu_count(), "python": platform.python_version(),
                "dashboard_target_ms": DASHBOARD_TARGET_MS, **r,
            }, indent=2) + "\n")
    print(f"dashboard: worst per-interaction p95 (filter, next_page, view); "
          f"target <= {DASHBOARD_TARGET_MS:.0f} ms")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--dashboard-process"]:
        dashboard_process(sys.argv[2], int(sys.argv[3]), os.environ["BENCH_KEY"])
    else:
        main()
