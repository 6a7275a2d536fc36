"""The HTML report in Chromium with the network cut off: the charts draw from the inline
Bokeh bundle, no request leaves the page, and user text stays text."""

from pathlib import Path

import pytest

from audit.auditdata import MARKUP, seed_audit_store
from connmodel.cli import run

pytestmark = pytest.mark.ui
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "audit-report.png"


@pytest.fixture
def report_file(sqlite_url, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CONNMODEL_KEY_FILE", str(tmp_path / "no-such.key"))  # not needed
    seed_audit_store(sqlite_url)
    target = tmp_path / "audit.html"
    assert run(["audit", "-d", sqlite_url, "-f", "html", "-o", str(target)]) == 0
    return target


def open_offline(page, path: Path) -> list[str]:
    """Open the file with every other request blocked; return the URLs that were attempted."""
    url = path.as_uri()
    attempted: list[str] = []
    page.on("request", lambda r: r.url != url and not r.url.startswith("data:")
            and attempted.append(r.url))
    page.route("**/*", lambda route: route.continue_() if route.request.url == url
               else route.abort())
    page.goto(url)
    return attempted


def test_report_draws_its_charts_offline_and_requests_nothing(page, report_file, tmp_path):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    attempted = open_offline(page, report_file)
    page.get_by_role("heading", name="Connections audit").wait_for()
    page.wait_for_function("() => window.Bokeh && Bokeh.index && "
                           "Object.keys(Bokeh.index).length >= 3")
    canvases = page.locator("canvas")  # inside Bokeh's shadow roots; Playwright pierces them
    canvases.first.wait_for()
    painted = canvases.evaluate_all("""cs => cs.map(c => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let ink = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && d[i] < 200) ink++;
        return [c.width, c.height, ink]; })""")
    inked = [p for p in painted if p[0] > 200 and p[1] > 100 and p[2] > 500]
    assert len(inked) == 4, painted  # profiles, checks over time, expiry, errors per provider
    assert attempted == [] and errors == []
    assert page.title() == "Connections audit"  # the markup in a reason did not run
    cell = page.get_by_role("cell", name="invalid_grant <img", exact=False).first
    assert MARKUP in cell.inner_text()
    assert page.locator("img").count() == 0
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 20_000


@pytest.mark.screenshots
def test_screenshot_for_the_readme(request, page, report_file):
    """Writes docs/screenshots/audit-report.png; only with -m screenshots (make screenshots)."""
    if "screenshots" not in (request.config.getoption("-m") or ""):
        pytest.skip("writes docs/screenshots/: run with -m screenshots")
    open_offline(page, report_file)
    page.wait_for_function("() => window.Bokeh && Object.keys(Bokeh.index).length >= 3")
    page.set_viewport_size({"width": 1100, "height": 1400})
    page.screenshot(path=str(SCREENSHOT), full_page=False)
