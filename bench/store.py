"""Store benchmark: connmodel's listing, count, search, revoke and generate at gateway scale.

For each store (a SQLite file, a fresh PostgreSQL database) it generates N connections (default
1,000,000 in 200 profiles), then measures every operation three ways in the same run:

- connmodel: the service call, a session per call (`connmodel.store.reading`, the session for
  reads, for the listing, count and search; `session` for revoke and generate);
- raw SQL: the same answer by a hand-written query on a plain DBAPI connection (the floor);
- naive: pandas `read_sql` of the whole table, then filter in memory (measured a few times only).

It prints a table and writes bench/results/store.json. Run: `make bench` or
`python bench/store.py --connections 100000 --stores sqlite`.
"""

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from stores import PG_SERVER, drop_database, fresh_database  # bench/stores.py

from connmodel.models import Connection, Profile, ProviderConfig, utcnow
from connmodel.paging import COUNT_CAP
from connmodel.permissions import Actor
from connmodel.schema import upgrade
from connmodel.secrets import KeyRing
from connmodel.services.connections import (
    ConnectionFilter,
    count_connections,
    list_connections,
    revoke_connection,
)
from connmodel.services.generate import generate
from connmodel.store import get_engine, reading, session

RESULTS = Path(__file__).parent / "results" / "store.json"
BENCH_DB = f"connmodel_bench_{os.getpid()}"  # two runs at once never share a database
ACTOR = Actor("bench")
PAGE = 50
TARGETS_MS = {  # p95 targets per store (`x raw`, connmodel p95 / raw SQL p95, is shown, not a target)
    ("sqlite", "page"): 10, ("postgres", "page"): 25,
    ("sqlite", "search"): 100, ("postgres", "search"): 100,
    ("sqlite", "revoke"): 20, ("postgres", "revoke"): 20,
    ("sqlite", "generate"): 90_000, ("postgres", "generate"): 90_000,
}


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return ms(time.perf_counter() - started), value


def summary(samples: list[float]) -> dict[str, float | int]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 3), "p95": round(p95, 3), "n": len(ordered)}


class Raw:
    """The floor: hand-written SQL on a plain DBAPI connection to the same database."""

    def __init__(self, kind: str, url: str) -> None:
        self.kind = kind
        if kind == "sqlite":
            self.db: Any = sqlite3.connect(make_url(url).database, isolation_level=None)
            for pragma in ("busy_timeout=10000", "synchronous=NORMAL"):  # as connmodel.store
                self.db.execute(f"PRAGMA {pragma}")
            self.p = "?"
        else:
            self.db = psycopg.connect(make_url(url).set(drivername="postgresql")
                                      .render_as_string(hide_password=False), autocommit=True,
                                      prepare_threshold=None)  # planned per call, as connmodel's
            self.p = "%s"

    def q(self, sql: str) -> str:
        return sql.replace("?", self.p)

    def all(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        return self.db.execute(self.q(sql), args).fetchall()

    def profile_id(self, name: str) -> int:
        return self.all("SELECT id FROM profile WHERE name = ?", (name,))[0][0]

    def page(self, pid: int, status: str, after: tuple[str, int] | None) -> list[Any]:
        keyset = "AND (c.account, c.id) > (?, ?)" if after else ""
        args = (pid, status, *after) if after else (pid, status)
        return self.all(
            "SELECT c.id, c.service, c.account, c.status, c.status_reason, c.checked_at, "
            "c.expires_at, c.last_used_at, c.created_at, p.name, p.environment "
            "FROM connection c JOIN profile p ON p.id = c.profile_id "
            f"WHERE c.profile_id = ? AND c.status = ? AND c.revoked_at IS NULL {keyset} "
            f"ORDER BY c.account, c.id LIMIT {PAGE + 1}", args)

    def count(self, pid: int, status: str) -> int:
        return self.all(
            "SELECT count(*) FROM (SELECT 1 FROM connection WHERE profile_id = ? AND status = ? "
            f"AND revoked_at IS NULL LIMIT {COUNT_CAP + 1}) t",
            (pid, status))[0][0]

    def search(self, needle: str) -> list[Any]:
        cols = ("c.id, c.service, c.account, c.status, c.status_reason, c.checked_at, "
                "c.expires_at, c.last_used_at, c.created_at, p.name, p.environment")
        if self.kind == "sqlite":
            return self.all(
                f"SELECT {cols} FROM connection c JOIN profile p ON p.id = c.profile_id "
                "WHERE c.id IN (SELECT rowid FROM connection_fts WHERE connection_fts MATCH ?) "
                f"AND c.revoked_at IS NULL ORDER BY c.id LIMIT {PAGE + 1}", (f'"{needle}"',))
        like = f"%{needle}%"  # the hits through the trigram indexes first, then their page
        return self.all(
            "WITH hits AS MATERIALIZED (SELECT id FROM connection WHERE (account ILIKE ? OR "
            "service ILIKE ?) AND revoked_at IS NULL) "
            f"SELECT {cols} FROM connection c JOIN profile p ON p.id = c.profile_id "
            f"WHERE c.id IN (SELECT id FROM hits) ORDER BY c.id LIMIT {PAGE + 1}", (like, like))

    def revoke(self, connection_id: int) -> None:
        """What connmodel's revoke stores, written by hand: the same rows and the same audit
        text (the profile's name, the servers disconnected), in one transaction."""
        now = datetime.now(UTC)
        stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f") if self.kind == "sqlite" else now
        self.db.execute("BEGIN")
        profile_id, account, service, profile = self.db.execute(self.q(
            "UPDATE connection SET revoked_at = ?, revoked_by = 'raw', credential_enc = NULL, "
            "credential_hint = NULL WHERE id = ? AND revoked_at IS NULL "
            "RETURNING profile_id, account, service, "
            "(SELECT name FROM profile WHERE profile.id = connection.profile_id)"),
            (stamp, connection_id)).fetchone()
        reason = (f"connection {connection_id} of profile {profile} revoked by raw; "
                  "reconfigure to reconnect")
        servers = self.db.execute(self.q(
            "UPDATE mcp_server SET state = 'disconnected', updated_at = ?, reason = ? "
            "WHERE profile_id = ? AND state = 'connected' RETURNING name"),
            (stamp, reason, profile_id)).fetchall()
        names = ", ".join(sorted(name for (name,) in servers)) or "none"
        self.db.execute(self.q(
            "INSERT INTO audit_event (at, actor, action, target, outcome) "
            "VALUES (?, 'raw', 'revoke', ?, ?)"),
            (stamp, f"connection {connection_id} ({profile} / {service} / {account})",
             f"ok; disconnected: {names}"))
        self.db.execute("COMMIT")

    def explain(self, sql: str, args: tuple[Any, ...]) -> list[str]:
        prefix = "EXPLAIN QUERY PLAN " if self.kind == "sqlite" else "EXPLAIN "
        rows = self.all(prefix + sql, args)
        return [str(r[-1]) for r in rows]


def naive_frame(url: str) -> pd.DataFrame:
    engine = create_engine(url)
    try:
        return pd.read_sql(
            "SELECT c.*, p.name AS profile, p.environment FROM connection c "
            "JOIN profile p ON p.id = c.profile_id", engine)
    finally:
        engine.dispose()


def make_store(kind: str, workdir: Path) -> str:
    url = fresh_database(kind, workdir, BENCH_DB)
    upgrade(get_engine(url))
    return url


def bench_store(kind: str, n: int, profiles: int, repeats: int, naive_repeats: int,
                workdir: Path) -> dict[str, Any]:
    url = make_store(kind, workdir)
    raw = Raw(kind, url)
    keyring = KeyRing((Fernet.generate_key(),), "bench")
    out: dict[str, Any] = {"store": kind, "connections": n, "profiles": profiles}
    ops: dict[str, dict[str, Any]] = {}

    print(f"[{kind}] generating {n:,} connections in {profiles} profiles ...", flush=True)
    gen_ms, result = timed(lambda: _generate(url, n, profiles, keyring))
    ops["generate"] = {"connmodel": {"p50": gen_ms, "p95": gen_ms, "n": 1},
                       "by_status": result.by_status}

    with session(url) as s:
        biggest = s.execute(  # the biggest profile with e-mail accounts (OAuth2)
            select(Profile.name, func.count()).join(Connection, Connection.profile_id == Profile.id)
            .join(ProviderConfig, ProviderConfig.id == Profile.provider_config_id)
            .where(ProviderConfig.kind == "oauth2")
            .group_by(Profile.name).order_by(func.count().desc(), Profile.name).limit(1)
        ).first()
        if biggest is None:
            raise SystemExit(f"no OAuth2 profile among {profiles} generated: use more --profiles")
        profile, in_profile = biggest
        accounts = list(s.execute(select(Connection.account).where(Connection.account.contains("@"))
                                  .order_by(Connection.id).limit(2000)).scalars())
    out["page_profile"] = {"name": profile, "connections": in_profile}
    status = "Active"
    pid = raw.profile_id(profile)
    where = ConnectionFilter(profile_id=pid, status=status)  # as the dashboard's cards ask

    # Walk the listing to collect the cursors of pages 11..30 ("deep"), then time those pages.
    cursors: list[str | None] = [None]
    boundaries: list[tuple[str, int] | None] = [None]
    with session(url) as s:
        for _ in range(30):
            page = list_connections(s, actor=ACTOR, where=where, sort="account",
                                    cursor=cursors[-1], limit=PAGE, count=False)
            if page.next_cursor is None:
                raise SystemExit(f"profile {profile!r} has under 30 pages: generate more connections")
            cursors.append(page.next_cursor)
            boundaries.append((page.items[-1].account, page.items[-1].id))
    deep = list(range(10, 30))
    cm_page, raw_page = [], []
    for _ in range(max(1, repeats // len(deep))):
        for i in deep:
            t, page = timed(lambda i=i: _cm_page(url, where, cursors[i]))
            cm_page.append(t)
            t, rows = timed(lambda i=i: raw.page(pid, status, boundaries[i]))
            raw_page.append(t)
            assert [c.id for c in page.items] == [r[0] for r in rows[:PAGE]], "page answers differ"
    ops["page"] = {"connmodel": summary(cm_page), "raw": summary(raw_page),
                   "depth": f"pages 11-30 of profile {profile!r}, status {status}, sort account"}

    cm_count, raw_count = [], []
    for _ in range(repeats):
        t, (total, _exact) = timed(lambda: _cm_count(url, where))
        cm_count.append(t)
        t, raw_total = timed(lambda: raw.count(pid, status))
        raw_count.append(t)
        assert min(raw_total, COUNT_CAP) == total, "counts differ"
    ops["count"] = {"connmodel": summary(cm_count), "raw": summary(raw_count),
                    "answer": total, "cap": COUNT_CAP}

    rng = random.Random(1)
    needles = [a.split("@")[0][2:][:9] for a in rng.sample(accounts, min(len(accounts), 40))]
    cm_search, raw_search, hits = [], [], []
    for needle in needles[:repeats]:  # untimed: each needle's index pages read once by both
        _cm_search(url, needle)
        raw.search(needle)
    for needle in needles[:repeats] * max(1, repeats // max(1, len(needles))):
        t, page = timed(lambda needle=needle: _cm_search(url, needle))
        cm_search.append(t)
        t, rows = timed(lambda needle=needle: raw.search(needle))
        raw_search.append(t)
        assert [c.id for c in page.items] == [r[0] for r in rows[:PAGE]], "search answers differ"
        hits.append(len(page.items))
    ops["search"] = {"connmodel": summary(cm_search), "raw": summary(raw_search),
                     "needles": needles[:5], "median_hits_on_page": statistics.median(hits)}

    with session(url) as s:
        live = list(s.execute(select(Connection.id).where(Connection.revoked_at.is_(None))
                              .order_by(Connection.id)).scalars())
    victims = rng.sample(live, 2 * repeats + naive_repeats)
    cm_revoke, raw_revoke = [], []
    for k in range(repeats):
        t, _ = timed(lambda k=k: _cm_revoke(url, victims[2 * k]))
        cm_revoke.append(t)
        t, _ = timed(lambda k=k: raw.revoke(victims[2 * k + 1]))
        raw_revoke.append(t)
    ops["revoke"] = {"connmodel": summary(cm_revoke), "raw": summary(raw_revoke)}

    print(f"[{kind}] naive: read_sql of the whole table x{naive_repeats} ...", flush=True)
    naive = _naive(url, raw, naive_repeats, profile, status,
                   [boundaries[i] for i in deep], needles, victims[-naive_repeats:])
    for op, samples in naive.items():
        ops[op]["naive"] = summary(samples)

    base_ms = _naive_generate(url, kind, keyring)
    ops["generate"]["naive"] = {"p50": round(base_ms * n / NAIVE_GENERATE_ROWS, 1),
                                "p95": round(base_ms * n / NAIVE_GENERATE_ROWS, 1), "n": 1,
                                "note": f"ORM objects, {NAIVE_GENERATE_ROWS:,} rows, scaled to {n:,}"}

    out["plans"] = _plans(raw, profile, status, boundaries[20], needles[0])
    out["ops"] = ops
    for op, row in ops.items():
        cm = row["connmodel"]["p95"]
        row["target_p95_ms"] = TARGETS_MS.get((kind, op))
        if "raw" in row:
            row["ratio_vs_raw_p50"] = round(row["connmodel"]["p50"] / max(row["raw"]["p50"], 1e-3), 2)
            row["ratio_vs_raw_p95"] = round(cm / max(row["raw"]["p95"], 1e-3), 2)
        if "naive" in row:
            row["naive_vs_connmodel_p50"] = round(row["naive"]["p50"] / max(row["connmodel"]["p50"], 1e-3), 1)
    raw.db.close()
    drop_database(kind, url, BENCH_DB)
    return out


NAIVE_GENERATE_ROWS = 20_000


def _generate(url: str, n: int, profiles: int, keyring: KeyRing) -> Any:
    with session(url) as s:
        return generate(s, actor=ACTOR, connections=n, profiles=profiles, keyring=keyring)


def _naive_generate(url: str, kind: str, keyring: KeyRing) -> float:
    """One ORM object per row, the obvious way, on a throwaway profile."""
    from connmodel.services.profiles import create_profile

    with session(url) as s:
        provider_id = s.execute(text("SELECT min(id) FROM provider_config")).scalar_one()
        pid = create_profile(s, actor=ACTOR, name="naive generate", provider_config_id=provider_id).id
        s.commit()
        now = utcnow()
        started = time.perf_counter()
        for i in range(NAIVE_GENERATE_ROWS):
            s.add(Connection(profile_id=pid, service="No Authentication Provider",
                             account=f"naive{i}@example.com", status="Active", checked_at=now,
                             created_at=now, last_used_at=now))
        s.commit()
        return ms(time.perf_counter() - started)


def _cm_page(url: str, where: ConnectionFilter, cursor: str | None) -> Any:
    with reading(url) as s:
        return list_connections(s, actor=ACTOR, where=where, sort="account", cursor=cursor,
                                limit=PAGE, count=False)


def _cm_count(url: str, where: ConnectionFilter) -> tuple[int, bool]:
    with reading(url) as s:
        return count_connections(s, actor=ACTOR, where=where)


def _cm_search(url: str, needle: str) -> Any:
    with reading(url) as s:
        return list_connections(s, actor=ACTOR, where=ConnectionFilter(search=needle),
                                limit=PAGE, count=False)


def _cm_revoke(url: str, connection_id: int) -> Any:
    with session(url) as s:
        return revoke_connection(s, actor=ACTOR, connection_id=connection_id)


def _naive(url: str, raw: Raw, repeats: int, profile: str, status: str,
           afters: list[tuple[str, int] | None], needles: list[str],
           victims: list[int]) -> dict[str, list[float]]:
    """Each answer the naive way: read the whole table with pandas, then filter in memory."""
    samples: dict[str, list[float]] = {"page": [], "count": [], "search": [], "revoke": []}
    for k in range(repeats):
        read_ms, df = timed(lambda: naive_frame(url))
        times = _naive_answers(df, raw, profile, status, afters[k % len(afters)],
                               needles[k % len(needles)], victims[k])
        for op, t in times.items():
            samples[op].append(read_ms + t)
    return samples


def _naive_answers(df: pd.DataFrame, raw: Raw, profile: str, status: str,
                   after: tuple[str, int] | None, needle: str, victim: int) -> dict[str, float]:
    live = df[df.revoked_at.isna()]
    times = {}
    times["page"], _ = timed(lambda: _naive_page(live, profile, status, after))
    times["count"], _ = timed(lambda: int(((live.profile == profile)
                                           & (live.status == status)).sum()))
    times["search"], _ = timed(lambda: live[live.account.str.contains(needle, case=False,
                                                                      regex=False)]
                               .sort_values("id").head(PAGE))
    # a naive console revokes with one UPDATE, then reloads the whole table to show it
    times["revoke"], _ = timed(lambda: raw.revoke(victim))
    return times


def _naive_page(df: pd.DataFrame, profile: str, status: str, after: tuple[str, int] | None) -> Any:
    rows = df[(df.profile == profile) & (df.status == status)]
    rows = rows.sort_values(["account", "id"])
    if after:
        rows = rows[(rows.account > after[0]) | ((rows.account == after[0]) & (rows.id > after[1]))]
    return rows.head(PAGE)


def _plans(raw: Raw, profile: str, status: str, after: tuple[str, int] | None,
           needle: str) -> dict[str, list[str]]:
    """EXPLAIN of the raw queries (the ones connmodel's match), kept in the JSON for review."""
    if after is None:
        return {}
    pid = raw.profile_id(profile)
    page_sql = ("SELECT c.id FROM connection c WHERE c.profile_id = ? AND c.status = ? "
                "AND c.revoked_at IS NULL AND (c.account, c.id) > (?, ?) "
                "ORDER BY c.account, c.id LIMIT 51")
    count_sql = ("SELECT count(*) FROM (SELECT 1 FROM connection WHERE profile_id = ? AND "
                 "status = ? AND revoked_at IS NULL LIMIT 10001) t")
    if raw.kind == "sqlite":
        search_sql = ("SELECT c.id FROM connection c WHERE c.id IN (SELECT rowid FROM "
                      "connection_fts WHERE connection_fts MATCH ?) AND c.revoked_at IS NULL "
                      "ORDER BY c.id LIMIT 51")
        search_args: tuple[str, ...] = (f'"{needle}"',)
    else:
        search_sql = ("SELECT id FROM connection WHERE (account ILIKE ? OR service ILIKE ?) "
                      "AND revoked_at IS NULL")
        search_args = (f"%{needle}%",) * 2
    return {
        "page": raw.explain(page_sql, (pid, status, after[0], after[1])),
        "count": raw.explain(count_sql, (pid, status)),
        "search": raw.explain(search_sql, search_args),
    }


def print_table(results: list[dict[str, Any]]) -> None:
    header = (f"{'store':9} {'operation':9} {'connmodel p50/p95 ms':>22} {'raw SQL p50/p95 ms':>20} "
              f"{'x raw':>6} {'naive p50 ms':>13} {'target p95':>11}  ok")
    print(header)
    print("-" * len(header))
    for res in results:
        for op, row in res["ops"].items():
            cm, rw, nv = row["connmodel"], row.get("raw"), row.get("naive")
            target = row.get("target_p95_ms")
            ok = target is None or cm["p95"] <= target
            raw_cell = f"{rw['p50']:.2f} / {rw['p95']:.2f}" if rw else "–"
            print(f"{res['store']:9} {op:9} {cm['p50']:>10.2f} / {cm['p95']:>9.2f} "
                  f"{raw_cell:>20} "
                  f"{row.get('ratio_vs_raw_p95', '–'):>6} {nv['p50'] if nv else '–':>13} "
                  f"{target if target else '–':>11}  {'yes' if ok else 'NO'}")


def _pair(row: dict[str, Any] | None, digits: int) -> str:
    return f"{row['p50']:,.{digits}f} / {row['p95']:,.{digits}f}" if row else "–"


def markdown_table(results: list[dict[str, Any]]) -> str:
    """The README's table: one line per store and operation, p50 / p95 in ms."""
    lines = [("| store | operation | connmodel p50 / p95 | raw SQL p50 / p95 | x raw p50 / p95 "
              "| naive p50 | target p95 |"), "|---|---|---|---|---|---|---|"]
    for res in results:
        for op, row in res["ops"].items():
            naive, target = row.get("naive"), row.get("target_p95_ms")
            ratios = (f"{row['ratio_vs_raw_p50']} / {row['ratio_vs_raw_p95']}"
                      if "raw" in row else "–")
            lines.append(
                f"| {res['store']} | {op} | {_pair(row['connmodel'], 1)} | "
                f"{_pair(row.get('raw'), 2)} | {ratios} | "
                f"{format(naive['p50'], ',.0f') if naive else '–'} | "
                f"{format(target, ',') if target else '–'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1_000_000)
    parser.add_argument("--profiles", type=int, default=200)
    parser.add_argument("--stores", default="sqlite,postgres")
    # 500: the p95 of 100 samples is the 5th worst, which one WAL checkpoint or GC pause moves.
    parser.add_argument("--repeats", type=int, default=500, help="samples per fast operation")
    parser.add_argument("--naive-repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--markdown", type=Path, metavar="JSON",
                        help="only print the README table of an earlier run's JSON")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown_table(json.loads(args.markdown.read_text())["results"]))
        return 0
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    if not stores or any(s not in ("sqlite", "postgres") for s in stores):
        parser.error("--stores takes sqlite, postgres or both, comma-separated")
    if args.connections < 30 * PAGE * 2 or args.profiles < 1:
        parser.error(f"--connections must be at least {30 * PAGE * 2} (30 pages deep are timed)")
    if "postgres" in stores:
        try:
            create_engine(PG_SERVER, connect_args={"connect_timeout": 3}).connect().close()
        except OperationalError as exc:
            parser.error(f"PostgreSQL at {make_url(PG_SERVER).render_as_string()} is unreachable "
                         f"({str(exc.orig).strip().splitlines()[0]}): use --stores sqlite")
    results = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="connmodel-bench-") as tmp:
        for kind in stores:
            results.append(bench_store(kind, args.connections, args.profiles, args.repeats,
                                       args.naive_repeats, Path(tmp)))
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "sqlite": sqlite3.sqlite_version, "cpus": os.cpu_count(),
                    "load_average_before": load_before, "load_average_after": os.getloadavg()},
        "targets": {"p95_ms": {f"{k[0]}/{k[1]}": v for k, v in TARGETS_MS.items()}},
        "results": results,
    }, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
