"""The console as people use it, in Chromium: dark theme, sorting, keyboard, narrow windows.

One served dashboard (the demo data, the markup profile, and three more Noauth connections so
a card has rows to sort) for the module.
"""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from connmodel.models import Connection, Profile
from connmodel.store import get_engine, session

pytestmark = pytest.mark.ui

# The contrast of an element's text against the first opaque background behind it (shadow
# roots crossed), as WCAG 2 computes it.
CONTRAST = """(el) => {
  const rgb = (c) => {  // "rgb(r, g, b)", "rgba(r, g, b, a)" or "color(srgb r g b / a)"
    const v = (c.match(/[\\d.]+/g) || []).map(Number)
    return c.startsWith('color(') ? v.map((x, i) => i < 3 ? x * 255 : x) : v
  }
  const parent = (n) => n.parentElement || (n.getRootNode() && n.getRootNode().host) || null
  let bg = null
  for (let n = el; n && !bg; n = parent(n)) {
    const c = rgb(getComputedStyle(n).backgroundColor)
    if (c.length === 3 || (c.length === 4 && c[3] === 1)) bg = c.slice(0, 3)
  }
  bg = bg || [255, 255, 255]
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4 }
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b)
  }
  const [a, b] = [lum(rgb(getComputedStyle(el).color).slice(0, 3)), lum(bg)]
  return {ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05), bg: lum(bg)}
}"""


@pytest.fixture(scope="module")
def served(demo_dashboard) -> Iterator[tuple[str, int]]:
    """The demo dashboard, with Noauth holding four connections of three statuses."""
    with session(demo_dashboard.database_url) as s:
        noauth = s.exec(select(Profile).where(Profile.name == "Noauth")).one()
        for account, status in [("b@example.com", "Error"), ("a@example.com", "Inactive"),
                                ("c@example.com", "Active")]:
            s.add(Connection(profile_id=noauth.id, service="No Authentication Provider",
                             account=account, status=status))
        s.commit()
        pid = noauth.id
    get_engine(demo_dashboard.database_url).dispose()
    yield demo_dashboard.page_url(), pid


def card(page: Page, profile: str):
    return page.locator(f'section[aria-label="Profile {profile}"]')


def open_page(page: Page, url: str) -> None:
    page.goto(url)
    expect(card(page, "Noauth")).to_be_visible()


def remembered(page: Page, theme: str) -> None:
    """Wait until the page has written the theme cookie: its template component does once it
    renders, which may be after the cards show (leaving at once lost the choice once in a
    two-process run of the suite: the next page came in the old theme)."""
    page.wait_for_function(f"document.cookie.includes('connmodel_theme={theme}')")


def test_dark_theme_is_readable_and_survives_a_reload(page: Page, served):
    url, _ = served
    open_page(page, f"{url}?theme=dark")
    google = card(page, "Google")
    texts = [google.locator("h2"), google.locator("h3"), google.locator(".provider"),
             google.locator(".env"), google.locator("tbody td").nth(1),
             google.locator("tbody td").nth(2), google.locator(".badge"),
             google.get_by_role("button", name=re.compile("^View")),
             google.get_by_role("button", name=re.compile("^Revoke")),
             card(page, "GitHub Staging").locator(".badge"),
             card(page, "GitHub Staging").locator(".hint"),
             page.get_by_text(re.compile(r"^Showing \d+ of")),
             page.get_by_role("button", name=re.compile("^Gateway"))]  # the sidebar's menu
    for text in texts:
        found = text.first.evaluate(CONTRAST)
        assert found["ratio"] >= 4.5, f"{text}: contrast {found['ratio']:.2f}"
        assert found["bg"] < 0.2, f"{text}: on a light background in the dark theme"
    remembered(page, "dark")
    page.goto(url)  # no ?theme: the choice is remembered
    expect(card(page, "Google")).to_be_visible()
    assert card(page, "Google").locator("h2").evaluate(CONTRAST)["bg"] < 0.2
    page.goto(f"{url}?theme=default")  # the switch back is remembered too
    expect(card(page, "Google")).to_be_visible()
    remembered(page, "default")
    page.goto(url)
    expect(card(page, "Google")).to_be_visible()
    assert card(page, "Google").locator("h2").evaluate(CONTRAST)["bg"] > 0.8


def test_new_profile_is_readable_in_the_dark_theme(page: Page, served):
    """Panel's modal paints its dialog white; under the dark theme its labels were white on it."""
    url, _ = served
    open_page(page, f"{url}?theme=dark")
    page.get_by_role("button", name="New profile").click()
    expect(page.get_by_role("heading", name="New profile")).to_be_visible()
    for text in (page.get_by_role("heading", name="New profile"),
                 page.get_by_text("Profile name", exact=True),
                 page.get_by_text("Environment", exact=True).last,
                 page.get_by_role("button", name="Cancel")):
        found = text.first.evaluate(CONTRAST)
        assert found["ratio"] >= 4.5, f"{text}: contrast {found['ratio']:.2f}"
        assert found["bg"] < 0.2, f"{text}: on a light background in the dark theme"
    page.keyboard.press("Escape")


def test_headers_sort_the_card_in_sql_and_the_url_keeps_it(page: Page, served):
    url, pid = served
    open_page(page, url)
    noauth = card(page, "Noauth")
    status = noauth.locator("th", has=page.get_by_role("button", name="Status"))
    accounts = noauth.locator("tbody tr td:nth-child(3)")
    expect(accounts).to_have_text(["Configured", "a@example.com", "b@example.com",
                                   "c@example.com"])  # SQL order: upper case first
    card(page, "Google").evaluate("el => { el.keptNode = true }")
    status.get_by_role("button").click()
    expect(status).to_have_attribute("aria-sort", "ascending")
    # Only the sorted card travelled and was drawn again: the others are the same nodes.
    assert card(page, "Google").evaluate("el => el.keptNode === true")
    expect(noauth.locator("tbody .badge")).to_have_text(["Active", "Active", "Error", "Inactive"])
    expect(page).to_have_url(re.compile(f"sort={pid}%3Astatus"))
    status.get_by_role("button").click()
    expect(status).to_have_attribute("aria-sort", "descending")
    expect(noauth.locator("tbody .badge")).to_have_text(["Inactive", "Error", "Active", "Active"])
    expect(page).to_have_url(re.compile(f"sort={pid}%3A-status"))
    expect(card(page, "Google").locator("th[aria-sort]")).to_have_text("Account ▲")
    page.reload()
    expect(noauth.locator("tbody .badge")).to_have_text(["Inactive", "Error", "Active", "Active"])
    expect(noauth.locator("th[aria-sort=descending]")).to_have_text("Status ▼")


def test_activity_sorts_by_time_both_ways(page: Page, served):
    url, _ = served
    page.goto(f"{url}?page=activity")
    time = page.locator("th", has=page.get_by_role("button", name="Time (UTC)"))
    expect(time).to_have_attribute("aria-sort", "descending")
    times = page.locator("table.activity tbody tr td:first-child")
    expect(times.first).to_be_visible()
    newest_first = times.all_inner_texts()
    assert newest_first == sorted(newest_first, reverse=True) and len(newest_first) > 1
    time.get_by_role("button").click()
    expect(time).to_have_attribute("aria-sort", "ascending")
    expect(times).to_have_text(sorted(newest_first))


def test_keyboard_reaches_the_first_view_from_the_filters(page: Page, served):
    url, _ = served
    open_page(page, url)
    expect(page.locator(".badge[tabindex]")).to_have_count(0)  # badges are no tab stops
    page.get_by_placeholder("e.g. user@example.com").focus()
    for _ in range(3):
        page.keyboard.press("Tab")
        if page.evaluate("() => { let a = document.activeElement;"
                         " while (a && a.shadowRoot && a.shadowRoot.activeElement)"
                         " a = a.shadowRoot.activeElement; return a && a.textContent }")\
                == "Skip to the connections":
            break
    else:
        pytest.fail("no skip link within 3 Tab presses of the search field")
    page.keyboard.press("Enter")
    first_view = page.get_by_role("button", name=re.compile("^View")).first
    expect(first_view).to_be_focused()
    expect(first_view).to_have_accessible_description(re.compile("^Error: .*Last checked"))
    staging = card(page, "GitHub Staging").get_by_role("button", name=re.compile("^View"))
    expect(staging).to_have_accessible_description(re.compile("Error: .*invalid_grant"))


@pytest.mark.parametrize("width", [800, 390])
def test_every_action_is_reachable_in_a_narrow_window(page: Page, served, width):
    url, _ = served
    page.set_viewport_size({"width": width, "height": 800})
    open_page(page, url)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    expect(page.locator("#sidebar")).to_have_class(re.compile("hidden"))
    buttons = page.get_by_role("button", name=re.compile(r"^(View|Revoke) .* connection \("))
    expect(buttons.first).to_be_visible()
    for i in range(buttons.count()):
        button = buttons.nth(i)
        button.scroll_into_view_if_needed()
        box = button.bounding_box()
        assert box is not None and 0 <= box["x"] and box["x"] + box["width"] <= width, \
            f"{button.get_attribute('aria-label')} at {box}"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    buttons.first.click()  # clickable, not only visible
    expect(page.get_by_role("dialog")).to_be_visible()
    page.get_by_role("button", name="Toggle the sidebar").press("Enter")
    expect(page.get_by_role("button", name=re.compile("^Gateway"))).to_be_visible()


# The number of lines the text of `el` is laid out on.
LINES = """(el) => { const r = document.createRange(); r.selectNodeContents(el);
  return new Set([...r.getClientRects()].map((b) => Math.round(b.top))).size }"""


def server_row(page: Page, name: str):
    """The row holding a server's text and its buttons."""
    return page.locator(f'div[data-server="{name}"]')


def test_my_servers_and_the_header_fit_a_phone(page: Page, served):
    """At 390 px each server's text gets the width (its buttons go below it), and the header's
    "Signed in as" line wraps instead of being cut; on a wide screen the buttons stay beside."""
    url, _ = served
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{url}?page=servers")
    summaries = page.locator("div[data-server]")
    expect(summaries.first).to_be_visible()
    for i in range(summaries.count()):
        summary = summaries.nth(i)
        summary.scroll_into_view_if_needed()
        box = summary.bounding_box()
        assert box is not None and box["width"] >= 280, f"server text squeezed: {box}"
        name = summary.get_attribute("data-server")
        for label in ("Check", "Reconfigure"):
            button = server_row(page, name).get_by_role("button", name=f"{label} {name}",
                                                        exact=True)
            button.scroll_into_view_if_needed()
            b = button.bounding_box()
            assert b is not None and 0 <= b["x"] and b["x"] + b["width"] <= 390, \
                f"{label} of {name} at {b}"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    who = page.locator(".who")
    expect(who).to_contain_text("Signed in as")
    clipped = who.evaluate("""(el) => { const box = el.getBoundingClientRect()
      let n = el.parentElement || el.getRootNode().host
      for (; n; n = n.parentElement || (n.getRootNode() && n.getRootNode().host) || null) {
        const s = getComputedStyle(n)
        if (s.overflow !== 'visible' && n.getBoundingClientRect().right < box.right - 1)
          return true }
      return box.right > window.innerWidth }""")
    assert not clipped, "the 'Signed in as' line is cut off"
    page.set_viewport_size({"width": 1280, "height": 800})
    first = summaries.first.bounding_box()
    name = summaries.first.get_attribute("data-server")
    check = server_row(page, name).get_by_role("button", name=f"Check {name}", exact=True)
    b = check.bounding_box()
    assert first and b and b["y"] < first["y"] + first["height"], "buttons wrapped on a wide screen"


def test_view_keys_stay_whole_on_a_phone(page: Page, served):
    url, _ = served
    page.set_viewport_size({"width": 390, "height": 800})
    open_page(page, url)
    page.get_by_role("button", name="View Google connection").click()
    keys = page.locator("dialog table th")
    expect(keys.first).to_be_visible()
    for i in range(keys.count()):
        assert keys.nth(i).evaluate(LINES) == 1, f"key broken over lines: {keys.nth(i).text_content()}"


def test_activity_fits_a_phone(page: Page, served):
    """At 390 px each event is a block of labelled lines inside the window, still sortable."""
    url, _ = served
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{url}?page=activity")
    cells = page.locator("table.activity tbody td")
    expect(cells.first).to_be_visible()
    # Every cell inside the window, once the page's layout has settled (Bokeh sizes the
    # component after its first paint, so a first measure can see it squeezed).
    inside = """() => { const out = []
      const walk = (root) => { root.querySelectorAll('table.activity tbody td').forEach((td) => {
          const b = td.getBoundingClientRect(); if (b.left < 0 || b.right > 390) out.push(b) })
        root.querySelectorAll('*').forEach((el) => { if (el.shadowRoot) walk(el.shadowRoot) }) }
      walk(document); return out.length === 0 }"""
    page.wait_for_function(inside, timeout=10_000)
    expect(page.locator("table.activity tbody td").nth(2)).to_have_css("display", "block")
    time = page.locator("th", has=page.get_by_role("button", name="Time (UTC)"))
    time.get_by_role("button").click()
    expect(time).to_have_attribute("aria-sort", "ascending")
