"""Scale-out: 2 dashboard processes and one worker on PostgreSQL, 1..50 browser sessions.

    python bench/scale.py [--connections 1000000] [--sessions 1,10,25,50] [--out FILE]

Sessions are real Chromium pages (Playwright), half on each process's port (nginx adds
routing, not server work, and is tested in tests/deploy). For each session count:

- interaction: the Status filter changed on every page in turn; time until the page's websocket
  receives the server's answer (p50 / p95);
- propagation: a revoke committed from this process (as the CLI does); time until each page's
  websocket receives the change (p50 / p95 / max over pages and revokes);
- idle (--idle-seconds, default 20, with nothing changing): websocket messages per session per
  minute, dashboard CPU per session (ms/s), SQL statements per second (both processes'
  /metrics), PostgreSQL connections in use, RSS per session (the processes' growth over the
  session count).

The baseline is 1 session, measured in the same run; ratios are against it. Targets (issue 17):
propagation p95 <= 1 s; idle sessions 0 messages/min and statements/s not growing with
sessions; interaction p95 at 50 sessions <= 2x its value at 1 session.
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from sqlalchemy import text
from stores import drop_database, fresh_database

from connmodel.permissions import Actor, Role
from connmodel.services.connections import revoke_connection
from connmodel.services.groups import cards_screen
from connmodel.store import session

BIN = Path(sys.executable).parent
REVOKES = 3
ADMIN = Actor("bench", Role.ADMIN)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


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


class Pages:
    """N Chromium pages on the two processes, each recording its websocket arrivals."""

    def __init__(self, browser: Any, ports: tuple[int, int], n: int) -> None:
        self.pages, self.frames = [], []
        for i in range(n):
            page = browser.new_page()
            arrivals: list[float] = []
            page.on("websocket", lambda ws, a=arrivals: ws.on(
                "framereceived", lambda _: a.append(time.monotonic())))
            page.goto(f"http://127.0.0.1:{ports[i % 2]}/app?page=connections", timeout=300_000)
            page.get_by_text("Showing").first.wait_for(timeout=300_000)
            self.pages.append(page)
            self.frames.append(arrivals)

    def first_after(self, i: int, since: float, timeout: float = 10) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            later = [t for t in self.frames[i] if t > since]
            if later:
                return later[0] - since
            self.pages[i].wait_for_timeout(10)
        return float("inf")

    def close(self) -> None:
        for page in self.pages:
            page.close()


def measure(browser: Any, url: str, ports: tuple[int, int], pids: list[int], n: int,
            victims: list[int], idle_s: float) -> dict[str, Any]:
    _, rss0 = cpu_and_rss(pids)
    pages = Pages(browser, ports, n)
    time.sleep(3)  # the first screens' last patches
    _, rss1 = cpu_and_rss(pids)
    statements0 = sum(metric(p, "connmodel_sql_statements_total") for p in ports)
    cpu1, _ = cpu_and_rss(pids)
    idle_from = time.monotonic()
    time.sleep(idle_s)
    idle = time.monotonic() - idle_from
    cpu2, _ = cpu_and_rss(pids)
    statements1 = sum(metric(p, "connmodel_sql_statements_total") for p in ports)
    idle_frames = sum(1 for frames in pages.frames for t in frames if t >= idle_from)
    with session(url) as s:
        connections_used = s.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")).scalar()

    propagation = []
    for victim in victims:
        with session(url) as s:
            revoke_connection(s, actor=ADMIN, connection_id=victim)
        committed = time.monotonic()
        propagation += [pages.first_after(i, committed) for i in range(n)]

    interaction = []
    for i, page in enumerate(pages.pages):
        for status in ("Error", ""):
            started = time.monotonic()
            page.locator("select").filter(has_text="All statuses").select_option(
                status or "All statuses")
            interaction.append(pages.first_after(i, started))
    pages.close()
    return {
        "sessions": n,
        "interaction_p50_s": statistics.median(interaction),
        "interaction_p95_s": pct(interaction, 0.95),
        "propagation_p50_s": statistics.median(propagation),
        "propagation_p95_s": pct(propagation, 0.95),
        "propagation_max_s": max(propagation),
        "idle_messages_per_session_per_min": idle_frames / n / idle * 60,
        "idle_cpu_ms_per_s_per_session": (cpu2 - cpu1) / idle * 1000 / n,
        "idle_statements_per_s": (statements1 - statements0) / idle,
        "postgres_connections": connections_used,
        "rss_mb_per_session": (rss1 - rss0) / n,
    }


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
        subprocess.run([BIN / "connmodel", "generate", "--connections", str(opts.connections),
                        "--profiles", str(opts.profiles)], env=env, check=True,
                       capture_output=True)
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
        from playwright.sync_api import sync_playwright

        rows = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for i, n in enumerate(counts):
                rows.append(measure(browser, url, ports, pids, n,
                                    victims[i * REVOKES:(i + 1) * REVOKES], opts.idle_seconds))
            browser.close()
    finally:
        if supervisor is not None:
            supervisor.terminate()
            supervisor.wait(120)
        drop_database("postgres", url, name)
    load = (load_before, os.getloadavg()[0])
    print_table(rows, load)
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps({"connections": opts.connections, "load_average": load,
                                    "sessions": "Chromium pages (Playwright)", "rows": rows},
                                   indent=2))


if __name__ == "__main__":
    main()
