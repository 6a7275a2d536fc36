"""Dashboard benchmark: the Connections page at gateway scale, against the naive Tabulator page.

For each store (a SQLite file, a fresh PostgreSQL database) it generates N connections (default
1,000,000 in 200 profiles) and measures, server side, in this process:

- first screen: view models + widgets + Bokeh models of one session's Connections page;
- interactions (p50/p95 over --runs): filter change, next page of a card, View, Revoke (the
  click that opens the confirmation, and the Confirm click, each timed);
- memory per session (RSS growth with 1 and with 10 open sessions; 3 for the naive page, whose
  sessions each hold the whole table);
- the largest websocket message: the document sent on connect and every PATCH-DOC after it.

In the same run, the naive baseline: one `pn.widgets.Tabulator` fed the whole DataFrame of
connections with `pagination='remote'` (filter = Tabulator filter over the whole frame, next page =
`page += 1`, Confirm = the service, then re-reading the frame). View and Revoke give the person
the same dialogs as the real page, so the naive page does the same work for them: it finds the
clicked row in its frame, then reads what the frame lacks (provider, masked configuration, the
MCP servers using the profile, the hint) with the same service call and renders the same dialog
components. (Until 2026-11-25 it stopped at the frame lookup, which showed far less than the
real page and made the naive View look 4x faster.) Both pages therefore pay one primary-key
read for these two clicks; the naive one also scans its million-row frame.

Memory per session is the Python heap the sessions hold (tracemalloc), with RSS growth recorded
beside it: RSS cannot see a session that reuses memory freed by an earlier measurement in the
same process (it read 0.0 MB for PostgreSQL, measured after SQLite's naive sessions).

Next page clicks "Load more" on the cards that have one; once all are read the page is read
anew (untimed). Where no card has one (below ~10 connections per card) next page is recorded
as not measured (null).

It prints a table and writes bench/results/dashboard.json. Run: `make bench` or
`python bench/dashboard.py --connections 100000 --stores sqlite`.
"""

import argparse
import gc
import json
import platform
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import panel as pn
from bokeh.document import Document
from bokeh.protocol import Protocol
from panel.io.state import set_curdoc
from sqlalchemy import select, text
from stores import fresh_database  # bench/stores.py

from connmodel.models import Connection, Profile
from connmodel.permissions import Actor
from connmodel.schema import upgrade
from connmodel.services.generate import generate
from connmodel.store import get_engine, session

# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# `dashboard` package it measures.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
from dashboard.pages.connections import ConnectionsPage
from dashboard.viewmodels.actions import ActionsModel
from dashboard.viewmodels.backend import Backend
from dashboard.viewmodels.connections import ConnectionsPageModel
from dashboard.views.connection_actions import ConnectionDialogsWithActions

RESULTS = Path(__file__).parent / "results" / "dashboard.json"
BENCH_DB = "connmodel_bench_dashboard"
ACTOR = Actor("bench")
FILTERS = [{"status": "Error"}, {"status": "Inactive", "environment": "staging"},
           {"search": "grace.lopez"}, {"environment": "production"}, {}]
NAIVE_RUNS = 5
TARGETS = {"first_screen_s": 1.5, "interaction_p95_ms": 50, "mb_per_session": 10,
           "largest_message_kb": 200, "speedup": 20}


def rss_mb() -> float:
    """Resident memory of this process (Linux /proc), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def message_size(msg: Any) -> int:
    """Bytes on the websocket: the JSON content plus any binary buffers (arrays)."""
    return len(msg.content_json) + sum(memoryview(b.data).nbytes for b in msg.buffers)


class Session:
    """One browser session's document, recording the size of every message it would send."""

    def __init__(self) -> None:
        self.doc = Document()
        self.largest_patch = 0

    def _measure(self, event: Any) -> None:
        size = message_size(Protocol().create("PATCH-DOC", [event]))
        self.largest_patch = max(self.largest_patch, size)

    def mount(self, view: Any) -> None:
        """Add the page as the document's root; changes after this are PATCH-DOC messages."""
        with set_curdoc(self.doc):
            self.doc.add_root(pn.panel(view).get_root(self.doc))
        self.doc.on_change(self._measure)

    def initial_message(self) -> int:
        return message_size(Protocol().create("PULL-DOC-REPLY", "bench", self.doc))

    @contextmanager
    def active(self) -> Iterator[None]:
        with set_curdoc(self.doc):
            yield


class PagedSession(Session):
    """The real Connections page: paged cards, keyset rows, services for View and Revoke."""

    def __init__(self, url: str) -> None:
        super().__init__()
        backend = Backend(ACTOR, url)
        self.model = ConnectionsPageModel(backend)
        self.actions = ActionsModel(backend)
        with self.active():
            self.model.refresh()
            self.page = ConnectionsPage(model=self.model, actions=self.actions)
            self.mount(self.page)

    def filter(self, values: dict[str, str]) -> None:
        with self.active():
            self.model.param.update({"status": "", "environment": "", "profile": "", "search": "",
                                     **values})

    def can_page(self) -> bool:
        """Whether a card has "Load more"; when all are read, back to first pages (untimed).

        Below ~10 connections per card no card has one at all.
        """
        if not any(c.next_cursor for c in self.model.cards):
            with self.active():
                self.model.refresh()
        return any(c.next_cursor for c in self.model.cards)

    def next_page(self, i: int) -> None:
        """A click on a card's "Load more", as the browser reports it."""
        more = [n for n, c in enumerate(self.model.cards) if c.next_cursor]
        with self.active():
            self.page._cards._handle_msg({"action": "more", "id": more[i % len(more)]})

    def view(self, connection_id: int) -> None:
        with self.active():
            self.actions.view(connection_id)

    def reset(self) -> None:
        """Close what the last interaction opened (not timed)."""
        with self.active():
            self.actions.close_view()

    def ask_revoke(self, connection_id: int) -> None:
        """Click on Revoke: the confirmation, naming the connection and its servers."""
        with self.active():
            self.actions.ask_revoke(connection_id)
        self._asked = connection_id

    def confirm_revoke(self, _: int) -> None:
        """Click on Confirm: revoke through the service; the row leaves its card."""
        with self.active():
            if self.actions.pending is None:
                self.actions.ask_revoke(self._asked)
            self.actions.confirm()


NAIVE_SQL = ("SELECT c.id, p.name AS profile, p.environment, c.service, c.account, c.status, "
             "c.status_reason, c.checked_at FROM connection c JOIN profile p "
             "ON p.id = c.profile_id WHERE c.revoked_at IS NULL")


class NaiveSession(Session):
    """The baseline: the whole live connection table in one DataFrame in one Tabulator.

    View and Revoke open the real page's dialogs (`ConnectionDialogsWithActions`) with the same
    service call after finding the clicked row in the frame: the person gets the same content.
    """

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._added: list[Any] = []
        self.table = pn.widgets.Tabulator(self._frame(), pagination="remote", page_size=20,
                                          disabled=True)
        self.actions = ActionsModel(Backend(ACTOR, url))
        self.mount(pn.Column(self.table, ConnectionDialogsWithActions(actions=self.actions)))

    def _frame(self) -> pd.DataFrame:
        with get_engine(self.url).connect() as conn:
            return pd.read_sql(text(NAIVE_SQL), conn)

    def filter(self, values: dict[str, str]) -> None:
        with self.active():
            for old in self._added:
                self.table.remove_filter(old)
            self._added = []
            for column, value in values.items():
                if column == "search":
                    self._added.append(
                        lambda df, v=value: df[df.account.str.contains(v, regex=False)])
                    self.table.add_filter(self._added[-1])
                else:
                    self._added.append(value)
                    self.table.add_filter(value, column)

    def can_page(self) -> bool:
        return True

    def next_page(self, i: int) -> None:
        with self.active():
            self.table.page = self.table.page % 100 + 1

    def reset(self) -> None:
        with self.active():
            self.actions.close_view()

    def _clicked(self, connection_id: int) -> int:
        """The row a click lands on, found in the frame as a Tabulator page would."""
        frame = self.table.value
        row = frame.loc[frame.id == connection_id, "id"]
        return int(row.iloc[0]) if len(row) else connection_id

    def view(self, connection_id: int) -> None:
        with self.active():
            self.actions.view(self._clicked(connection_id))

    def ask_revoke(self, connection_id: int) -> None:
        with self.active():
            self.actions.ask_revoke(self._clicked(connection_id))
        self._asked = connection_id

    def confirm_revoke(self, _: int) -> None:
        with self.active():
            if self.actions.pending is None:
                self.actions.ask_revoke(self._asked)
            self.actions.confirm()
            self.table.value = self._frame()


def timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """Wall-clock and CPU milliseconds of one call (CPU time shows cost on a busy machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def live_ids(url: str, n: int, seed: int) -> list[int]:
    with session(url) as s:
        top = s.execute(select(Connection.id).order_by(Connection.id.desc()).limit(1)).scalar_one()
    rng = random.Random(seed)
    return rng.sample(range(1, top + 1), n)


def summary(samples: list[tuple[float, float]]) -> dict[str, float]:
    """p50 / p95 of (wall, CPU) milliseconds."""
    wall, cpu = [w for w, _ in samples], [c for _, c in samples]
    return {"p50_ms": pct(wall, 0.5), "p95_ms": pct(wall, 0.95),
            "cpu_p50_ms": pct(cpu, 0.5), "cpu_p95_ms": pct(cpu, 0.95), "runs": len(samples)}


def session_memory(make: Callable[[str], Session], url: str, n: int) -> dict[str, float]:
    """Memory held by 1 and by n open sessions: Python heap (tracemalloc) and RSS growth, MB."""
    gc.collect()
    tracemalloc.start()
    heap, rss = tracemalloc.get_traced_memory()[0], rss_mb()
    opened = [make(url)]
    gc.collect()
    heap_one, rss_one = tracemalloc.get_traced_memory()[0], rss_mb()
    opened += [make(url) for _ in range(n - 1)]
    gc.collect()
    heap_all, rss_all = tracemalloc.get_traced_memory()[0], rss_mb()
    tracemalloc.stop()
    del opened
    gc.collect()
    mb = 1024 * 1024
    return {"one_session": (heap_one - heap) / mb, "sessions": n,
            "all_sessions": (heap_all - heap) / mb,
            "per_extra_session": (heap_all - heap_one) / mb / (n - 1),
            "rss_one_session": rss_one - rss, "rss_all_sessions": rss_all - rss}


def measure(kind: str, make: Callable[[str], Session], url: str, runs: int,
            ids: Iterator[int], sessions_for_memory: int) -> dict[str, Any]:
    """First screen, interactions, memory and message sizes of one page implementation."""
    gc.collect()
    before = rss_mb()
    first: list[float] = []
    sessions: list[Session] = []
    for _ in range(3 if kind == "paged" else 1):
        start = time.perf_counter()
        sessions.append(make(url))
        first.append(time.perf_counter() - start)
    gc.collect()
    one = sessions[0]
    initial = one.initial_message()
    ops: dict[str, Callable[[int], None]] = {
        "filter": lambda i: one.filter(FILTERS[i % len(FILTERS)]),  # type: ignore[attr-defined]
        "next_page": lambda i: one.next_page(i),  # type: ignore[attr-defined]
        "view": lambda i: one.view(next(ids)),  # type: ignore[attr-defined]
        "revoke_ask": lambda i: one.ask_revoke(next(ids)),  # type: ignore[attr-defined]
    }
    interactions = {}
    confirms: list[tuple[float, float]] = []
    for name, op in ops.items():
        paging = name == "next_page"
        if paging:
            one.filter({})  # type: ignore[attr-defined]  # (untimed) every card, unfiltered
        samples = []
        for i in range(runs):
            if paging and not one.can_page():  # type: ignore[attr-defined]
                break
            samples.append(timed(lambda i=i, op=op: op(i)))  # type: ignore[misc]
            if name == "revoke_ask":  # the click after it, timed as its own interaction
                confirms.append(timed(lambda: one.confirm_revoke(0)))  # type: ignore[attr-defined]
            one.reset()  # type: ignore[attr-defined]
        # None: no card has "Load more" at this size (below ~10 connections per card)
        interactions[name] = summary(samples) if samples else None
    interactions["revoke_confirm"] = summary(confirms)
    largest_patch = one.largest_patch
    del sessions
    memory = session_memory(make, url, sessions_for_memory)
    return {
        "first_screen_s": {"p50": statistics.median(first), "max": max(first)},
        "interactions": interactions,
        "memory_mb": {"process_before": before, **memory},
        "largest_message_kb": max(initial, largest_patch) / 1024,
        "initial_document_kb": initial / 1024,
        "largest_patch_kb": largest_patch / 1024,
    }


def prepare(store: str, connections: int, profiles: int, folder: Path) -> str:
    url = fresh_database(store, folder, BENCH_DB)
    upgrade(get_engine(url))
    with session(url) as s:
        generate(s, actor=ACTOR, connections=connections, profiles=profiles, seed=7)
    with session(url) as s:
        assert s.execute(select(Profile.id).limit(1)).first() is not None
    return url


def run_store(store: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    started = time.perf_counter()
    url = prepare(store, args.connections, args.profiles, folder)
    print(f"[{store}] generated {args.connections:,} connections in "
          f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
    ids = iter(live_ids(url, 4 * args.runs + 4 * NAIVE_RUNS, seed=1))
    paged = measure("paged", PagedSession, url, args.runs, ids, sessions_for_memory=10)
    print(f"[{store}] paged page measured", file=sys.stderr)
    naive = measure("naive", NaiveSession, url, NAIVE_RUNS, ids, sessions_for_memory=3)
    print(f"[{store}] naive baseline measured", file=sys.stderr)
    get_engine(url).dispose()
    return {"paged": paged, "naive": naive}


def table(results: dict[str, Any]) -> str:
    lines = [f"{'store':8} {'measure':22} {'paged':>12} {'naive':>12} {'speedup':>8} {'target':>12}"]
    for store, r in results.items():
        p, n = r["paged"], r["naive"]
        rows = [("first screen s (p50)", p["first_screen_s"]["p50"], n["first_screen_s"]["p50"],
                 f"<= {TARGETS['first_screen_s']}")]
        for op, paged in p["interactions"].items():
            naive = n["interactions"][op]
            if paged is None or naive is None:
                rows.append((f"{op}", float("nan"), float("nan"), "not measured"))
                continue
            rows.append((f"{op} p50 ms", paged["p50_ms"], naive["p50_ms"], ""))
            rows.append((f"{op} p95 ms", paged["p95_ms"], naive["p95_ms"],
                         f"<= {TARGETS['interaction_p95_ms']}"))
            rows.append((f"{op} cpu p95 ms", paged["cpu_p95_ms"], naive["cpu_p95_ms"], ""))
        rows += [("MB per extra session", p["memory_mb"]["per_extra_session"],
                  n["memory_mb"]["per_extra_session"], f"<= {TARGETS['mb_per_session']}"),
                 ("largest ws message KB", p["largest_message_kb"], n["largest_message_kb"],
                  f"<= {TARGETS['largest_message_kb']}")]
        for name, a, b, target in rows:
            speed = f"{b / a:.1f}x" if a > 0 else "–"
            lines.append(f"{store:8} {name:22} {a:12.2f} {b:12.2f} {speed:>8} {target:>12}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1_000_000)
    parser.add_argument("--profiles", type=int, default=200)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--stores", default="sqlite,postgres")
    args = parser.parse_args()
    pn.extension()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for store in args.stores.split(","):
            results[store] = run_store(store, args, Path(tmp))
    print(table(results))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpu": platform.processor(),
                    "panel": pn.__version__},
        "connections": args.connections, "profiles": args.profiles, "runs": args.runs,
        "naive_runs": NAIVE_RUNS, "targets": TARGETS, "results": results,
    }, indent=2))
    print(f"wrote {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
