"""Every benchmark of `make bench` runs end to end at a tiny size and writes its figures.

The benchmarks drive the real page and services, so a change elsewhere can break them without
any other test noticing (bench/refresh.py drives bench/dashboard.py's page, for one). The sizes
here are far too small for the figures to mean anything: only that each run finishes, measures
what its issue names and writes it. Each writes to a temporary file; bench/results/ keeps the
full runs' figures.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from connmodel.store import get_engine

BENCH = Path(__file__).resolve().parents[2] / "bench"


def bench(script: str, *args: str, timeout: float = 170) -> subprocess.CompletedProcess[str]:
    """Run bench/`script` with `args`, as `make bench` does.

    In a session of its own: on a timeout the servers and browsers it started are killed with
    it (a run left behind kept a dashboard busy for the rest of a suite).
    """
    with subprocess.Popen([sys.executable, str(BENCH / script), *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, cwd=BENCH.parent,
                          start_new_session=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            pytest.fail(f"bench/{script} ran over {timeout} s:\n{(out + err)[-4000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run(script: str, *args: str, timeout: float = 170) -> str:
    """Run a benchmark that must succeed; its output, or a failure showing the end of it."""
    proc = bench(script, *args, timeout=timeout)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    return output


def measured(figures: dict[str, Any]) -> None:
    """A p50 / p95 summary of real samples."""
    assert figures["runs"] > 0
    assert 0 < figures["p50_ms"] <= figures["p95_ms"]


@pytest.mark.postgres
def test_dashboard_benchmark_measures_both_pages_on_both_stores(tmp_path, postgres_url):
    out = tmp_path / "dashboard.json"
    printed = run("dashboard.py", "--connections", "2000", "--profiles", "20", "--runs", "3",
                  "--out", str(out))
    assert "view p95 ms" in printed
    results = json.loads(out.read_text())["results"]
    assert set(results) == {"sqlite", "postgres"}
    for store in results.values():
        for page in store.values():
            assert page["first_screen_s"]["p50"] > 0
            interactions = page["interactions"]
            for name in ("filter", "next_page", "sort", "view", "revoke_ask", "revoke_confirm",
                         "revoke"):
                measured(interactions[name])
            assert interactions["view"]["runs"] == 3
            assert page["memory_mb"]["sessions"] > 1
            assert page["largest_message_kb"] > 0
    with get_engine(postgres_url).connect() as conn:  # the run dropped the database it built
        assert conn.execute(text("SELECT count(*) FROM pg_database "
                                 "WHERE datname = 'connmodel_bench_dashboard'")).scalar() == 0


@pytest.mark.postgres
def test_store_benchmark_compares_with_raw_sql_on_both_stores(tmp_path, postgres_url):
    out = tmp_path / "store.json"
    run("store.py", "--connections", "20000", "--profiles", "20", "--repeats", "5",
        "--naive-repeats", "1", "--out", str(out))
    results = json.loads(out.read_text())["results"]
    assert [r["store"] for r in results] == ["sqlite", "postgres"]
    for store in results:
        for op in ("page", "count", "search", "revoke"):
            row = store["ops"][op]
            assert row["connmodel"]["p50"] > 0 and row["raw"]["p50"] > 0
            assert row["ratio_vs_raw_p50"] > 0


def test_store_benchmark_says_what_is_missing_when_no_profile_fits(tmp_path):
    proc = bench("store.py", "--connections", "40000", "--profiles", "10", "--stores", "sqlite",
                 "--repeats", "5", "--out", str(tmp_path / "store.json"))
    assert proc.returncode != 0
    assert "no OAuth2 profile among 10 generated: use more --profiles" in proc.stderr
    assert not (tmp_path / "store.json").exists()


def test_search_benchmark_times_needles_of_every_tier_on_both_stores(tmp_path, postgres_url):
    out = tmp_path / "search.json"
    run("search.py", "--connections", "20000", "--profiles", "20", "--runs", "2",
        "--out", str(out))
    stores = json.loads(out.read_text())["stores"]
    assert list(stores) == ["sqlite", "postgres"]
    for store in stores.values():
        tiers = {r["tier"] for r in store["results"]}
        assert any(t.startswith("rare") for t in tiers) and any(t.startswith("common") for t in tiers)
        assert {r["measure"] for r in store["results"]} == {"cli", "cli + Error", "cards",
                                                             "cards + Error", "revoke ask"}
        assert all(r["p50_ms"] > 0 for r in store["results"])


@pytest.mark.postgres
def test_events_benchmark_times_the_activity_filters_against_the_walk(tmp_path, postgres_url):
    out = tmp_path / "events.json"
    run("events.py", "--events", "3000", "--runs", "2", "--baseline-runs", "1",
        "--out", str(out))
    stores = json.loads(out.read_text())["stores"]
    assert list(stores) == ["sqlite", "postgres"]
    for store in stores.values():
        assert len(store["results"]) == 10
        for row in store["results"]:
            measured(row["connmodel"])
            measured(row["walked"])


def test_audit_benchmark_times_report_and_naive(tmp_path):
    out = tmp_path / "audit.json"
    run("audit.py", "--connections", "2000", "--profiles", "20", "--stores", "sqlite",
        "--skip-notebooks", "--out", str(out))
    rows = json.loads(out.read_text())["results"]["sqlite"]["rows"]
    for way in ("report", "naive"):
        assert rows[way]["seconds"] > 0 and rows[way]["peak_mb"] > 0


def test_checks_benchmark_checks_every_server(tmp_path):
    out = tmp_path / "checks.json"
    run("checks.py", "--servers", "4", "--processes", "1", "--concurrency", "2",
        "--out", str(out))
    figures = json.loads(out.read_text())
    assert figures["connmodel"]["ok"] == figures["baseline"]["ok"] == 4


def test_refresh_benchmark_refreshes_every_token_while_the_dashboard_is_used(tmp_path):
    run("refresh.py", "--tokens", "200", "--baseline-tokens", "50", "--idle-seconds", "1",
        "--stores", "sqlite", "--out-dir", str(tmp_path))
    figures = json.loads((tmp_path / "refresh-sqlite.json").read_text())
    assert figures["refresh"]["refreshed"] == 200 and figures["refresh"]["error"] is None
    assert figures["dashboard_during"]["worst_p95_ms"] > 0


def test_cli_benchmark_measures_each_command_against_python_itself(tmp_path):
    out = tmp_path / "cli.json"
    printed = run("cli.py", "--connections", "200", "--runs", "2", "--out", str(out))
    assert "load average" in printed
    results = json.loads(out.read_text())["results"]
    for name in ("connections --limit 10 -f json", "show 1 -f json", "--help"):
        assert results[name]["p50_ms"] > 0 and results[name]["ratio_to_python_pass"] > 1
        assert isinstance(results[name]["meets_target"], bool)
    assert results["python -c pass"]["runs"] == 2


def test_browser_benchmark_times_every_interaction_on_every_page(tmp_path):
    out = tmp_path / "browser.json"
    printed = run("browser.py", "--connections", "300", "--profiles", "20", "--runs", "1",
                  "--sessions", "2", "--stores", "sqlite", "--quiet-limit", "0",
                  "--out", str(out), timeout=600)  # 3 servers, Chromium
    assert "first screen" in printed and "MB RSS per session" in printed
    results = json.loads(out.read_text())["results"]["sqlite"]
    assert results["floor"]["first_screen"]["p50_ms"] > 0
    for kind in ("connmodel", "idiomatic", "naive"):
        for name in ("first_screen", "filter", "search", "sort", "view", "revoke", "confirm"):
            assert 0 < results[kind][name]["p50_ms"] <= results[kind][name]["p95_ms"], (kind, name)
    assert results["memory"]["sessions"] == 2


def test_api_benchmark_compares_with_datasette_and_refreshes_once(tmp_path):
    out = tmp_path / "api.json"
    printed = run("api.py", "--connections", "2000", "--profiles", "20", "--fleet", "5",
                  "--seconds", "1", "--workers", "1", "--stores", "sqlite", "--page", "search",
                  "--out", str(out))
    assert "200 concurrent requests for one due token: 1 refresh(es)" in printed
    written = json.loads(out.read_text())
    [store] = written["results"]
    assert all(written["http_floor"][c]["rps"] > 0 for c in ("c1", "c16"))
    assert list(store["lists"]) == ["search"]  # the one page asked for
    for row in store["lists"].values():
        for side in ("connmodel_c1", "connmodel_c16", "datasette_c1", "datasette_c16"):
            assert 0 < row[side]["p50_ms"] <= row[side]["p95_ms"] and row[side]["rps"] > 0
    assert store["broker"]["c16"]["runs"] > 16 and store["broker"]["c16"]["transport_errors"] == 0
    assert store["one_refresh"] == {"requests": 200, "statuses": {"200": 200}, "refreshes": 1,
                                    "distinct_tokens": 1}


@pytest.mark.postgres
def test_scale_benchmark_measures_sessions_on_two_processes(tmp_path, postgres_url):
    """bench/scale.py: 2 dashboards + worker on PostgreSQL, 1 then 2 Bokeh client sessions: each
    session's filter changes get their summary back and each revoke reaches every session."""
    out = tmp_path / "scale.json"
    printed = run("scale.py", "--connections", "2000", "--profiles", "20", "--sessions", "1,2",
                  "--idle-seconds", "3", "--samples", "4", "--think", "0.1", "0.3",
                  "--out", str(out))
    assert "propagation_p95_s" in printed and "load average" in printed
    rows = json.loads(out.read_text())["rows"]
    assert [r["sessions"] for r in rows] == [1, 2]
    assert all(r["idle_messages_per_session_per_min"] == 0 for r in rows)
    assert all(0 < r["interaction_p50_s"] <= r["interaction_p95_s"] < 60 for r in rows)
    assert all(0 < r["propagation_p50_s"] <= r["propagation_max_s"] < 10 for r in rows)


@pytest.mark.postgres
def test_broker_profile_reports_cpu_per_request_on_both_stores(postgres_url):
    """bench/broker_profile.py (not in `make bench`: a profiling tool) drives the real app and a
    real uvicorn process on both stores and drops the database it built."""
    printed = run("broker_profile.py", "--connections", "200", "--fleet", "3", "--requests",
                  "20", "--top", "5", "--uvicorn")
    table = printed[printed.index("CPU ms per broker request"):]
    for stage in ("authenticate", "credential_for", "whole request through the ASGI app",
                  "whole request in a uvicorn process"):
        [row] = [line for line in table.splitlines() if line.startswith(stage)]
        assert all(float(ms) > 0 for ms in row.split()[-2:]), row
    assert "cProfile of 20 requests through the app, postgresql" in printed
    with get_engine(postgres_url).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pg_database "
                                 "WHERE datname = 'connmodel_broker_profile'")).scalar() == 0
