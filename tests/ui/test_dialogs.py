"""View and Revoke as keyboard users meet them: named, readable at once, Escape, focus back.

The checks read the page as a person's tools do (the focused element through shadow roots, the
dialog's computed opacity), not the component's own state, so they hold for any dialog markup.
"""

import pytest
from playwright.sync_api import Page, expect
from test_connections_page import card, open_connections

pytestmark = pytest.mark.ui

FOCUSED_LABEL_JS = """() => {
  let node = document.activeElement
  while (node && node.shadowRoot && node.shadowRoot.activeElement) node = node.shadowRoot.activeElement
  return node ? (node.getAttribute('aria-label') || node.textContent.trim()) : null
}"""
FOCUS_IN_DIALOG_JS = """() => {
  let node = document.activeElement
  while (node && node.shadowRoot && node.shadowRoot.activeElement) node = node.shadowRoot.activeElement
  for (let n = node; n; n = n.parentNode || n.host) {
    if (n.nodeType === 1 && (n.tagName === 'DIALOG' || n.getAttribute('role') === 'dialog')) return true
  }
  return false
}"""
# Polled once per animation frame: null until an element showing `text` is on screen; then how
# opaque it is (the product of its ancestors' opacity, across shadow roots).
SHOWN_OPACITY_JS = """(text) => {
  function find(root) {
    for (const el of root.querySelectorAll('h2')) if (el.textContent.includes(text)) return el
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) { const hit = find(el.shadowRoot); if (hit) return hit }
    }
    return null
  }
  const heading = find(document)
  if (!heading || heading.getClientRects().length === 0) return null
  let opacity = 1
  for (let n = heading; n; n = n.parentNode || n.host) {
    if (n.nodeType === 1) opacity *= Number(getComputedStyle(n).opacity)
  }
  return opacity
}"""


def focused_label(page: Page) -> str | None:
    return page.evaluate(FOCUSED_LABEL_JS)


def test_view_is_named_readable_at_once_closes_on_escape_and_gives_focus_back(
        page: Page, demo_dashboard):
    open_connections(page, demo_dashboard.page_url())
    view = page.get_by_role("button", name="View Google connection")
    view.focus()
    page.keyboard.press("Enter")
    name = "Google connection (user@example.com)"
    opacity = page.wait_for_function(SHOWN_OPACITY_JS, arg=name, polling="raf").json_value()
    assert opacity == 1, f"the dialog's first frame on screen is {opacity:.0%} opaque"
    dialog = page.get_by_role("dialog", name=name)
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Gsuite")
    assert page.evaluate(FOCUS_IN_DIALOG_JS), "focus stayed behind the dialog"
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert focused_label(page) == "View Google connection (user@example.com)"
    view.click()  # a second View opens again after Escape
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    assert focused_label(page) == "View Google connection (user@example.com)"


def test_revoke_escape_cancels_and_gives_focus_back(page: Page, demo_dashboard):
    open_connections(page, demo_dashboard.page_url())
    revoke = page.get_by_role("button", name="Revoke Hubspot connection")
    revoke.click()
    dialog = page.get_by_role("dialog", name="Revoke Hubspot connection (Configured)?")
    expect(dialog).to_be_visible()
    assert focused_label(page) == "Cancel"  # the safe choice first
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert focused_label(page) == "Revoke Hubspot connection (Configured)"
    expect(card(page, "Hubspot").locator("tbody tr")).to_have_count(1)
    revoke.click()  # cancelled on the server too: the same confirmation opens again
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_new_profile_is_readable_at_once(page: Page, demo_dashboard):
    """Panel's Modal fades its content in after 200 ms; ours is readable in its first frame."""
    open_connections(page, demo_dashboard.page_url())
    page.get_by_role("button", name="New profile").click()
    opacity = page.wait_for_function(SHOWN_OPACITY_JS, arg="New profile",
                                     polling="raf").json_value()
    assert opacity == 1, f"the dialog's first frame on screen is {opacity:.0%} opaque"
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_placeholder("e.g. Drive")).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
