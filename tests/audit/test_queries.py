"""Each audit query against the same answer computed the naive way (whole tables in pandas),
on SQLite and PostgreSQL, over the demo data plus a small generated gateway."""

from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import event, func, select

from audit.auditdata import NOW, VIEWER
from connmodel.audit import queries as q
from connmodel.audit.actions import recommendations, revoke_selected
from connmodel.audit.render import to_document
from connmodel.audit.report import Finding, build_report, count_findings
from connmodel.errors import InvalidInput, PermissionDenied
from connmodel.models import AuditEvent
from connmodel.services.groups import GroupFilter, count_matching
from connmodel.store import get_engine, session

DAYS = 30


@pytest.fixture(scope="module")
def live(tables) -> pd.DataFrame:
    conns = tables["connection"]
    profiles = tables["profile"].rename(columns={"id": "profile_id", "name": "profile"})
    return conns[conns["revoked_at"].isna()].merge(
        profiles[["profile_id", "profile", "environment", "provider_config_id"]], on="profile_id")


def _utc(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True)


def test_totals_count_live_connections_by_status(audit_url, live):
    with session(audit_url) as s:
        got = q.totals(s, actor=VIEWER)
        prod = q.totals(s, actor=VIEWER, environment="Production")
    expected = live["status"].value_counts()
    assert dict(zip(got["status"], got["connections"], strict=True)) == {
        k: int(expected.get(k, 0)) for k in ("Active", "Inactive", "Error")}
    expected_prod = live[live["environment"] == "production"]["status"].value_counts()
    assert dict(zip(prod["status"], prod["connections"], strict=True)) == {
        k: int(expected_prod.get(k, 0)) for k in ("Active", "Inactive", "Error")}


def test_erroring_since_the_current_run_of_errors_with_servers(audit_url, live, tables):
    with session(audit_url) as s:
        got = q.erroring(s, actor=VIEWER, limit=1000)
    errors = live[live["status"] == "Error"]
    checks = tables["check_result"].assign(at=lambda f: _utc(f["at"]))
    since = {}
    for cid, conn in errors.set_index("id").iterrows():
        mine = checks[checks["connection_id"] == cid]
        ok = mine[mine["status"] != "Error"]["at"]
        run = mine[(mine["status"] == "Error") & (mine["at"] > (ok.max() if len(ok) else pd.Timestamp.min.tz_localize("UTC")))]
        since[cid] = run["at"].min() if len(run) else _utc(pd.Series([conn["checked_at"] if pd.notna(conn["checked_at"]) else conn["created_at"]])).iloc[0]
    assert sorted(got["id"]) == sorted(errors["id"])
    for row in got.itertuples():
        assert pd.Timestamp(row.since) == since[row.id], row.id
    assert list(got["since"]) == sorted(got["since"])
    github = got[got["profile"] == "GitHub Staging"].iloc[0]
    assert pd.Timestamp(github["since"]) == NOW - timedelta(days=3)
    assert github["servers"] == "GitHub Issues"
    servers = tables["mcp_server"]
    for row in got.itertuples():
        pid = live.loc[live["id"] == row.id, "profile_id"].iloc[0]
        assert row.servers == ", ".join(sorted(servers[servers["profile_id"] == pid]["name"]))


def test_stale_never_used_first_then_oldest(audit_url, live):
    cutoff = NOW - timedelta(days=DAYS)
    used = _utc(live["last_used_at"])
    expected = live[used.isna() | (used < cutoff)]
    with session(audit_url) as s:
        got = q.stale(s, actor=VIEWER, days=DAYS, limit=1000, now=NOW)
        count = q.stale_count(s, actor=VIEWER, days=DAYS, now=NOW)
        dev = q.stale_count(s, actor=VIEWER, days=DAYS, environment="dev", now=NOW)
        top = q.stale(s, actor=VIEWER, days=DAYS, limit=5, now=NOW)
    assert count == len(expected) == len(got) > 0
    assert dev == int((expected["environment"] == "dev").sum())
    assert set(got["id"]) == set(expected["id"])
    never = got["last_used_at"].isna()
    assert never.sum() > 0 and not never[never.idxmin():].any() or never.all()
    assert list(got["last_used_at"].dropna()) == sorted(got["last_used_at"].dropna())
    assert list(top["id"]) == list(got["id"][:5])


def test_expiring_within_days_and_expired_but_active(audit_url, live):
    exp = _utc(live["expires_at"])
    horizon = NOW + timedelta(days=DAYS)
    expired_active = (exp < NOW) & (live["status"] == "Active")
    soon = (exp >= NOW) & (exp < horizon) & (live["status"] != "Inactive")
    expected = live[expired_active | soon]
    with session(audit_url) as s:
        got = q.expiring(s, actor=VIEWER, days=DAYS, limit=1000, now=NOW)
        count = q.expiring_count(s, actor=VIEWER, days=DAYS, now=NOW)
        timeline = q.expiry_timeline(s, actor=VIEWER, days=DAYS, now=NOW)
    assert count == len(expected) == len(got) > 0
    kinds = dict(zip(got["id"], got["kind"], strict=True))
    assert {i for i, k in kinds.items() if k != "expiring"} == set(live[expired_active]["id"])
    in_window = exp[(exp >= NOW) & (exp < horizon)]
    naive = in_window.dt.strftime("%Y-%m-%d").value_counts().sort_index()
    assert dict(zip(timeline["day"].dt.strftime("%Y-%m-%d"), timeline["connections"], strict=True)) == \
        {k: int(v) for k, v in naive.items()}


def test_unused_profiles_mixed_environments_and_unchecked_production(audit_url, live, tables):
    profiles = tables["profile"]
    n_conn = live.groupby("profile_id").size()
    n_srv = tables["mcp_server"].groupby("profile_id").size()
    unused = {p.name for p in profiles.itertuples()
              if n_conn.get(p.id, 0) == 0 or n_srv.get(p.id, 0) == 0}
    envs = profiles.groupby("provider_config_id")["environment"].nunique()
    names = tables["provider_config"].set_index("id")["name"]
    mixed = {names[i] for i, n in envs.items() if n > 1}
    last = _utc(live.groupby("profile_id")["checked_at"].max())
    cutoff = NOW - timedelta(hours=24)
    prod = profiles[profiles["environment"] == "production"]
    unchecked = {p.name for p in prod.itertuples()
                 if p.id not in last.index or pd.isna(last[p.id]) or last[p.id] < cutoff}
    with session(audit_url) as s:
        got_unused = q.unused_profiles(s, actor=VIEWER, limit=1000)
        got_mixed = q.mixed_environments(s, actor=VIEWER)
        got_unchecked = q.unchecked_production(s, actor=VIEWER, hours=24, limit=1000, now=NOW)
    assert set(got_unused["profile"]) == unused
    assert {"Forgotten", "Prod Unwatched"} <= unused
    assert got_unused.set_index("profile").loc["Forgotten", "why"] == "no connection and no server"
    assert set(got_mixed["provider"]) == mixed
    assert set(got_unchecked["profile"]) == unchecked
    assert "Prod Unwatched" in unchecked


def test_status_by_profile_and_over_time(audit_url, live, tables):
    with session(audit_url) as s:
        by_profile = q.status_by_profile(s, actor=VIEWER, limit=5)
        over_time = q.status_over_time(s, actor=VIEWER, days=DAYS, now=NOW)
    top = live.groupby("profile").size().sort_values(ascending=False)
    assert set(by_profile["profile"]) <= set(top.index) and by_profile["profile"].nunique() == 5
    naive = live.groupby(["profile", "status"]).size()
    for row in by_profile.itertuples():
        assert naive[(row.profile, row.status)] == row.connections
    assert by_profile.groupby("profile")["connections"].sum().min() >= top.iloc[5]
    checks = tables["check_result"].assign(at=lambda f: _utc(f["at"]))
    recent = checks[checks["at"] >= NOW - timedelta(days=DAYS)]
    naive_t = recent.groupby([recent["at"].dt.strftime("%Y-%m-%d"), "status"]).size()
    assert {(d.strftime("%Y-%m-%d"), st): n for d, st, n in over_time.itertuples(index=False)} \
        == {k: int(v) for k, v in naive_t.items()}


def test_error_rate_per_provider_and_audit_trail(audit_url, live, tables):
    with session(audit_url) as s:
        rates = q.error_rate_by_provider(s, actor=VIEWER, days=DAYS, now=NOW)
        trail = q.audit_trail(s, actor=VIEWER, days=DAYS, now=NOW + timedelta(minutes=5))
    names = tables["provider_config"].set_index("id")["name"]
    g = live.groupby("provider_config_id")["status"]
    for row in rates.itertuples():
        pid = names[names == row.provider].index[0]
        statuses = g.get_group(pid) if pid in g.groups else pd.Series(dtype=str)
        assert row.connections == len(statuses)
        assert row.errors == int((statuses == "Error").sum())
        assert row.error_rate == pytest.approx(row.errors / max(row.connections, 1), abs=1e-4)
    every = tables["connection"].merge(tables["profile"], left_on="profile_id", right_on="id",
                                       suffixes=("", "_profile"))  # revoked ones' history too
    checks = tables["check_result"].merge(every[["id", "provider_config_id"]],
                                          left_on="connection_id", right_on="id")
    failed = checks[(_utc(checks["at"]) >= NOW - timedelta(days=DAYS))
                    & (checks["status"] == "Error")].groupby("provider_config_id").size()
    assert dict(zip(rates["provider"], rates["failed_checks"], strict=True)) == {
        names[pid]: int(failed.get(pid, 0)) for pid in g.groups}
    assert rates["failed_checks"].sum() > 0
    events = tables["audit_event"]
    ok = events[events["action"].isin(["revoke", "reauthorize", "connection.enable"])
                & events["outcome"].str.startswith("ok")]
    assert trail["events"].sum() == len(ok)
    got = {(a, act): n for _, a, act, n in trail.itertuples(index=False)}
    assert got[("bob", "revocation")] == 2
    assert got[("alice", "re-authorization")] == 1


def test_the_report_only_reads_and_never_selects_a_secret_column(audit_url):
    """Every statement the full report sends is a SELECT naming no *_enc column."""
    statements: list[str] = []
    engine = get_engine(audit_url)

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        with session(audit_url) as s:
            report = build_report(s, actor=VIEWER, days=DAYS, now=NOW)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) >= 10
    for sql in statements:
        words = set(sql.upper().replace("(", " ").split())
        assert sql.lstrip().upper().startswith(("SELECT", "WITH ")), sql
        assert not words & {"INSERT", "UPDATE", "DELETE", "DROP", "CREATE", "ALTER"}, sql
        assert "_enc" not in sql and "*" not in sql.replace("count(*)", ""), sql
    assert report.counts["error"] == int(report.totals.set_index("status").loc["Error", "connections"])


def test_counting_only_the_findings_asked_for_gives_the_report_counts(audit_url):
    """What `connmodel audit --notebook --fail-on` decides on, without building the report."""
    with session(audit_url) as s:
        report = build_report(s, actor=VIEWER, days=DAYS, now=NOW)
        every = count_findings(s, actor=VIEWER, findings=set(Finding), days=DAYS, now=NOW)
        stale = count_findings(s, actor=VIEWER, findings={Finding.STALE}, days=DAYS, now=NOW)
        prod = count_findings(s, actor=VIEWER, findings=set(Finding), days=DAYS, now=NOW,
                              environment="production")
    assert every == {f.value: report.counts[f.value] for f in Finding}
    assert every["error"] > 0 and every["stale"] > 0 and every["expiring"] > 0
    assert stale == {"stale": report.counts["stale"]}
    with session(audit_url) as s:
        assert prod["error"] == q.error_count(s, actor=VIEWER, environment="production")
    assert prod["stale"] < every["stale"]


def test_dry_run_revoke_changes_nothing_and_a_viewer_cannot_revoke(audit_url):
    with session(audit_url) as s:
        ids = list(q.stale(s, actor=VIEWER, days=DAYS, limit=3, now=NOW)["id"])
        before = s.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
        plan = revoke_selected(s, actor=VIEWER, ids=[*ids, 10**9])
        after = s.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    assert before == after
    assert list(plan["outcome"][:3]) == ["would revoke (dry run)"] * 3
    assert plan["outcome"].iloc[3].startswith("skipped: ")
    with pytest.raises(PermissionDenied), session(audit_url) as s:
        revoke_selected(s, actor=VIEWER, ids=ids, dry_run=False)
    with session(audit_url) as s:
        assert list(q.stale(s, actor=VIEWER, days=DAYS, limit=3, now=NOW)["id"]) == ids


def test_recommendations_are_commands_without_a_password(audit_url):
    with session(audit_url) as s:
        err = q.erroring(s, actor=VIEWER)
        stale = q.stale(s, actor=VIEWER, days=DAYS, limit=2, now=NOW)
    recs = recommendations(erroring=err, stale=stale,
                           database_url="postgresql://audit:s3cret@db.example/gw")
    assert recs and all(r.command.startswith("connmodel ") for r in recs)
    assert all("s3cret" not in str(r) for r in recs)
    assert len(recs) == min(len(err), 20) + 2
    assert f"connmodel revoke {stale['id'].iloc[0]} -d 'postgresql://audit:***@db.example/gw'" \
        == recs[-2].command


@pytest.mark.parametrize("bad", [-1, 3651, 1.5, True, "7"])
def test_bad_days_are_refused(audit_url, bad):
    with session(audit_url) as s, pytest.raises(InvalidInput, match="days must be"):
        q.stale(s, actor=VIEWER, days=bad)


def test_status_over_ten_years_is_counted_not_refused(audit_url, tables):
    """SQLite refuses a UNION ALL of over 500 SELECTs (one per day): the API's fuzzing found
    `days=3649` answered 503 'too many terms in compound SELECT'."""
    with session(audit_url) as s:
        decade = q.status_over_time(s, actor=VIEWER, days=q.MAX_DAYS, now=NOW)
    checks = tables["check_result"].assign(at=lambda f: _utc(f["at"]))
    assert decade["checks"].sum() == (checks["at"] >= NOW - timedelta(days=q.MAX_DAYS)).sum()


def test_timeline_and_provider_rates_follow_the_environment(audit_url):
    """The notebooks' expiry timeline and error rate per provider are of the chosen environment:
    the three environments' figures add up to the whole."""
    with session(audit_url) as s:
        whole = q.expiry_timeline(s, actor=VIEWER, days=DAYS, now=NOW)["connections"].sum()
        rates = q.error_rate_by_provider(s, actor=VIEWER, days=DAYS, now=NOW)
        per_env = {env: (q.expiry_timeline(s, actor=VIEWER, days=DAYS, environment=env,
                                           now=NOW)["connections"].sum(),
                         q.error_rate_by_provider(s, actor=VIEWER, days=DAYS, environment=env,
                                                  now=NOW))
                   for env in ("dev", "staging", "production")}
    assert whole > 0 and sum(t for t, _ in per_env.values()) == whole
    for column in ("connections", "errors", "failed_checks"):
        assert sum(r[column].sum() for _, r in per_env.values()) == rates[column].sum(), column


@pytest.mark.parametrize("where", [
    GroupFilter(),
    GroupFilter(status="Error"),
    GroupFilter(environment="staging"),
    GroupFilter(profile="github"),
    GroupFilter(status="Active", environment="production"),
], ids=repr)
def test_explore_charts_follow_the_connections_page_filters(audit_url, live, tables, where):
    """The explore notebook's charts count what the Connections page's filters match."""
    with session(audit_url) as s:
        charts = q.explore_charts(s, actor=VIEWER, where=where, days=DAYS, limit=1000, now=NOW)
    rows = live
    if where.status:
        rows = rows[rows["status"] == where.status]
    if where.environment:
        rows = rows[rows["environment"] == where.environment]
    if where.profile:
        rows = rows[rows["profile"].str.contains(where.profile, case=False, regex=False)]
    by_profile = charts["status_by_profile"]
    assert by_profile["connections"].sum() == len(rows)
    assert set(by_profile["status"]) == set(rows["status"])
    assert charts["error_rate_by_provider"]["connections"].sum() == len(rows)
    assert charts["error_rate_by_provider"]["errors"].sum() == (rows["status"] == "Error").sum()
    expires = _utc(rows["expires_at"])
    soon = rows[(expires >= NOW) & (expires < NOW + timedelta(days=DAYS))]
    assert charts["expiry_timeline"]["connections"].sum() == len(soon)


def test_explore_charts_search_the_text_like_the_page(audit_url):
    with session(audit_url) as s:
        charts = q.explore_charts(s, actor=VIEWER, where=GroupFilter(search="GitHub"), now=NOW)
        page_total, _ = count_matching(s, actor=VIEWER, where=GroupFilter(search="GitHub"))
    assert charts["status_by_profile"]["connections"].sum() == page_total > 0


def test_profile_listings_count_their_true_total(audit_url):
    """What stale_and_unused prints as "1 of 3 unused profiles": each listing's count is the
    length of the listing without its limit, whatever limit cuts it; unused profiles follow the
    environment (the three environments' add up to the whole)."""
    with session(audit_url) as s:
        unused = q.unused_profiles(s, actor=VIEWER, limit=1000)
        mixed = q.mixed_environments(s, actor=VIEWER, limit=1000)
        unchecked = q.unchecked_production(s, actor=VIEWER, hours=24, limit=1000, now=NOW)
        assert q.unused_profiles_count(s, actor=VIEWER) == len(unused) > 1
        assert len(q.unused_profiles(s, actor=VIEWER, limit=1)) == 1
        assert q.mixed_environments_count(s, actor=VIEWER) == len(mixed)
        assert q.unchecked_production_count(s, actor=VIEWER, hours=24, now=NOW) == len(
            unchecked) > 0
        per_env = {env: q.unused_profiles(s, actor=VIEWER, limit=1000, environment=env)
                   for env in ("dev", "staging", "production")}
        for env, frame in per_env.items():
            assert set(frame["environment"]) <= {env}
            assert q.unused_profiles_count(s, actor=VIEWER, environment=env) == len(frame)
    assert sum(len(f) for f in per_env.values()) == len(unused)


@pytest.mark.parametrize("env", ["dev", "staging", "production"])
def test_the_report_of_an_environment_is_of_that_environment(audit_url, env):
    """`connmodel audit -e staging` listed every environment's unused profiles, and charted
    every environment's expiry and error rate per provider, beside staging's totals (the
    notebooks follow the environment: the report now says the same)."""
    with session(audit_url) as s:
        report = build_report(s, actor=VIEWER, days=DAYS, environment=env, limit=1000, now=NOW)
        unused = q.unused_profiles(s, actor=VIEWER, limit=1000, environment=env)
        timeline = q.expiry_timeline(s, actor=VIEWER, days=DAYS, environment=env, now=NOW)
        rates = q.error_rate_by_provider(s, actor=VIEWER, days=DAYS, environment=env, now=NOW)
    assert set(report.tables["unused_profiles"]["environment"]) <= {env}
    assert report.tables["unused_profiles"]["profile"].tolist() == unused["profile"].tolist()
    assert report.charts["expiry_timeline"].equals(timeline)
    assert report.tables["error_rate_by_provider"].equals(rates)
    live = int(report.totals["connections"].sum())
    assert report.tables["error_rate_by_provider"]["connections"].sum() == live


def test_the_report_counts_every_finding_in_full_whatever_its_limit(audit_url):
    """The JSON summary gave `unused_profiles: 1` with `--limit 1` when more were unused (the
    rows listed, not the count), and called a section cut when it held `limit` rows, even one
    no limit applies to: each finding is now its true total, and `truncated` says whether rows
    were left out."""
    with session(audit_url) as s:
        report = build_report(s, actor=VIEWER, days=DAYS, limit=1, now=NOW)
        truth = {"unused_profiles": q.unused_profiles_count(s, actor=VIEWER),
                 "mixed_environments": q.mixed_environments_count(s, actor=VIEWER),
                 "unchecked_production": q.unchecked_production_count(s, actor=VIEWER, now=NOW)}
    assert {k: report.counts[k] for k in truth} == truth
    assert truth["unused_profiles"] > 1 and truth["mixed_environments"] > 1
    sections = to_document(report)["sections"]
    assert sections["unused_profiles"]["truncated"] and sections["stale"]["truncated"]
    assert len(sections["audit_trail"]["rows"]) > 1  # listed whole: no limit applies
    assert not sections["audit_trail"]["truncated"]
    assert not sections["error_rate_by_provider"]["truncated"]
