"""Audit trail benchmark: the Activity page's filters over a large trail, with and without the
text index of targets (migration 0019).

For each store it builds a trail of N events in a fresh database (`INSERT ... SELECT`, as token
refreshes and revocations write them: "connection 42 (profile-7 / Google OAuth2 Provider /
grace.lopez17@example.com)", by a few actors and actions), then times `list_events` (a page of
50 and its capped count, what the Activity page, `connmodel events` and the API read) for
filters from a needle in a handful of events to one in most, alone and beside an actor, an
action or a time. The baseline, in the same run on the same database, is the walk the trail
had before the index: newest first, each target tested (SQLite: the same SQL without the text
index; PostgreSQL: with bitmap scans off, which leaves its trigram index unused). It prints
p50 / p95 and the ratio, and writes bench/results/events.json.

Quick look: `python bench/events.py --events 100000 --stores sqlite --runs 5 --out /tmp/e.json`.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stores import drop_database, fresh_database

from connmodel.models import AuditEvent
from connmodel.permissions import Actor, Role
from connmodel.schema import upgrade
from connmodel.services.events import EventFilter, list_events
from connmodel.store import get_engine, reading

RESULTS = Path(__file__).parent / "results" / "events.json"
BENCH_DB = "connmodel_bench_events"
ACTOR = Actor("bench", Role.ADMIN)
FIRST = ("grace", "hugo", "ada", "linus", "zoe", "victor", "rosa", "kim")
START = datetime(2026, 1, 1, tzinfo=UTC)
PAGE = 50


def _trail_sql(dialect: str, n: int) -> str:
    """One INSERT ... SELECT of `n` events: every third a revoke by alice, the rest token
    refreshes by the worker, one every 20 s from START; accounts from FIRST and a number."""
    first = "CASE {i} % 8 " + " ".join(f"WHEN {k} THEN '{name}'" for k, name in enumerate(FIRST))
    if dialect == "sqlite":
        seq = f"WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {n})"
        at = "strftime('%Y-%m-%d %H:%M:%f', '2026-01-01', '+' || (i * 20) || ' seconds')"
        source = "seq"
    else:
        seq = ""
        at = "timestamptz '2026-01-01 00:00:00+00' + i * interval '20 seconds'"
        source = f"generate_series(1::bigint, {n}) AS i"  # i * 104729 passes int4
    account = (f"({first.format(i='(i * 7)')} END) || '.' || ((i * 7919) % 1000) "
               "|| '@example.com'")
    target = (f"'connection ' || ((i * 104729) % {max(n // 3, 1)} + 1) || ' (profile-' "
              f"|| (i % 200) || ' / Google OAuth2 Provider / ' || {account} || ')'")
    return (f"{seq} INSERT INTO audit_event (at, actor, action, target, outcome) "
            f"SELECT {at}, CASE WHEN i % 3 = 0 THEN 'alice' ELSE 'worker' END, "
            f"CASE WHEN i % 3 = 0 THEN 'revoke' ELSE 'connection.refresh' END, {target}, 'ok' "
            f"FROM {source}")


def build(url: str, n: int) -> float:
    """The trail in a migrated database (the text index kept by its trigger or GIN); seconds."""
    engine = get_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(_trail_sql(engine.dialect.name, n)))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE audit_event"))
    return time.perf_counter() - started


def filters(url: str) -> list[tuple[str, EventFilter]]:
    """From a needle in a few events to one in most, alone and with another filter; the rare
    account is one of the trail's own (read back, not assumed)."""
    with reading(url) as s:
        newest = s.execute(select(func.max(AuditEvent.id))).scalar_one()
        target = s.execute(select(AuditEvent.target).where(AuditEvent.id == newest // 2)
                           ).scalar_one()
        middle = s.execute(select(AuditEvent.at).where(AuditEvent.id == newest // 2)).scalar_one()
    account = target.rsplit(" / ", 1)[1].rstrip(")")
    return [("no filter", EventFilter()),
            ("target: an account (rare)", EventFilter(target=account)),
            ("target: no event", EventFilter(target="nobody.at.all")),
            ("target: a first name (1/8)", EventFilter(target="grace")),
            ("target: 'connection 5'", EventFilter(target="connection 5")),
            ("target: 'Google' (every event)", EventFilter(target="Google")),
            ("actor + action (no event)", EventFilter(who="alice", action="connection.refresh")),
            ("actor + action", EventFilter(who="alice", action="revoke")),
            ("action + target 'grace'", EventFilter(action="revoke", target="grace")),
            ("since the middle + target rare", EventFilter(since=middle, target=account))]


def _connmodel(url: str, where: EventFilter) -> Callable[[], Any]:
    def read() -> Any:
        with reading(url) as s:
            return list_events(s, actor=ACTOR, where=where, limit=PAGE)
    return read


def _walked(url: str, where: EventFilter) -> Callable[[], Any]:
    """The baseline: the same page and capped count, the trail walked newest first (the text
    index left out: SQLite's statements do not name it; PostgreSQL's bitmap scans are off)."""
    conds = where.conditions()
    page = select(AuditEvent).where(*conds).order_by(AuditEvent.id.desc()).limit(PAGE + 1)
    count = select(func.count()).select_from(
        select(AuditEvent.id).where(*conds).limit(10_001).subquery())

    def read() -> Any:
        with reading(url) as s:
            if s.get_bind().dialect.name == "postgresql":
                s.execute(text("SET LOCAL enable_bitmapscan = off"))
            return s.execute(page).all(), s.execute(count).scalar_one()
    return read


def timed(fn: Callable[[], Any], runs: int) -> dict[str, float]:
    fn()  # warm
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], 2),
            "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--baseline-runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    out: dict[str, Any] = {"machine": platform.node(), "cpus": os.cpu_count(),
                           "events": args.events, "page": PAGE, "stores": {}}
    folder = Path(tempfile.mkdtemp(prefix="bench-events-"))
    for kind in args.stores.split(","):
        url = fresh_database(kind, folder, BENCH_DB)
        seconds = build(url, args.events)
        print(f"{kind}: {args.events:,} events written and indexed in {seconds:.1f} s "
              f"(load {os.getloadavg()[0]:.1f})", flush=True)
        print(f"  {'filter':34} {'connmodel p50 / p95':>22} {'walked p50 / p95':>22} "
              f"{'x p50':>7}", flush=True)
        rows = []
        for name, where in filters(url):
            ours = timed(_connmodel(url, where), args.runs)
            walked = timed(_walked(url, where), args.baseline_runs)
            ratio = round(walked["p50_ms"] / ours["p50_ms"], 1)
            rows.append({"filter": name, "connmodel": ours, "walked": walked, "x_p50": ratio})
            print(f"  {name:34} {ours['p50_ms']:10.1f} / {ours['p95_ms']:8.1f} "
                  f"{walked['p50_ms']:10.1f} / {walked['p95_ms']:8.1f} {ratio:7.1f}", flush=True)
        out["stores"][kind] = {"build_s": round(seconds, 1), "load": os.getloadavg()[0],
                               "results": rows}
        drop_database(kind, url, BENCH_DB)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
