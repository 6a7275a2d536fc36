"""Audit benchmark: `connmodel audit` and the notebooks at gateway scale, against the naive way.

For each store (a SQLite file, a fresh PostgreSQL database) it generates N connections (default
1,000,000 in 200 profiles, `connmodel.services.generate`) and 30 days of check history (one
connection in HISTORY_EVERY checked daily, written by INSERT ... SELECT inside the database), then
measures each command in a fresh process of its own (see `measure` for what is counted):

- report: the full `connmodel audit -f html` (every query, charts, one HTML file);
- notebooks: `connmodel audit --notebook NAME` for each notebook (papermill, a real kernel);
- naive: `pandas.read_sql` of the whole tables, then the same findings computed in pandas.

Targets: report <= 10 s and <= 300 MB, at least 5x faster and 5x less memory than naive.
It prints a table and writes bench/results/audit.json. Run: `python bench/audit.py
--connections 100000 --stores sqlite` for a quick look; `make bench` for the full run.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "audit.json"
BENCH_DB = "connmodel_bench_audit"
NOTEBOOKS = ("connections_overview", "stale_and_unused", "errors_and_expiry")
HISTORY_DAYS = 30
HISTORY_EVERY = 10
DAYS = 30
TARGET_S, TARGET_MB, MIN_RATIO = 10.0, 300.0, 5.0


# Peak memory is each process's own high-water mark (VmHWM of /proc/PID/status), never
# ru_maxrss: Linux carries the parent's RSS at exec into the child's ru_maxrss (Python spawns
# with vfork), so a child of this process, which built a million rows, "peaks" at our size.
# Measured: a parent holding 600 MB spawns `python -c pass`: ru_maxrss 612 MB, VmHWM 11 MB.

def vm_hwm_kb(pid: int | str = "self") -> int:
    """The peak resident set of one live process since its exec, in KiB (0 once it has exited)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:  # gone, or not ours to read
        pass
    return 0


def _children(pid: int) -> set[int]:
    """The child processes of `pid`, whichever of its threads started them."""
    found: set[int] = set()
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as children:
                found.update(int(child) for child in children.read().split())
    except OSError:  # it exited meanwhile
        pass
    return found


class DescendantPeaks(threading.Thread):
    """Samples the high-water marks of a process's descendants (a notebook's kernel) every
    `every` seconds until stopped: VmHWM only rises, so the last sample before a descendant
    exits is its peak, short of what it touched in its last `every` seconds."""

    def __init__(self, root: int, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.root, self.every = root, every
        self.peaks_kb: dict[int, int] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.every):
            family, todo = set(), _children(self.root)
            while todo:
                family |= todo
                todo = set().union(*map(_children, todo)) - family
            for pid in family:
                self.peaks_kb[pid] = max(self.peaks_kb.get(pid, 0), vm_hwm_kb(pid))

    def stop(self) -> None:
        self._halt.set()
        self.join()


def connmodel(*argv: str) -> None:
    """Run the console script's entry point (`connmodel.cli:main`) in this process, exit and
    all but the exit itself, so the measurement is the installed command's."""
    from connmodel.cli import main

    sys.argv = ["connmodel", *argv]
    try:
        main()
    except SystemExit as done:
        if done.code not in (0, 1, None):  # 1: a --fail-on finding
            raise SystemExit(f"connmodel {' '.join(argv[:3])} exited {done.code}") from None


def child_report(url: str, out: str) -> None:
    connmodel("audit", "-d", url, "-f", "html", "-o", out, "--days", str(DAYS))


def child_notebook(url: str, out: str, name: str) -> None:
    connmodel("audit", "-d", url, "--notebook", name, "-o", out, "--days", str(DAYS))


def child_naive(url: str) -> None:
    """The findings the way a notebook without connmodel.audit would get them."""
    from datetime import timedelta

    import pandas as pd
    from sqlalchemy import create_engine

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        t = {name: pd.read_sql_table(name, conn) for name in
             ("connection", "profile", "provider_config", "mcp_server", "check_result",
              "audit_event")}
    now = pd.Timestamp.now(tz="UTC")
    for frame in t.values():
        for col in frame.columns:
            if col.endswith("_at") or col == "at":
                frame[col] = pd.to_datetime(frame[col], utc=True, format="mixed")
    conns = t["connection"][t["connection"]["revoked_at"].isna()].merge(
        t["profile"].rename(columns={"id": "profile_id", "name": "profile"}), on="profile_id")
    totals = conns["status"].value_counts()
    errors = conns[conns["status"] == "Error"]
    checks = t["check_result"]
    last_ok = checks[checks["status"] != "Error"].groupby("connection_id")["at"].max()
    err_checks = checks[checks["status"] == "Error"].join(last_ok.rename("ok"), on="connection_id")
    run_start = err_checks[err_checks["ok"].isna() | (err_checks["at"] > err_checks["ok"])] \
        .groupby("connection_id")["at"].min()
    errors = errors.join(run_start.rename("since"), on="id")
    servers = t["mcp_server"].groupby("profile_id")["name"].apply(", ".join)
    errors = errors.join(servers.rename("servers"), on="profile_id").sort_values("since")
    cutoff = now - timedelta(days=DAYS)
    stale = conns[conns["last_used_at"].isna() | (conns["last_used_at"] < cutoff)]
    exp = conns["expires_at"]
    expiring = conns[((exp < now) & (conns["status"] == "Active"))
                     | ((exp >= now) & (exp < now + timedelta(days=DAYS))
                        & (conns["status"] != "Inactive"))]
    n_conn = conns.groupby("profile_id").size()
    n_srv = t["mcp_server"].groupby("profile_id").size()
    profiles = t["profile"]
    unused = profiles[~profiles["id"].isin(n_conn.index) | ~profiles["id"].isin(n_srv.index)]
    mixed = profiles.groupby("provider_config_id")["environment"].nunique()
    last_check = conns.groupby("profile_id")["checked_at"].max()
    prod = profiles[profiles["environment"] == "production"].join(last_check.rename("last"),
                                                                  on="id")
    unchecked = prod[prod["last"].isna() | (prod["last"] < now - timedelta(hours=24))]
    by_profile = conns.groupby(["profile", "status"]).size()
    recent = checks[checks["at"] >= cutoff]
    over_time = recent.groupby([recent["at"].dt.date, "status"]).size()
    rate = conns.groupby("provider_config_id")["status"].apply(lambda s: (s == "Error").mean())
    events = t["audit_event"]
    trail = events[events["action"].isin(["revoke", "reauthorize"])
                   & (events["at"] >= cutoff)].groupby([events["at"].dt.date, "actor"]).size()
    _ = (totals, errors.head(50), stale.head(50), expiring.head(50), unused, mixed[mixed > 1],
         unchecked, by_profile, over_time, rate, trail)


def child_main(argv: list[str]) -> None:
    """One measured command in this fresh interpreter (which imported only the standard library),
    then its own peak memory as the last line of stdout."""
    kind, url, *rest = argv
    if kind == "report":
        child_report(url, rest[0])
    elif kind == "notebook":
        child_notebook(url, rest[0], rest[1])
    else:
        child_naive(url)
    print(json.dumps({"own_kb": vm_hwm_kb()}))


# ---- the parent: build the stores, run the children, print and save --------------------------

def measure(*args: str, may_fail: bool = False) -> dict[str, Any]:
    """Run one measured command in its own child process.

    seconds: wall time from spawn to exit (interpreter start and imports included, as cron sees
    it); cpu_s: user + system time of the child and of the processes it waited for, from
    os.wait4 for that pid alone (a shared machine: wall time also measures the neighbours);
    peak_mb: the child's own high-water mark plus each descendant's (the kernel a notebook
    runs in), so an upper bound of what the command held at once. With `may_fail`, a command
    that fails (the naive way at ten million rows is killed for want of memory) is a result:
    `failed` says how, and its time and peak are what it took until then."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, __file__, "--child", *args], stdout=out,
                                 stderr=err, text=True)
        kernels = DescendantPeaks(child.pid)
        kernels.start()
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        kernels.stop()
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        failed = None
        if child.returncode != 0:
            why = err.read()[-3000:]
            if not may_fail:
                raise SystemExit(f"{args[0]} failed ({child.returncode}):\n{why}")
            failed = (f"killed by signal {-child.returncode}" + (
                " (out of memory)" if child.returncode == -9 else "")
                if child.returncode < 0 else f"exit status {child.returncode}: {why[-300:]}")
            own_kb = usage.ru_maxrss  # the child's own high-water mark (KB), from the kernel
        else:
            own_kb = json.loads(out.read().strip().splitlines()[-1])["own_kb"]
    result = {"seconds": round(seconds, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
              "peak_mb": round((own_kb + sum(kernels.peaks_kb.values())) / 1024, 1),
              "processes": 1 + len(kernels.peaks_kb)}
    return {**result, "failed": failed} if failed else result


def add_history(url: str) -> int:
    """30 daily checks for one connection in HISTORY_EVERY, written by the database itself.

    On PostgreSQL then VACUUM (ANALYZE), as autovacuum would minutes after the insert: the
    visibility map lets the audit count days of checks on the index alone."""
    from sqlalchemy import text

    from connmodel.models import utcnow
    from connmodel.store import get_engine

    now = utcnow()
    engine = get_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            days = "SELECT generate_series(0, :n - 1) AS d"
            at = "CAST(:now AS timestamptz) - d * interval '1 day'"
        else:
            days = ("WITH RECURSIVE days(d) AS (SELECT 0 UNION ALL SELECT d + 1 FROM days "
                    "WHERE d < :n - 1) SELECT d FROM days")
            at = "strftime('%Y-%m-%d %H:%M:%f000', :now, '-' || d || ' days')"
        conn.execute(text(
            f"INSERT INTO check_result (connection_id, at, status, reachable, reason) "
            f"SELECT c.id, {at}, CASE WHEN c.status = 'Error' AND d < 3 THEN 'Error' "
            f"WHEN c.status = 'Inactive' AND d < 2 THEN 'Inactive' ELSE 'Active' END, "
            f"{'true' if engine.dialect.name == 'postgresql' else '1'}, "
            f"CASE WHEN c.status = 'Error' AND d < 3 THEN c.status_reason END "
            f"FROM connection c CROSS JOIN ({days}) AS days WHERE c.id % :every = 0"),
            {"n": HISTORY_DAYS, "now": now.strftime("%Y-%m-%d %H:%M:%S+00:00"),
             "every": HISTORY_EVERY})
        count = conn.execute(text("SELECT count(*) FROM check_result")).scalar_one()
    if engine.dialect.name == "postgresql":  # as generate does after its load (see there)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE) check_result"))
    return int(count)


def build(url: str, connections: int, profiles: int) -> dict[str, Any]:
    from cryptography.fernet import Fernet

    from connmodel.permissions import Actor
    from connmodel.schema import upgrade
    from connmodel.secrets import KeyRing
    from connmodel.services.generate import generate
    from connmodel.store import get_engine, session

    upgrade(get_engine(url))
    keyring = KeyRing((Fernet.generate_key(),), "bench")
    started = time.perf_counter()
    with session(url) as s:
        generate(s, actor=Actor("bench"), connections=connections, profiles=profiles, seed=1,
                 keyring=keyring)
    checks = add_history(url)
    return {"connections": connections, "check_results": checks,
            "build_s": round(time.perf_counter() - started, 1)}


def store_url(kind: str, folder: Path) -> str:
    from stores import fresh_database  # bench/stores.py

    return fresh_database(kind, folder, BENCH_DB)


def measure_rows(kind: str, url: str, folder: Path, skip_notebooks: bool) -> dict[str, Any]:
    # The report first: the naive way may not finish (at ten million rows it needs more memory
    # than this machine has), and its failure is a result, not the end of the run.
    rows: dict[str, Any] = {"report": measure("report", url, str(folder / f"{kind}.html"))}
    rows["naive"] = measure("naive", url, may_fail=True)
    if not skip_notebooks:
        for name in NOTEBOOKS:
            rows[f"notebook {name}"] = measure("notebook", url, str(folder / f"{name}.html"),
                                               name)
    return rows


def bench_store(kind: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    from sqlalchemy import text

    from connmodel.models import utcnow
    from connmodel.store import get_engine

    if args.reuse:  # a database an earlier run built (and kept): skip the build
        url = args.reuse
        with get_engine(url).connect() as conn:
            info: dict[str, Any] = {
                "connections": conn.execute(text("SELECT count(*) FROM connection")).scalar_one(),
                "check_results": conn.execute(
                    text("SELECT count(*) FROM check_result")).scalar_one(),
                "build_s": None}
    else:
        url = store_url(kind, folder)
        info = build(url, args.connections, args.profiles)
    print(f"[{kind}] {info['connections']:,} connections, {info['check_results']:,} check "
          f"results (built in {info['build_s']} s)", flush=True)
    try:
        rows = measure_rows(kind, url, folder, args.skip_notebooks)
    finally:
        if not (args.reuse or args.keep):  # a million rows left on a shared server otherwise
            from stores import drop_database  # bench/stores.py

            drop_database(kind, url, BENCH_DB)
        elif kind == "postgres" and not args.reuse:
            print(f"[{kind}] kept for --reuse: {url}", flush=True)
    # A naive run that failed gives its time and memory until then: the ratios are lower bounds.
    naive = rows["naive"]
    for row in rows.values():
        row["x_faster"] = round(naive["seconds"] / max(row["seconds"], 0.01), 1)
        row["x_less_cpu"] = round(naive["cpu_s"] / max(row["cpu_s"], 0.01), 1)
        row["x_less_memory"] = round(naive["peak_mb"] / max(row["peak_mb"], 1), 1)
    report = rows["report"]
    info["meets_targets"] = (report["seconds"] <= TARGET_S and report["peak_mb"] <= TARGET_MB
                             and report["x_faster"] >= MIN_RATIO
                             and report["x_less_memory"] >= MIN_RATIO)
    return {**info, "measured_at": utcnow().isoformat(timespec="seconds"), "rows": rows}


def print_table(results: dict[str, Any]) -> None:
    print(f"\n{'store':8} {'what':34} {'seconds':>8} {'CPU s':>7} {'peak MB':>8} "
          f"{'x faster':>9} {'x less CPU':>10} {'x less mem':>10}")
    for kind, res in results.items():
        for what, row in res["rows"].items():
            print(f"{kind:8} {what:34} {row['seconds']:>8.2f} {row['cpu_s']:>7.2f} "
                  f"{row['peak_mb']:>8.1f} {row['x_faster']:>9.1f} {row['x_less_cpu']:>10.1f} "
                  f"{row['x_less_memory']:>10.1f}")
        if failed := res["rows"]["naive"].get("failed"):
            print(f"{kind:8} naive: {failed} (its ratios are lower bounds)")
        print(f"{kind:8} targets (report <= {TARGET_S:.0f} s, <= {TARGET_MB:.0f} MB, >= "
              f"{MIN_RATIO:.0f}x naive): {'met' if res['meets_targets'] else 'NOT met'}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1_000_000)
    parser.add_argument("--profiles", type=int, default=200)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--skip-notebooks", action="store_true")
    parser.add_argument("--reuse", metavar="URL", help="measure this already built database "
                        "(one store) instead of building one")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database "
                        "built (for --reuse); by default it is dropped after the run")
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help="the JSON file to write (a quick look elsewhere keeps the full run's)")
    args = parser.parse_args()
    os.environ.pop("CONNMODEL_DATABASE_URL", None)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.stores.split(","):
            results[kind] = bench_store(kind.strip(), args, Path(tmp))
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    earlier = json.loads(args.out.read_text())["results"] if args.out.exists() else {}
    args.out.write_text(json.dumps({  # a run of one store keeps the other store's figures
        "benchmark": "audit", "machine": {"python": platform.python_version(),
                                          "cpus": os.cpu_count()},
        "days": DAYS, "results": {**earlier, **results}}, indent=2) + "\n")
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
