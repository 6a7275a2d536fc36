"""CLI start benchmark: the CPU a whole `connmodel` process costs, as scripts and cron jobs pay it.

For `connmodel connections --limit 10 -f json`, `connmodel show ID -f json` and `connmodel
--help` on a SQLite file of N connections (default 10,000: the commands read one page, so the
size barely matters), it runs each command --runs times (default 20) as a new process and takes
its CPU time (user + system, from the kernel's rusage of the child). In the same run, turn by
turn with them: `python -c pass` (the interpreter's own start, the floor) and the `sqlite3`
command reading the same page (what the answer costs without Python), and the imports a listing
cannot do without (Typer; SQLModel with SQLAlchemy and pydantic), to show where the time goes.
It prints p50/p95 and the
ratio to `python -c pass`, records the load average, and writes JSON (--out).

Target (issue 19): each command <= 150 ms of CPU at p50. Run: `make bench` or
`python bench/cli.py --connections 10000`.
"""

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connmodel.permissions import Actor
from connmodel.schema import upgrade
from connmodel.services.generate import generate
from connmodel.store import get_engine, session

RESULTS = Path(__file__).parent / "results" / "cli.json"
TARGET_MS = 150
BIN = Path(sys.executable).parent


def cpu_ms(argv: list[str], env: dict[str, str]) -> float:
    """CPU time (user + system) of one child process running `argv` to the end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return 1000 * ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"runs": len(samples), "p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1)}


def build(folder: Path, connections: int) -> str:
    url = f"sqlite:///{folder / 'cli.db'}"
    upgrade(get_engine(url))
    with session(url) as s:
        generate(s, actor=Actor("bench"), connections=connections,
                 profiles=max(1, min(200, connections // 50)), seed=7)
    get_engine(url).dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = build(Path(tmp), args.connections)
        env = {**os.environ, "CONNMODEL_DATABASE_URL": url, "CONNMODEL_ACTOR": "bench"}
        cli = str(BIN / "connmodel")
        commands: dict[str, list[str]] = {
            "python -c pass": [sys.executable, "-c", "pass"],
            # where the time goes: the imports every listing needs, without running anything
            "import typer": [sys.executable, "-c", "import typer"],
            "import sqlmodel (+SQLAlchemy, pydantic)": [sys.executable, "-c", "import sqlmodel"],
            "connections --limit 10 -f json": [cli, "connections", "--limit", "10", "-f", "json"],
            "show 1 -f json": [cli, "show", "1", "-f", "json"],
            "--help": [cli, "--help"],
        }
        sqlite3 = shutil.which("sqlite3")
        if sqlite3:
            commands["sqlite3 (same page)"] = [
                sqlite3, "-json", url.removeprefix("sqlite:///"),
                ("SELECT c.id, p.name, c.service, c.account, c.status, c.status_reason, "
                 "c.checked_at FROM connection c JOIN profile p ON p.id = c.profile_id "
                 "WHERE c.revoked_at IS NULL ORDER BY c.id LIMIT 11")]
        for argv in commands.values():  # warm the page cache and the bytecode cache
            cpu_ms(argv, env)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        load_before = os.getloadavg()
        for _ in range(args.runs):  # turn by turn: a busy moment falls on every command
            for name, argv in commands.items():
                samples[name].append(cpu_ms(argv, env))
        load_after = os.getloadavg()

    floor = statistics.median(samples["python -c pass"])
    results: dict[str, Any] = {}
    print(f"{'command':40} {'p50 ms':>8} {'p95 ms':>8} {'x pass':>7}  target <= {TARGET_MS} ms")
    for name, values in samples.items():
        row = summary(values)
        row["ratio_to_python_pass"] = round(row["p50_ms"] / floor, 1) if floor else None
        if name.startswith(("connections", "show", "--help")):
            row["meets_target"] = row["p50_ms"] <= TARGET_MS
        results[name] = row
        verdict = {True: "met", False: "MISSED"}.get(row.get("meets_target"), "")  # type: ignore[call-overload]
        print(f"{name:40} {row['p50_ms']:8.1f} {row['p95_ms']:8.1f} "
              f"{row['ratio_to_python_pass']:7.1f}  {verdict}")
    print(f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "cli", "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "connections": args.connections, "target_ms": TARGET_MS,
        "load_average": {"before": load_before, "after": load_after},
        "results": results}, indent=2))


if __name__ == "__main__":
    main()
