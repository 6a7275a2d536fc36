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
`page += 1`, View and Revoke = a lookup in the frame, Confirm = the service, then re-reading
the frame).
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
from connmodel.services.connections import revoke_connection
from connmodel.services.generate import generate
from connmodel.store import get_engine, session

# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# `dashboard` package it measures.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
from dashboard.pages.connections import ConnectionsPage
from dashboard.viewmodels.actions import ActionsModel
from dashboard.viewmodels.backend import Backend
from dashboard.viewmodels.connections import ConnectionsPageModel

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
    """The baseline: the whole live connection table in one DataFrame in one Tabulator."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._added: list[Any] = []
        self.table = pn.widgets.Tabulator(self._frame(), pagination="remote", page_size=20,
                                          disabled=True)
        self.mount(pn.Column(self.table))

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

    def next_page(self, i: int) -> None:
        with self.active():
            self.table.page = self.table.page % 100 + 1

    def reset(self) -> None:
        pass

    def view(self, connection_id: int) -> None:
        frame = self.table.value
        frame.loc[frame.id == connection_id].to_dict("records")

    def ask_revoke(self, connection_id: int) -> None:
        self._asked = connection_id
        self.view(connection_id)

    def confirm_revoke(self, _: int) -> None:
        with session(self.url) as s:
            revoke_connection(s, actor=ACTOR, connection_id=self._asked)
        with self.active():
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
        samples = []
        for i in range(runs):
            samples.append(timed(lambda i=i, op=op: op(i)))  # type: ignore[misc]
            if name == "revoke_ask":  # the click after it, timed as its own interaction
                confirms.append(timed(lambda: one.confirm_revoke(0)))  # type: ignore[attr-defined]
            one.reset()  # type: ignore[attr-defined]
        wall, cpu = [w for w, _ in samples], [c for _, c in samples]
        interactions[name] = {"p50_ms": pct(wall, 0.5), "p95_ms": pct(wall, 0.95),
                              "cpu_p50_ms": pct(cpu, 0.5), "cpu_p95_ms": pct(cpu, 0.95),
                              "runs": runs}
    wall, cpu = [w for w, _ in confirms], [c for _, c in confirms]
    interactions["revoke_confirm"] = {"p50_ms": pct(wall, 0.5), "p95_ms": pct(wall, 0.95),
                                      "cpu_p50_ms": pct(cpu, 0.5), "cpu_p95_ms": pct(cpu, 0.95),
                                      "runs": runs}
    largest_patch = one.largest_patch
    del sessions
    gc.collect()
    base = rss_mb()
    opened = [make(url)]
    gc.collect()
    after_one = rss_mb()
    opened += [make(url) for _ in range(sessions_for_memory - 1)]
    gc.collect()
    after_ten = rss_mb()
    del opened
    gc.collect()
    return {
        "first_screen_s": {"p50": statistics.median(first), "max": max(first)},
        "interactions": interactions,
        "memory_mb": {"process_before": before, "one_session": after_one - base,
                      "sessions": sessions_for_memory, "all_sessions": after_ten - base,
                      "per_extra_session": (after_ten - after_one) / (sessions_for_memory - 1)},
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
        for op in p["interactions"]:
            rows.append((f"{op} p50 ms", p["interactions"][op]["p50_ms"],
                         n["interactions"][op]["p50_ms"], ""))
            rows.append((f"{op} p95 ms", p["interactions"][op]["p95_ms"],
                         n["interactions"][op]["p95_ms"], f"<= {TARGETS['interaction_p95_ms']}"))
            rows.append((f"{op} cpu p95 ms", p["interactions"][op]["cpu_p95_ms"],
                         n["interactions"][op]["cpu_p95_ms"], ""))
        rows += [("MB per extra session", p["memory_mb"]["per_extra_session"],
                  n["memory_mb"]["per_extra_session"], f"<= {TARGETS['mb_per_session']}"),
                 ("largest ws message KB", p["largest_message_kb"], n["largest_message_kb"],
                  f"<= {TARGETS['largest_message_kb']}")]
        for name, a, b, target in rows:
            speed = f"{b / a:.0f}x" if a > 0 else "–"
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
