"""`/metrics` (Prometheus text format) and `/healthz` for one dashboard process.

/metrics: sessions open, server-side interaction latency (from Panel's `state.busy` going up
to going down: the time the process spends on what a browser sent), SQL statements run, the
garbage collector's passes (each holds every page of the process), the change watcher (reads,
listening), and, read from the store at each scrape, the worker's lag and its queue depths.
Nothing in it names a user or a connection.

/healthz: 200 when the database answers and its schema is at this code's newest migration,
503 with the reason otherwise (a load balancer takes the process out of rotation). The store
work runs in a thread, off the event loop.
"""

import asyncio
import gc
import json
import os
import time
from collections.abc import Iterable
from typing import Any

import panel as pn
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from tornado.web import RequestHandler

from connmodel.errors import ConnModelError
from connmodel.schema import is_current
from connmodel.store import get_engine, reading
from connmodel.worker import queue_depths
from dashboard.changes import watchers

REGISTRY = CollectorRegistry()
INTERACTIONS = Histogram(
    "connmodel_interaction_seconds", "Server time spent on what a browser sent (a click, a "
    "filter change), from Panel's busy state going up to going down.", registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
STATEMENTS = Counter("connmodel_sql_statements", "SQL statements this process ran.",
                     registry=REGISTRY)
SESSIONS = Gauge("connmodel_sessions", "Browser sessions open in this process.",
                 registry=REGISTRY)
GC_PASSES = Histogram(
    "connmodel_gc_pass_seconds", "Garbage collector passes by generation (2: a full pass, "
    "which Panel also runs a few seconds after sessions end); every page of the process waits.",
    ["generation"], registry=REGISTRY,
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
_busy_since: list[float] = []
_gc_since: list[float] = []


def _busy(event: Any) -> None:
    if event.new:
        _busy_since[:] = [time.perf_counter()]
    elif _busy_since:
        INTERACTIONS.observe(time.perf_counter() - _busy_since.pop())


def _gc_pass(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_since[:] = [time.perf_counter()]
    elif _gc_since:
        GC_PASSES.labels(str(info["generation"])).observe(time.perf_counter() - _gc_since.pop())


@event.listens_for(Engine, "after_cursor_execute")
def _count_statement(*_: Any) -> None:
    STATEMENTS.inc()


class _Live(Collector):
    """Values read at scrape time: the watcher, the worker and its queues."""

    def collect(self) -> Iterable[Metric]:
        running = watchers()
        yield GaugeMetricFamily("connmodel_change_watcher_reads",
                                "Change-token reads by this process's watcher (one per change, "
                                "whatever the sessions).", value=sum(w.reads for w in running))
        yield GaugeMetricFamily("connmodel_change_watcher_listening",
                                "1 while the PostgreSQL LISTEN connection is up.",
                                value=float(any(w.listening for w in running)))
        try:
            with reading() as s:
                depths = queue_depths(s)
        except ConnModelError:
            return  # /healthz says why; the gauges are absent rather than wrong
        yield GaugeMetricFamily("connmodel_webhook_queue_depth", "Webhook deliveries pending.",
                                value=depths.webhooks)
        yield GaugeMetricFamily("connmodel_revocation_queue_depth",
                                "Provider revocations pending.", value=depths.revocations)
        if depths.worker_lag_s is not None:
            yield GaugeMetricFamily("connmodel_worker_lag_seconds",
                                    "Seconds since a worker last finished a cycle.",
                                    value=depths.worker_lag_s)


REGISTRY.register(_Live())
pn.state.param.watch(_busy, "busy")
gc.callbacks.append(_gc_pass)


class MetricsHandler(RequestHandler):
    """Served by the Bokeh server (`self.application`: its documented `app_paths` and
    `get_sessions` count the sessions)."""

    async def get(self) -> None:
        app = self.application
        SESSIONS.set(sum(len(app.get_sessions(path)) for path in app.app_paths))  # type: ignore[attr-defined]
        body = await asyncio.to_thread(generate_latest, REGISTRY)
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.set_header("Cache-Control", "no-store")
        self.write(body)


def health() -> tuple[bool, dict[str, object]]:
    """Whether this process can serve pages: the database answers, its schema is current."""
    report: dict[str, object] = {"pid": os.getpid()}
    try:
        current = is_current(get_engine())
    except ConnModelError as exc:
        return False, {**report, "database": str(exc)}
    except SQLAlchemyError as exc:  # not through the store's translation: still "down"
        return False, {**report, "database": f"{type(exc).__name__}: {exc}"[:300]}
    report |= {"database": "ok", "migrations": "current" if current else
               "behind: run `connmodel init`"}
    return current, report


class HealthHandler(RequestHandler):
    async def get(self) -> None:
        ok, report = await asyncio.to_thread(health)
        self.set_status(200 if ok else 503)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.write(json.dumps(report))
