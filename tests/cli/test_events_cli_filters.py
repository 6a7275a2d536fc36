"""`connmodel events --target/--since/--until`: the audit trail by target text and time range."""

from datetime import UTC, datetime, timedelta


def test_target_and_time_range(demo_url, cli):
    hubspot = cli("events", "-d", demo_url, "-f", "json", "--target", "HUBSPOT").json
    assert hubspot["total"] >= 2
    assert all("hubspot" in e["target"].lower() for e in hubspot["items"])
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    assert cli("events", "-d", demo_url, "-f", "json", "--since", tomorrow).json["total"] == 0
    assert cli("events", "-d", demo_url, "-f", "json", "--until", f"{tomorrow} 00:00:00",
               "--target", "hubspot").json["total"] == hubspot["total"]


def test_bad_times_are_one_line_errors(demo_url, cli):
    assert "before it starts" in cli("events", "-d", demo_url, "--since", "2026-01-02",
                                     "--until", "2026-01-01").one_line_error()
    bad = cli("events", "-d", demo_url, "--since", "yesterday")
    assert bad.code != 0 and "--since" in bad.err and "Traceback" not in bad.err
