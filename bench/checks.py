"""Check benchmark: live checks of N real loopback MCP servers, bounded-concurrent vs one at a time.

It starts N MCP servers (the `mcp` SDK's MCPServer Calculator under uvicorn, default 500) in
`--processes` worker processes, several servers per process, each on its own loopback port; seeds
a SQLite store with one no-auth connection per server; then runs `connmodel check --all`'s code
path twice in the same run:

- connmodel: `run_checks` with `--concurrency` (default 50);
- baseline: the same checks one at a time (concurrency 1).

The servers are stateless JSON-response Streamable HTTP servers (the cheapest real MCP
configuration, so the figures are about the checker, not the fixtures). It reports total time,
p95 per check, peak memory (RSS high-water mark of this process), CPU used by the checker and by
the servers, the machine's load and the speed-up; prints a table and writes
bench/results/checks.json. Target: 500 within 15 s.
Run: `python bench/checks.py` or `python bench/checks.py --servers 100`.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet

from connmodel.checks import CheckRequest, run_checks
from connmodel.permissions import Actor
from connmodel.schema import upgrade
from connmodel.secrets import KeyRing
from connmodel.services.connections import create_connection
from connmodel.services.profiles import create_profile, create_provider_config
from connmodel.services.servers import add_server
from connmodel.store import get_engine, session

RESULTS = Path(__file__).parent / "results" / "checks.json"
ACTOR = Actor("bench")
TARGET_S = 15.0

WORKER = """
import sys
sys.path.insert(0, {tests!r})
from checks.mcp_servers import LoopbackServers, calculator, mcp_app
apps = [mcp_app(calculator(f"Calc {{i}}"), stateless={stateless}) for i in range({n})]
servers = LoopbackServers(apps).start()
print(" ".join(map(str, servers.ports)), flush=True)
sys.stdin.read()
servers.stop()
"""


def start_servers(total: int, processes: int,
                  stateless: bool = True) -> tuple[list[subprocess.Popen[str]], list[str]]:
    """Worker processes serving `total` MCP servers; returns them and the server URLs."""
    tests = str(Path(__file__).resolve().parents[1] / "tests")
    per = [total // processes + (1 if i < total % processes else 0) for i in range(processes)]
    workers = [subprocess.Popen([sys.executable, "-c", WORKER.format(tests=tests, n=n, stateless=stateless)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for n in per if n]
    urls = []
    for w in workers:
        assert w.stdout is not None
        urls += [f"http://127.0.0.1:{p}/mcp" for p in w.stdout.readline().split()]
    return workers, urls


def seed(url: str, urls: list[str], keyring: KeyRing) -> None:
    with session(url) as s:
        provider = create_provider_config(s, actor=ACTOR, name="No Authentication Provider",
                                          kind="none", keyring=keyring)
        for i, server_url in enumerate(urls):
            profile = create_profile(s, actor=ACTOR, name=f"Bench {i:04d}",
                                     provider_config_id=provider.id or 0)
            create_connection(s, actor=ACTOR, profile_id=profile.id or 0, account="Configured")
            add_server(s, actor=ACTOR, name=f"Calculator {i:04d}", url=server_url,
                       profile=profile.name)
        s.commit()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the given processes have used so far (Linux /proc)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(url: str, keyring: KeyRing, concurrency: int, timeout: float,
            server_pids: list[int]) -> dict[str, float]:
    started, cpu, server_cpu = time.perf_counter(), time.process_time(), cpu_seconds(server_pids)
    checks = run_checks(url, actor=ACTOR, keyring=keyring,
                        request=CheckRequest(all_connections=True, concurrency=concurrency,
                                             timeout=timeout))
    total = time.perf_counter() - started
    cpu = time.process_time() - cpu
    server_cpu = cpu_seconds(server_pids) - server_cpu
    latencies = sorted(s.latency_ms for c in checks for s in c.servers if s.latency_ms is not None)
    ok = sum(s.outcome == "ok" for c in checks for s in c.servers)
    return {
        "concurrency": concurrency,
        "checks": len(latencies),
        "ok": ok,
        "total_s": round(total, 2),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "client_cpu_s": round(cpu, 2),
        "servers_cpu_s": round(server_cpu, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=500)
    parser.add_argument("--processes", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=RESULTS, help="the JSON file to write")
    args = parser.parse_args()

    keyring = KeyRing((Fernet.generate_key(),), "bench")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(get_engine(url))
        t0 = time.perf_counter()
        workers, urls = start_servers(args.servers, args.processes)
        started_s = time.perf_counter() - t0
        try:
            seed(url, urls, keyring)
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            pids = [w.pid for w in workers]
            concurrent = measure(url, keyring, args.concurrency, args.timeout, pids)
            baseline = measure(url, keyring, 1, args.timeout, pids)
            load = os.getloadavg()[0]
        finally:
            for w in workers:
                assert w.stdin is not None
                w.stdin.close()
            for w in workers:
                try:
                    w.wait(15)
                except subprocess.TimeoutExpired:
                    w.kill()
    speedup = round(baseline["total_s"] / concurrent["total_s"], 1)
    print(f"{args.servers} MCP servers in {len(workers)} processes (started in {started_s:.1f} s)")
    print(f"{'run':<12}{'conc.':>6}{'ok':>6}{'total s':>9}{'p50 ms':>9}{'p95 ms':>9}"
          f"{'peak RSS MB':>13}{'client CPU s':>14}{'servers CPU s':>15}")
    for name, r in (("connmodel", concurrent), ("one-by-one", baseline)):
        print(f"{name:<12}{r['concurrency']:>6}{r['ok']:>6}{r['total_s']:>9}{r['p50_ms']:>9}"
              f"{r['p95_ms']:>9}{r['peak_rss_mb']:>13}{r['client_cpu_s']:>14}"
              f"{r['servers_cpu_s']:>15}")
    print(f"load average during the run: {load:.1f} on {os.cpu_count()} CPUs")
    verdict = "met" if concurrent["total_s"] <= TARGET_S else "MISSED"
    print(f"speed-up {speedup}x; target {args.servers} within {TARGET_S:g} s: {verdict}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "servers": args.servers, "processes": len(workers), "rss_before_mb": round(rss_before, 1),
        "connmodel": concurrent, "baseline": baseline, "speedup": speedup,
        "target_s": TARGET_S, "target_met": concurrent["total_s"] <= TARGET_S,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average": round(load, 1)},
    }, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
