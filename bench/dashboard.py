"""Dashboard benchmark: the Connections page at gateway scale, against the naive Tabulator page.

For each store (a SQLite file, a fresh PostgreSQL database) it generates N connections (default
1,000,000 in 200 profiles) and measures, server side, in this process:

- first screen: view models + widgets + Bokeh models of one session's Connections page;
- interactions (p50/p95 over --runs, default 50, on both pages; the naive page's Confirm 5
  times, as each takes seconds): filter change, next page of a card, sort (a click on a card's
  column header: a keyset SQL page in the new order; the naive Tabulator's header sort
  re-sorts its whole frame), View, Revoke (the click
  that opens the confirmation, the Confirm click, and the two together). The two pages take
  turns, one click each, so a busy moment of the shared machine falls on both;
- memory per session (RSS growth with 1 and with 10 open sessions; 3 for the naive page, whose
  sessions each hold the whole table);
- the largest websocket message: the document sent on connect and every PATCH-DOC after it.

In the same run, the naive baseline: one `pn.widgets.Tabulator` fed the whole DataFrame of
connections with `pagination='remote'` (filter = Tabulator filter over the whole frame, its text
matching account or service in any case as the real page's does; next page = `page += 1`;
Confirm = the service, then re-reading the frame). Its View and Revoke are the
Tabulator's own button columns, clicked as the browser reports a click (a CellClickEvent for a
row of the page on screen; Panel maps it to the row's position, so finding the row is O(1)), and
they open the real page's dialogs with the same service call: the person gets the same content.
The real page's View and Revoke are its cards' click messages. For these two clicks both pages
therefore do the same work (one primary-key read and the same dialog), and the ratio is ~1x by
construction; Revoke is also timed whole (the click, then Confirm, until the row has left), the
interaction a person completes. (Until 2026-12-03 the naive click looked the row up with a mask
over the million-row frame, ~1 ms that no Tabulator click costs, which gave a flattering ~2x.)

Memory per session is the Python heap the sessions hold (tracemalloc), with RSS growth recorded
beside it: RSS cannot see a session that reuses memory freed by an earlier measurement in the
same process (it read 0.0 MB for PostgreSQL, measured after SQLite's naive sessions).

Next page clicks "Load more" on the cards that have one; once all are read the page is read
anew (untimed). Where no card has one (below ~10 connections per card) next page is recorded
as not measured (null).

It prints a table and writes bench/results/dashboard.json. Run: `make bench` or
`python bench/dashboard.py --connections 100000 --stores sqlite`. At 10M (`make bench-10m`)
each naive click takes seconds and each naive session holds ~5 GB: `--naive-runs 3
--naive-sessions 0` keep the baseline within the hour and the machine's memory (its memory is
not measured); `--reuse URL` (once per store) measures databases built beforehand with
`connmodel generate`.
"""

import argparse
import asyncio
import gc
import json
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
from bokeh.document import Document
from bokeh.protocol import Protocol
from panel.io.state import set_curdoc
from panel.models.tabulator import CellClickEvent
from sqlalchemy import select, text
from stores import drop_database, fresh_database, store_kind  # bench/stores.py

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
NAIVE_CONFIRMS = 5  # each re-reads the million-row frame: ~6 s
PAGE = 20  # the naive Tabulator's page size
# Header clicks, in turn: each field twice (ascending, then descending) on the real page's cards;
# the naive frame has only some of these columns.
SORTS = ["status", "status", "service", "service", "created", "created", "expires", "expires",
         "last_used", "last_used", "checked", "checked", "account", "account"]
NAIVE_SORTS = ["status", "service", "account", "checked_at"]
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

    actions: ActionsModel

    def __init__(self) -> None:
        self.doc = Document()
        self.largest_patch = 0
        self.doing = "set-up"  # the interaction under way, to which a patch is credited
        self.largest_by_doing: dict[str, int] = {}

    def _measure(self, event: Any) -> None:
        size = message_size(Protocol().create("PATCH-DOC", [event]))
        self.largest_patch = max(self.largest_patch, size)
        self.largest_by_doing[self.doing] = max(self.largest_by_doing.get(self.doing, 0), size)

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

    def reset(self) -> None:
        """Close what the last interaction opened: View, an unconfirmed Revoke (not timed)."""
        with self.active():
            self.actions.close_view()
            if self.actions.pending is not None:
                self.actions.cancel()

    # What each page implements: the person's clicks.
    def filter(self, values: dict[str, str]) -> None:
        raise NotImplementedError

    def can_page(self) -> bool:
        raise NotImplementedError

    def next_page(self, i: int) -> None:
        raise NotImplementedError

    def sort(self, i: int) -> None:
        """A click on a column header."""
        raise NotImplementedError

    def unsort(self) -> None:
        """Back to the unsorted table (untimed, before the row clicks)."""

    def click(self, action: str, connection_id: int) -> Callable[[], None]:
        """Untimed set-up for a click on a row's View or Revoke; returns the click itself."""
        raise NotImplementedError

    def confirm_revoke(self) -> None:
        """Click on Confirm in the Revoke confirmation just opened."""
        with self.active():
            drive(self.actions.confirm())


class PagedSession(Session):
    """The real Connections page: paged cards, keyset rows, services for View and Revoke."""

    def __init__(self, url: str) -> None:
        super().__init__()
        backend = Backend(ACTOR, url)
        self.model = ConnectionsPageModel(backend)
        self.actions = ActionsModel(backend)
        with self.active():
            drive(self.model.refresh())
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
                drive(self.model.refresh())
        return any(c.next_cursor for c in self.model.cards)

    def next_page(self, i: int) -> None:
        """A click on a card's "Load more", as the browser reports it."""
        more = [n for n, c in enumerate(self.model.cards) if c.next_cursor]
        with self.active():
            drive(self.page._cards._handle_msg({"action": "more", "id": more[i % len(more)]}))

    def sort(self, i: int) -> None:
        """A click on a card's column header, as the browser reports it (cards taking turns)."""
        card = (i // len(SORTS)) % len(self.model.cards)
        with self.active():
            drive(self.page._cards._handle_msg({"action": "sort", "id": card,
                                                "field": SORTS[i % len(SORTS)]}))

    def click(self, action: str, connection_id: int) -> Callable[[], None]:
        """A click on a row's View or Revoke, as the card's message reports it."""
        def send() -> None:
            with self.active():
                drive(self.page._cards._handle_msg({"action": action, "id": connection_id}))
        return send


NAIVE_SQL = ("SELECT c.id, p.name AS profile, p.environment, c.service, c.account, c.status, "
             "c.status_reason, c.checked_at FROM connection c JOIN profile p "
             "ON p.id = c.profile_id WHERE c.revoked_at IS NULL")


class NaiveSession(Session):
    """The baseline: the whole live connection table in one DataFrame in one Tabulator.

    View and Revoke are button columns; a click opens the real page's dialogs
    (`ConnectionDialogsWithActions`) with the same service call: the person gets the same content.
    """

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._added: list[Any] = []
        self.table = pn.widgets.Tabulator(self._frame(), pagination="remote", page_size=PAGE,
                                          disabled=True, buttons={"view": "View",
                                                                  "revoke": "Revoke"})
        self.actions = ActionsModel(Backend(ACTOR, url))
        self.table.on_click(self._view, column="view")
        self.table.on_click(self._revoke, column="revoke")
        self.mount(pn.Column(self.table, ConnectionDialogsWithActions(actions=self.actions)))

    async def _view(self, event: Any) -> None:
        await self.actions.view(self._id(event.row))

    async def _revoke(self, event: Any) -> None:
        await self.actions.ask_revoke(self._id(event.row))

    def _frame(self) -> pd.DataFrame:
        with get_engine(self.url).connect() as conn:
            return pd.read_sql(text(NAIVE_SQL), conn)

    def filter(self, values: dict[str, str]) -> None:
        with self.active():
            for old in self._added:
                self.table.remove_filter(old)
            self._added = []
            for column, value in values.items():
                if column == "search":  # as the real page's: account or service, any case
                    self._added.append(lambda df, v=value: df[
                        df.account.str.contains(v, case=False, regex=False)
                        | df.service.str.contains(v, case=False, regex=False)])
                    self.table.add_filter(self._added[-1])
                else:
                    self._added.append(value)
                    self.table.add_filter(value, column)

    def can_page(self) -> bool:
        return True

    def next_page(self, i: int) -> None:
        with self.active():
            self.table.page = self.table.page % 100 + 1

    def sort(self, i: int) -> None:
        """Tabulator's header sort: with remote pagination it sorts the whole frame in Python."""
        direction = "desc" if (i // len(NAIVE_SORTS)) % 2 else "asc"
        with self.active():
            self.table.sorters = [{"field": NAIVE_SORTS[i % len(NAIVE_SORTS)], "dir": direction}]

    def unsort(self) -> None:
        with self.active():
            self.table.sorters = []

    def _id(self, row: int) -> int:
        return int(self.table.value.id.iloc[row])

    def click(self, action: str, connection_id: int) -> Callable[[], None]:
        """A click on the connection's View or Revoke button: its page is shown first (untimed),
        then the click is the browser's event for that row of the page. (The table is unfiltered
        and unsorted by then, so a row's page follows from its position in the frame.)"""
        frame = self.table.value
        position = int(np.flatnonzero(frame.id.to_numpy() == connection_id)[0])
        with self.active():
            self.table.page = position // PAGE + 1
        model = next(iter(self.table._models.values()))[0]
        event = CellClickEvent(model=model, column=action, row=position % PAGE)

        def send() -> None:
            with self.active():
                self.table._process_event(event)
        return send

    def confirm_revoke(self) -> None:
        """Confirm, then show the table anew: the naive page re-reads its frame."""
        super().confirm_revoke()
        with self.active():
            self.table.value = self._frame()


_LOOP = asyncio.new_event_loop()


def drive(step: Awaitable[Any]) -> Any:
    """Run a view model's coroutine to its end, and the tasks it started (a re-read its
    watchers scheduled), on this process's loop: what the server's loop does for a click.
    (A filter change needs none: with no loop running, Panel runs the model's async watcher
    to its end where the parameter is set.)"""
    async def whole() -> Any:
        result = await step
        while others := asyncio.all_tasks() - {asyncio.current_task()}:
            await asyncio.gather(*others)
        return result
    return _LOOP.run_until_complete(whole())


def timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """Wall-clock and CPU milliseconds of one call (CPU time shows cost on a busy machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def live_ids(url: str, n: int, seed: int) -> list[int]:
    """n random ids of live connections (a reused database holds an earlier run's revokes)."""
    with session(url) as s:
        top = s.execute(select(Connection.id).order_by(Connection.id.desc()).limit(1)).scalar_one()
        drawn = random.Random(seed).sample(range(1, top + 1), 4 * n)
        live = set(s.execute(select(Connection.id).where(
            Connection.id.in_(drawn), Connection.revoked_at.is_(None))).scalars())
    return [i for i in drawn if i in live][:n]


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


def open_sessions(make: Callable[[str], Session], url: str, n: int
                  ) -> tuple[list[Session], list[float]]:
    """n sessions of one page, and the seconds each took to build its first screen."""
    sessions, first = [], []
    for _ in range(n):
        start = time.perf_counter()
        sessions.append(make(url))
        first.append(time.perf_counter() - start)
    return sessions, first


def interactions(pages: dict[str, Session], runs: dict[str, int], ids: Iterator[int],
                 confirms: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Each interaction `runs[page]` times on every page, one page's click after the other's,
    so a busy moment of the (shared) machine falls on both alike. Returns summaries by page."""
    clicks: dict[str, Callable[[Session, int], Callable[[], None]]] = {
        "filter": lambda one, i: partial(one.filter, FILTERS[i % len(FILTERS)]),
        "next_page": lambda one, i: partial(one.next_page, i),
        "sort": lambda one, i: partial(one.sort, i),
        "view": lambda one, i: one.click("view", next(ids)),
        "revoke_ask": lambda one, i: one.click("revoke", next(ids)),
    }
    samples: dict[str, dict[str, list[tuple[float, float]]]] = {
        kind: {name: [] for name in [*clicks, "revoke_confirm", "revoke"]} for kind in pages}
    for name, click in clicks.items():
        if name == "next_page":
            for one in pages.values():
                one.filter({})  # (untimed) every card, unfiltered
        if name == "view":
            for one in pages.values():
                one.unsort()  # (untimed) so a row's page follows from its position
        for i in range(max(runs.values())):
            for kind, one in pages.items():
                if i >= runs[kind] or name == "next_page" and not one.can_page():
                    continue
                mine = samples[kind]
                action = click(one, i)  # (its set-up untimed)
                one.doing = name
                mine[name].append(timed(action))
                if name == "revoke_ask" and len(mine["revoke_confirm"]) < confirms[kind]:
                    one.doing = "revoke_confirm"
                    mine["revoke_confirm"].append(timed(one.confirm_revoke))
                    (ask_wall, ask_cpu), (wall, cpu) = mine[name][-1], mine["revoke_confirm"][-1]
                    mine["revoke"].append((ask_wall + wall, ask_cpu + cpu))  # Revoke, Confirm
                one.doing = "untimed"
                one.reset()
    # None: no card has "Load more" at this size (below ~10 connections per card)
    return {kind: {name: summary(values) if values else None for name, values in mine.items()}
            for kind, mine in samples.items()}


def prepare(store: str, connections: int, profiles: int, folder: Path) -> str:
    url = fresh_database(store, folder, BENCH_DB)
    upgrade(get_engine(url))
    with session(url) as s:
        generate(s, actor=ACTOR, connections=connections, profiles=profiles, seed=7)
    with session(url) as s:
        assert s.execute(select(Profile.id).limit(1)).first() is not None
    return url


def run_store(store: str, reuse: str | None, args: argparse.Namespace, folder: Path
              ) -> dict[str, Any]:
    """Measure one store: a database built here (and dropped after), or `reuse` as it is."""
    if reuse:
        url = reuse
        with session(url) as s:
            print(f"[{store}] {s.execute(text('SELECT count(*) FROM connection')).scalar_one():,} "
                  f"connections in {url}", file=sys.stderr)
    else:
        started = time.perf_counter()
        url = prepare(store, args.connections, args.profiles, folder)
        print(f"[{store}] generated {args.connections:,} connections in "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
    gc.collect()
    before = rss_mb()
    makers: dict[str, Callable[[str], Session]] = {"paged": PagedSession, "naive": NaiveSession}
    opened = {kind: open_sessions(make, url, 3 if kind == "paged" else 1)
              for kind, make in makers.items()}
    pages = {kind: sessions[0] for kind, (sessions, _) in opened.items()}
    initial = {kind: one.initial_message() for kind, one in pages.items()}
    naive_runs = min(args.runs, args.naive_runs or args.runs)
    measured = interactions(pages, {"paged": args.runs, "naive": naive_runs},
                            iter(live_ids(url, 4 * args.runs, seed=1)),
                            confirms={"paged": args.runs,
                                      "naive": min(naive_runs, NAIVE_CONFIRMS)})
    print(f"[{store}] interactions measured", file=sys.stderr)
    out = {kind: {"first_screen_s": {"p50": statistics.median(first), "max": max(first)},
                  "interactions": measured[kind],
                  "largest_message_kb": max(initial[kind], pages[kind].largest_patch) / 1024,
                  "initial_document_kb": initial[kind] / 1024,
                  "largest_patch_kb": pages[kind].largest_patch / 1024,
                  "largest_patch_kb_by": {doing: size / 1024 for doing, size
                                          in pages[kind].largest_by_doing.items()}}
           for kind, (_, first) in opened.items()}
    del opened, pages
    # The naive page's sessions each hold the whole table: ~0.5 GB at 1M, ~5 GB at 10M.
    for kind, n in (("paged", 10), ("naive", args.naive_sessions)):
        out[kind]["memory_mb"] = ({"process_before": before,
                                   **session_memory(makers[kind], url, n)} if n >= 2 else None)
    print(f"[{store}] memory measured", file=sys.stderr)
    if not reuse:
        drop_database(store, url, BENCH_DB)
    return out


def table(results: dict[str, Any]) -> str:
    lines = [f"{'store':8} {'measure':25} {'paged':>12} {'naive':>12} {'speedup':>8} {'target':>12}"]
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
                  n["memory_mb"]["per_extra_session"] if n["memory_mb"] else float("nan"),
                  f"<= {TARGETS['mb_per_session']}"),
                 ("largest ws message KB", p["largest_message_kb"], n["largest_message_kb"],
                  f"<= {TARGETS['largest_message_kb']}")]
        for name, a, b, target in rows:
            speed = f"{b / a:.1f}x" if a > 0 and not math.isnan(b) else "–"
            lines.append(f"{store:8} {name:25} {a:12.2f} {b:12.2f} {speed:>8} {target:>12}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1_000_000)
    parser.add_argument("--profiles", type=int, default=200)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--reuse", action="append", default=[],
                        help="measure this built database as it is instead of generating one "
                             "(repeat for each store; its revokes stay in it)")
    parser.add_argument("--naive-runs", type=int,
                        help="clicks of each interaction on the naive page (default: --runs; "
                             "each takes seconds at 10M)")
    parser.add_argument("--naive-sessions", type=int, default=3,
                        help="naive sessions opened to measure memory (0: not measured)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="the JSON file to write")
    args = parser.parse_args()
    pn.extension()
    load_before = os.getloadavg()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        targets = ([(store_kind(url), url) for url in args.reuse] if args.reuse
                   else [(store, None) for store in args.stores.split(",")])
        for store, reuse in targets:
            results[store] = run_store(store, reuse, args, Path(tmp))
    print(table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpu": platform.processor(),
                    "panel": pn.__version__, "load_average_before": load_before,
                    "load_average_after": os.getloadavg()},
        "connections": args.connections, "profiles": args.profiles, "runs": args.runs,
        "naive_runs": args.naive_runs or args.runs, "naive_sessions": args.naive_sessions,
        "reused": args.reuse, "naive_confirms": NAIVE_CONFIRMS, "targets": TARGETS, "results": results,
    }, indent=2))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
