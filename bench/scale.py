"""Scale-out: 2 dashboard processes and one worker on PostgreSQL, 1..50 browser sessions.

    python bench/scale.py [--connections 1000000] [--sessions 1,10,25,50] [--out FILE]

Sessions are Bokeh protocol clients (`bench/bokeh_sessions.py`: a page's GET, websocket and messages,
without rendering; 50 Chromium renderers would take this 2-core machine from the servers), half
on each process's port (nginx adds routing, not server work, and is tested in tests/deploy).
Session counts are reached in turn, adding sessions to the open ones (none ends between counts:
an ending session's teardown, a full garbage-collector pass, is not what a count measures).
For each count:

- interaction: every session at once changes the Status filter (Error, then all) in a bounded
  loop, a person's pause (--think, 2-6 s) between changes; time from the change sent to the
  page's summary arriving, its last patch (p50 / p95 over >= --samples changes), and the full
  garbage-collector passes the processes made meanwhile (/metrics);
- propagation: a revoke committed from this process (as the CLI does) of a row every page shows;
  time until each page's websocket receives its cards without it (p50 / p95 / max over pages
  and revokes);
- idle (--idle-seconds, default 20, with nothing changing): websocket messages per session per
  minute, dashboard CPU per session (ms/s), SQL statements per second (both processes'
  /metrics), PostgreSQL connections in use, RSS per session (the processes' growth over the
  session count).

The baseline is 1 session, measured in the same run; ratios are against it. Targets (issue 17):
propagation p95 <= 1 s; idle sessions 0 messages/min and statements/s not growing with
sessions; interaction p95 at 50 sessions <= 2x its value at 1 session.
"""

import argparse
import asyncio
import http.client
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from bokeh_sessions import BokehSession
from sqlalchemy import text
from stores import drop_database, fresh_database

from connmodel.permissions import Actor, Role
from connmodel.services.connections import revoke_connection
from connmodel.services.groups import cards_screen
from connmodel.store import session

BIN = Path(sys.executable).parent
REVOKES = 3
ADMIN = Actor("bench", Role.ADMIN)


def metric(port: int, name: str) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith((name + " ", name + "{")))


def cpu_and_rss(pids: list[int]) -> tuple[float, float]:
    """CPU seconds used so far and resident MB, summed over the processes."""
    tick, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
    cpu = rss = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu += (int(fields[11]) + int(fields[12])) / tick
        rss += int(fields[21]) * page / 1e6
    return cpu, rss


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def progress(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


async def interactions(sessions: list[BokehSession], summaries: list[str], rounds: int,
                       think: tuple[float, float]) -> list[float]:
    """Every session at once, each changing the Status filter `rounds` times (Error, all, Error,
    ...: always a change) with a person's pause between; seconds from each change to its
    result (the summary)."""
    async def person(s: BokehSession, summary: str) -> list[float]:
        status = s.model("Select", title="Status")
        await asyncio.sleep(random.uniform(0, think[1]))
        seconds = []
        for _ in range(rounds):
            s.state["status"] = "" if s.state.get("status") == "Error" else "Error"
            seconds.append(await s.change(status, "value", s.state["status"], summary))
            await asyncio.sleep(random.uniform(*think))
        return seconds
    return [t for each in await asyncio.gather(*map(person, sessions, summaries)) for t in each]


def full_gc(ports: tuple[int, int]) -> tuple[float, float]:
    """Full garbage-collector passes so far in both processes: how many, and their seconds."""
    series = 'connmodel_gc_pass_seconds_{}{{generation="2"}}'
    return (sum(metric(p, series.format("count")) for p in ports),
            sum(metric(p, series.format("sum")) for p in ports))


async def measure(url: str, ports: tuple[int, int], pids: list[int], n: int,
                  victims: list[int], opts: argparse.Namespace, sessions: list[BokehSession],
                  summaries: list[str], rss0: float) -> dict[str, Any]:
    """Open sessions until there are n (the earlier counts' stay open), then measure."""
    while len(sessions) < n:
        sessions.append(await BokehSession.open(
            f"http://127.0.0.1:{ports[len(sessions) % 2]}/app?page=connections"))
        summaries.append(await sessions[-1].model_showing("Showing"))  # its first screen is in
    progress(f"{n} sessions open")
    await asyncio.sleep(3)  # the first screens' last patches
    _, rss1 = cpu_and_rss(pids)
    statements0 = sum(metric(p, "connmodel_sql_statements_total") for p in ports)
    cpu1, _ = cpu_and_rss(pids)
    idle_from = time.monotonic()
    await asyncio.sleep(opts.idle_seconds)
    idle = time.monotonic() - idle_from
    cpu2, _ = cpu_and_rss(pids)
    statements1 = sum(metric(p, "connmodel_sql_statements_total") for p in ports)
    idle_messages = sum(1 for s in sessions for a in s.arrivals if a.at >= idle_from)
    with session(url) as s:
        connections_used = s.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")).scalar()

    propagation = []
    cards = [s.model_having("cards") for s in sessions]
    for victim in victims:
        committed = await asyncio.to_thread(revoke, url, victim)
        deadline = committed + 10
        while time.monotonic() < deadline and float("inf") in seen(sessions, cards, committed):
            await asyncio.sleep(0.01)
        propagation += seen(sessions, cards, committed)
    await asyncio.sleep(1)  # the revokes' last patches, before the summaries are awaited

    progress(f"{n} sessions: idle and propagation measured")
    rounds = max(4, math.ceil(opts.samples / n / 2) * 2)  # even: each ends showing all
    gc0 = full_gc(ports)
    interaction = await interactions(sessions, summaries, rounds, opts.think)
    gc1 = full_gc(ports)
    progress(f"{n} sessions: {len(interaction)} interactions measured")
    return {
        "sessions": n,
        "interaction_p50_s": statistics.median(interaction),
        "interaction_p95_s": pct(interaction, 0.95),
        "propagation_p50_s": statistics.median(propagation),
        "propagation_p95_s": pct(propagation, 0.95),
        "propagation_max_s": max(propagation),
        "idle_messages_per_session_per_min": idle_messages / n / idle * 60,
        "idle_cpu_ms_per_s_per_session": (cpu2 - cpu1) / idle * 1000 / n,
        "idle_statements_per_s": (statements1 - statements0) / idle,
        "postgres_connections": connections_used,
        "rss_mb_per_session": (rss1 - rss0) / n,
        "full_gc_passes_while_interacting": gc1[0] - gc0[0],
        "full_gc_seconds_while_interacting": gc1[1] - gc0[1],
    }


async def series(url: str, ports: tuple[int, int], pids: list[int], counts: list[int],
                 victims: list[int], opts: argparse.Namespace) -> list[dict[str, Any]]:
    """Each session count in turn, sessions added to the open ones (none ends between
    counts: an ending session's teardown is not what a count measures)."""
    sessions: list[BokehSession] = []
    summaries: list[str] = []
    _, rss0 = cpu_and_rss(pids)
    try:
        return [await measure(url, ports, pids, n, victims[i * REVOKES:(i + 1) * REVOKES], opts,
                              sessions, summaries, rss0) for i, n in enumerate(counts)]
    finally:
        await asyncio.gather(*(s.close() for s in sessions))


def seen(sessions: list[BokehSession], cards: list[str], since: float) -> list[float]:
    """Seconds from since until each session's cards changed (inf where not yet)."""
    return [s.first_change_after(since, c) for s, c in zip(sessions, cards, strict=True)]


def revoke(url: str, victim: int) -> float:
    """Revoke as the CLI does, in its own transaction; when it was committed."""
    with session(url) as s:
        revoke_connection(s, actor=ADMIN, connection_id=victim)
    return time.monotonic()


def print_table(rows: list[dict[str, Any]], load: tuple[float, float]) -> None:
    base = rows[0]
    keys = [k for k in base if k != "sessions"]
    print(f"scale: 2 dashboard processes + worker, PostgreSQL; load average {load[0]:.1f} "
          f"-> {load[1]:.1f}")
    print("| metric | " + " | ".join(f"{r['sessions']} sessions" for r in rows) + " |")
    print("|---|" + "---|" * len(rows))
    for key in keys:
        cells = []
        for r in rows:
            value = r[key]
            ratio = (f" ({value / base[key]:.1f}x)" if r is not base and base[key]
                     and isinstance(value, float) else "")
            cells.append(f"{value:.3g}{ratio}")
        print(f"| {key} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1_000_000)
    parser.add_argument("--profiles", type=int, default=200)
    parser.add_argument("--sessions", default="1,10,25,50",
                        help="session counts, the first is the baseline")
    parser.add_argument("--idle-seconds", type=float, default=20,
                        help="how long each session count sits idle while counting messages")
    parser.add_argument("--samples", type=int, default=30,
                        help="filter changes per session count at least (4 per session at least)")
    parser.add_argument("--think", type=float, nargs=2, default=(2.0, 6.0), metavar=("MIN", "MAX"),
                        help="seconds a person pauses between two filter changes (uniform)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scale.json")
    opts = parser.parse_args()
    counts = [int(n) for n in opts.sessions.split(",")]
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"connmodel-scale-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    name = "connmodel_bench_scale"
    url = fresh_database("postgres", folder, name)
    env = {**os.environ, "CONNMODEL_DATABASE_URL": url,
           "CONNMODEL_KEY_FILE": str(folder / "connmodel.key")}
    env.pop("CONNMODEL_SECRET_KEY", None)
    os.environ.update({k: env[k] for k in ("CONNMODEL_DATABASE_URL", "CONNMODEL_KEY_FILE")})
    supervisor = None
    load_before = os.getloadavg()[0]
    try:
        subprocess.run([BIN / "connmodel", "init"], env=env, check=True, capture_output=True)
        progress(f"generating {opts.connections:,} connections")
        subprocess.run([BIN / "connmodel", "generate", "--connections", str(opts.connections),
                        "--profiles", str(opts.profiles)], env=env, check=True,
                       capture_output=True)
        progress("starting 2 dashboard processes and the worker")
        port = 7700 + os.getpid() % 200 * 2
        ports = (port, port + 1)
        log = (folder / "serve.log").open("wb")
        supervisor = subprocess.Popen(
            [sys.executable, str(ROOT / "dashboard" / "serve.py"), "--no-auth-on-loopback",
             "--port", str(port), "--processes", "2", "--worker"],
            env=env, stdout=log, stderr=subprocess.STDOUT)
        pids = []
        for p in ports:
            deadline = time.monotonic() + 300
            while True:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", p, timeout=30)
                    conn.request("GET", "/healthz")
                    pids.append(json.loads(conn.getresponse().read())["pid"])
                    break
                except (OSError, ValueError):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
        with session(url) as s:  # rows every page shows: their revoke is a visible change
            screen = cards_screen(s, actor=ADMIN)
            victims = [r.id for page in screen.rows.values() for r in page.items]
        victims = victims[:REVOKES * len(counts)]
        rows = asyncio.run(series(url, ports, pids, counts, victims, opts))
    finally:
        if supervisor is not None:
            supervisor.terminate()
            supervisor.wait(120)
        drop_database("postgres", url, name)
    load = (load_before, os.getloadavg()[0])
    print_table(rows, load)
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps({"connections": opts.connections, "load_average": load,
                                    "sessions": "Bokeh protocol clients (bench/bokeh_sessions.py)",
                                    "think_s": opts.think, "rows": rows},
                                   indent=2))


if __name__ == "__main__":
    main()
