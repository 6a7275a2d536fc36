"""`connmodel audit`: the three formats, exit codes for cron/CI, and every bad input."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from audit.auditdata import MARKUP, VIEWER
from connmodel.audit import queries as q
from connmodel.audit.schema import REPORT_SCHEMA
from connmodel.cli import run
from connmodel.services.demo import DEMO_SECRETS, seed_demo
from connmodel.store import session

SCRIPT = Path(sys.executable).parent / "connmodel"


def audit(capsys, *args: str) -> tuple[int, str, str]:
    code = run(["audit", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def no_secret_key(tmp_path, monkeypatch):
    """Every test here runs without a secret key: an audit never needs one."""
    monkeypatch.delenv("CONNMODEL_SECRET_KEY", raising=False)
    monkeypatch.setenv("CONNMODEL_KEY_FILE", str(tmp_path / "no-such.key"))


def test_json_report_is_valid_and_matches_the_queries(capsys, audit_url, tmp_path):
    target = tmp_path / "audit.json"
    code, out, err = audit(capsys, "-d", audit_url, "-f", "json", "-o", str(target),
                           "--fail-on", "error")
    assert code == 1
    assert "audit findings: error" in err and out == ""
    doc = json.loads(target.read_text())
    jsonschema.validate(doc, REPORT_SCHEMA)
    with session(audit_url) as s:
        assert doc["summary"]["findings"]["error"] == q.error_count(s, actor=VIEWER)
        assert doc["summary"]["findings"]["stale"] == q.stale_count(s, actor=VIEWER, days=30)
    assert doc["failing"] == ["error"]
    github = [r for r in doc["sections"]["erroring"]["rows"] if r["profile"] == "GitHub Staging"]
    assert github[0]["servers"] == "GitHub Issues" and MARKUP in github[0]["reason"]
    assert not any(secret in target.read_text() for secret in DEMO_SECRETS)
    assert "_enc" not in target.read_text()


def test_exit_codes_on_the_demo_data(capsys, demo_url, monkeypatch):
    monkeypatch.setenv("CONNMODEL_KEY_FILE", "/nonexistent/connmodel.key")
    code, out, err = audit(capsys, "-d", demo_url, "--fail-on", "error")
    assert (code, err.strip()) == (1, "connmodel: audit findings: error 1")
    assert "GitHub Staging" in out
    code, out, err = audit(capsys, "-d", demo_url, "--fail-on", "stale,expiring", "--days", "7")
    assert (code, err) == (0, "")
    assert out.startswith("# Connections audit")


def test_markdown_keeps_user_text_literal(capsys, audit_url):
    code, out, _ = audit(capsys, "-d", audit_url, "-f", "markdown")
    assert code == 0
    assert "<img" not in out and "&lt;img src=x" in out
    assert r"\| \*bold\* \`tick\`" in out
    assert "## Recommended actions" in out and "- `connmodel revoke " in out


def test_html_to_stdout_is_one_page_with_inline_bokeh(capsys, audit_url):
    code, out, _ = audit(capsys, "-d", audit_url, "-f", "html")
    assert code == 0
    assert out.startswith("<!DOCTYPE html>")
    assert "<script src=" not in out and "<link " not in out
    assert "Bokeh" in out and "&lt;img src=x" in out and MARKUP not in out


@pytest.mark.parametrize("fmt", ["markdown", "json"])
def test_markdown_and_json_reports_never_import_bokeh(audit_url, fmt):
    """Only the HTML page draws charts: the other formats skip Bokeh's import (a fresh process,
    as cron runs it, since this test process may have imported it already)."""
    code = ("import sys; from connmodel.cli import run; "
            f"code = run(['audit', '-d', {audit_url!r}, '-f', {fmt!r}]); "
            "print('BOKEH', 'bokeh' in sys.modules, code, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.stderr.splitlines()[-1] == "BOKEH False 0", done.stderr[-2000:]
    assert ("# Connections audit" if fmt == "markdown" else '"schema"') in done.stdout


def test_an_empty_database_has_nothing_to_report(capsys, sqlite_url, tmp_path):
    target = tmp_path / "empty.json"
    code, _, err = audit(capsys, "-d", sqlite_url, "-f", "json", "-o", str(target),
                         "--fail-on", "error,stale,expiring")
    assert code == 0
    assert "nothing to report" in err.lower()
    doc = json.loads(target.read_text())
    jsonschema.validate(doc, REPORT_SCHEMA)
    assert doc["empty"] is True and doc["failing"] == []
    code, out, _ = audit(capsys, "-d", sqlite_url, "-f", "html")
    assert "Nothing to report" in out and code == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--days", "-1"], "Invalid value for '--days'"),
    (["--days", "99999"], "Invalid value for '--days'"),
    (["--days", "ten"], "Invalid value for '--days'"),
    (["--hours", "-5"], "Invalid value for '--hours'"),
    (["--format", "pdf"], "Invalid value for '--format'"),
    (["--fail-on", "error,late"], "unknown --fail-on finding 'late'"),
    (["--environment", "qa"], "unknown environment 'qa'"),
    (["--notebook", "no_such_notebook"],
     "unknown notebook 'no_such_notebook': choose one of connections_overview, errors_and_expiry"),
    (["--notebook", "explore_connections"],
     "explore_connections is interactive (its widgets need a live kernel), not a report"),
    (["--notebook", "errors_and_expiry", "-f", "json"],
     "--notebook cannot be used with --format json: give one or the other"),
    (["--notebook", "errors_and_expiry", "--limit", "5"],
     "--notebook cannot be used with --limit: give one or the other"),
])
def test_bad_options_exit_2_with_one_clear_line(capsys, sqlite_url, args, message):
    code, out, err = audit(capsys, "-d", sqlite_url, *args)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err


def test_an_output_path_that_cannot_be_written(capsys, sqlite_url, tmp_path):
    missing = tmp_path / "no" / "such" / "dir" / "r.html"
    code, _, err = audit(capsys, "-d", sqlite_url, "-o", str(missing))
    assert code == 2 and f"cannot write the report to {missing}: " in err
    assert "does not exist" in err
    code, _, err = audit(capsys, "-d", sqlite_url, "-o", str(tmp_path))
    assert code == 2 and "it is a directory" in err
    assert not missing.parent.exists()


@pytest.mark.parametrize("target", ["/proc/x.html", "/sys/x.html"])
def test_an_output_the_system_refuses_exits_2_naming_it(capsys, sqlite_url, target):
    """os.access says yes to root everywhere, so /proc passed the check and the temporary file
    beside it failed later: exit 1 (the findings' code), naming a file the user never gave."""
    code, out, err = audit(capsys, "-d", sqlite_url, "-o", target)
    assert (code, out) == (2, "")
    assert err.startswith(f"connmodel: error: cannot write the report to {target}: ")
    assert err.count("\n") == 1 and ".tmp" not in err


@pytest.mark.parametrize("url", [
    "postgresql://postgres@127.0.0.1:1/nowhere",
    "mysql://root@localhost/x",
    "not a url",
])
def test_an_unreachable_or_wrong_database_exits_2(capsys, url):
    code, out, err = audit(capsys, "-d", url, "--fail-on", "error")
    assert code == 2 and out == ""
    assert err.startswith("connmodel: error: ") and err.count("\n") == 1


def test_a_file_that_is_not_a_connmodel_database(capsys, tmp_path):
    other = tmp_path / "other.db"
    other.touch()  # a missing file is refused before it is opened (tests/cli/test_errors.py)
    code, _, err = audit(capsys, "-d", f"sqlite:///{other}")
    assert code == 2 and "is not a connmodel database" in err and "connmodel init" in err


def test_the_installed_script_exits_1_for_cron(sqlite_url, keyring, admin, tmp_path):
    """The real console script, as cron runs it (once: in-process runs cover the rest)."""
    with session(sqlite_url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
    target = tmp_path / "audit.html"
    done = subprocess.run([str(SCRIPT), "audit", "-d", sqlite_url, "-f", "html", "-o", str(target),
                           "--fail-on", "error"], capture_output=True, text=True, timeout=120, check=False)
    assert (done.returncode, done.stderr.splitlines()) == (
        1, [f"audit report written to {target}", "connmodel: audit findings: error 1"])
    assert target.read_text().startswith("<!DOCTYPE html>")
