"""The audit notebooks: saved without outputs, and executed (papermill, a real kernel) on the
audited store (demo + generated data) on SQLite and PostgreSQL, with no secret key around.

Kernels start slowly, so each notebook runs once per store, the three at the same time; one of
them runs through `connmodel audit --notebook`, the operator's way.
"""

import contextlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from audit.auditdata import ALICE, MARKUP, VIEWER
from connmodel.audit import queries as q
from connmodel.audit.display import shown_of
from connmodel.audit.notebooks import NOTEBOOKS as SHIPPED
from connmodel.audit.notebooks import reports
from connmodel.services.demo import DEMO_SECRETS
from connmodel.services.users import add_user
from connmodel.store import session

BIN = Path(sys.executable).parent
NOTEBOOKS_DIR = Path(str(SHIPPED))  # a folder in a source checkout
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
VIA_CLI = "errors_and_expiry"
EXPLORE = "explore_connections"


def test_three_audit_reports_and_the_explore_notebook():
    """`connmodel audit --notebook` runs the reports; the explore notebook is for JupyterLab."""
    assert [p.stem for p in NOTEBOOKS] == ["connections_overview", "errors_and_expiry",
                                           EXPLORE, "stale_and_unused"]
    assert reports() == ["connections_overview", "errors_and_expiry", "stale_and_unused"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_saved_without_outputs_and_with_a_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), path.name
    (params,) = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    for name in ("database_url", "days", "environment"):
        assert f"{name} = " in params.source
    rest = "".join(c.source for c in code if c is not params)
    for line in params.source.splitlines():  # no parameter the notebook does not use
        name = line.split("=")[0].strip()
        assert re.search(rf"\b{name}\b", rest), f"{path.name}: parameter {name} is unused"
    assert "connmodel.audit" in "".join(c.source for c in code)
    assert "load_keyring" not in json.dumps(nb)


@pytest.fixture(scope="module")
def executed(audit_url, tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    out = tmp_path_factory.mktemp("notebooks")
    env = {**os.environ, "CONNMODEL_DATABASE_URL": audit_url,
           "CONNMODEL_KEY_FILE": str(out / "no-such.key")}
    env.pop("CONNMODEL_SECRET_KEY", None)
    with session(audit_url) as s:  # the explore notebook acts as this viewer (its `actor`)
        add_user(s, actor=ALICE, name=VIEWER.name, role="viewer")
        s.commit()
    running = {}
    for path in NOTEBOOKS:
        if path.stem == EXPLORE:
            target = out / path.name
            cmd = [str(BIN / "papermill"), "-k", "python3", "--no-progress-bar", str(path),
                   str(target), "-p", "actor", VIEWER.name, "-p", "environment", "Staging"]
        elif path.stem == VIA_CLI:
            target = out / f"{path.stem}.html"
            cmd = [str(BIN / "connmodel"), "audit", "--notebook", path.stem, "-d", audit_url,
                   "-o", str(target), "--days", "30", "--fail-on", "error"]
        else:
            target = out / path.name
            cmd = [str(BIN / "papermill"), "-k", "python3", "--no-progress-bar", str(path),
                   str(target), "-p", "days", "30"]
        # Output to files: they run at once, and a full pipe would stall one until read.
        logs = (out / f"{path.stem}.stdout", out / f"{path.stem}.stderr")
        with logs[0].open("w") as stdout, logs[1].open("w") as stderr:
            running[path.stem] = (subprocess.Popen(cmd, env=env, stdout=stdout, stderr=stderr,
                                                   text=True), target, logs)
    done = {}
    for name, (proc, target, logs) in running.items():
        proc.wait(timeout=170)
        stdout, stderr = (log.read_text() for log in logs)
        done[name] = (subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr),
                      target)
    return done


def _outputs(path: Path) -> str:
    """Every output of an executed notebook, as text (HTML tables, prints, plot specs); and
    no user text reaches an HTML output unescaped."""
    nb = nbformat.read(path, as_version=4)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert [o for o in outputs if o.output_type == "error"] == []
    assert not any(MARKUP in o.get("data", {}).get("text/html", "") for o in outputs)
    return json.dumps(outputs)


@pytest.mark.notebooks
def test_connections_overview(executed):
    result, path = executed["connections_overview"]
    assert result.returncode == 0, result.stderr[-2000:]
    text = _outputs(path)
    assert "Live connections by profile and status (all environments)" in text
    assert "GitHub Staging" in text and "re-authorization" in text
    assert "Share of live connections in Error (all environments)" in text
    assert not any(secret in text for secret in DEMO_SECRETS)


@pytest.mark.notebooks
def test_stale_and_unused(executed):
    result, path = executed["stale_and_unused"]
    assert result.returncode == 0, result.stderr[-2000:]
    text = _outputs(path)
    assert re.search(r"\d[\d,]* (of [\d,]+ )?stale connections \(all environments\)", text)
    assert "Forgotten" in text and "Prod Unwatched" in text
    # Every listing says its true total (all shown here: the bare count).
    assert re.search(r"\b\d+ unused profiles \(all environments\)", text)
    assert re.search(r"\b\d+ provider configs shared across environments", text)
    assert re.search(r"\b\d+ production profiles without a check in 24 hours", text)
    assert "connmodel revoke " in text and "would revoke (dry run)" in text
    assert not any(secret in text for secret in DEMO_SECRETS)


@pytest.mark.notebooks
def test_errors_and_expiry_through_connmodel_audit_notebook(executed, audit_url):
    """As cron runs it, with --fail-on error: the page is written and the exit code is 1."""
    result, path = executed[VIA_CLI]
    with session(audit_url) as s:
        errors = q.error_count(s, actor=VIEWER)
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.splitlines() == [f"audit report written to {path}",
                                          f"connmodel: audit findings: error {errors:,}"]
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>") and "Errors and expiry" in page
    assert "GitHub Staging" in page and "GitHub Issues" in page
    assert shown_of(min(errors, 200), errors, "connections in Error (all environments)") in page
    assert "Checks per day by status (all environments)" in page
    assert "Credentials expiring per day (all environments)" in page
    assert " UTC" in page and not re.search(r"\d\d:\d\d:\d\d\.\d", page)  # to the second
    assert "connmodel revoke " in page and "would revoke (dry run)" in page
    assert "Traceback" not in page
    assert audit_url not in page  # the URL reached the kernel by environment, not parameter
    assert MARKUP not in page and "&lt;img src=x" in page
    assert not any(secret in page for secret in DEMO_SECRETS)


@pytest.mark.notebooks
def test_explore_connections_runs_as_the_named_viewer(executed):
    """The explore notebook, run by papermill as a viewer with the staging filter (written
    "Staging": read as the CLI reads an environment): the cards
    and charts are built, the actor's role applies, and no secret or raw markup is output."""
    result, path = executed[EXPLORE]
    assert result.returncode == 0, result.stderr[-2000:]
    text = _outputs(path)
    assert f"Acting as {VIEWER.name} (viewer): View only" in text
    assert "GitHub Staging" in text  # a staging profile's card, and its bar in the charts
    assert "Live connections by profile and status (staging)" in text
    assert "Credentials expiring per day, next 30 days (staging)" in text
    assert not any(secret in text for secret in DEMO_SECRETS)


# Counted across shadow roots: Bokeh draws each chart on a <canvas> inside its views' shadow DOM.
CHARTS_DRAWN = """() => {
  let canvases = 0;
  const walk = (root) => root.querySelectorAll('*').forEach((el) => {
    if (el.tagName === 'CANVAS' && el.width > 0 && el.height > 0) canvases += 1;
    if (el.shadowRoot) walk(el.shadowRoot);
  });
  walk(document);
  return {documents: window.Bokeh ? Bokeh.documents.length : 0, canvases};
}"""


@pytest.mark.notebooks
@pytest.mark.ui
def test_the_notebook_report_draws_its_charts_offline(executed, page):
    """`connmodel audit --notebook -o out.html` opens like `-f html`: in Chromium with every
    request but file: aborted, BokehJS is there and each chart is drawn (before, the page
    loaded BokehJS and Panel from cdn.bokeh.org and cdn.holoviz.org: no chart without network)."""
    _, path = executed[VIA_CLI]
    charts = len(set(re.findall(r'data-root-id="([^"]+)"', path.read_text())))  # one per chart
    outside, failures = [], []

    def files_only(route):
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            outside.append((route.request.resource_type, route.request.url))
            route.abort()

    page.route("**/*", files_only)
    page.on("pageerror", lambda exc: failures.append(str(exc)))
    page.on("console", lambda m: failures.append(m.text)
            if m.type == "error" and "Bokeh" in m.text else None)
    page.goto(path.as_uri())
    with contextlib.suppress(PlaywrightTimeout):  # the assertions below say what is missing
        page.wait_for_function(f"() => ({CHARTS_DRAWN})().canvases >= {charts}", timeout=15_000)
    drawn = page.evaluate(CHARTS_DRAWN)
    assert charts >= 2  # the check history and the expiry timeline
    assert drawn["documents"] == charts and drawn["canvases"] >= charts, (drawn, outside)
    assert outside == []  # no script, no stylesheet (Panel's CSS are data: URLs)
    assert failures == []


@pytest.mark.notebooks
@pytest.mark.parametrize("name", ["connections_overview", "errors_and_expiry", EXPLORE,
                                  "stale_and_unused"])
def test_a_mistyped_sqlite_path_is_refused_and_leaves_no_file(name, tmp_path):
    """Opening a SQLite path makes the file: a typo in `database_url` (or in
    $CONNMODEL_DATABASE_URL) left an empty database and its -wal and -shm beside it, as the
    CLI no longer does."""
    typo = tmp_path / "conmodel.db"
    done = subprocess.run(
        [str(BIN / "papermill"), "-k", "python3", "--no-progress-bar", str(NOTEBOOKS_DIR /
         f"{name}.ipynb"), str(tmp_path / "out.ipynb"), "-p", "database_url", f"sqlite:///{typo}"],
        capture_output=True, text=True, timeout=170, check=False)
    assert done.returncode != 0
    assert f"the database file {typo} does not exist" in done.stderr, done.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.ipynb"]
