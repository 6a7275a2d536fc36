"""The sidebar menu without a browser: groups start collapsed (the seed's "Click Gateway to
expand") and a collapsed group still names the page you are on. Clicks are the messages the
menu's buttons send (tests/ui/test_connections_page.py clicks them in Chromium)."""

from dashboard.app import Route, Sidebar


def test_collapsed_group_names_the_current_page_and_follows_it():
    route = Route(page="servers")
    menu = Sidebar(route=route).menu
    assert menu.expanded == []
    assert menu.labels == {"Gateway": "Gateway ▸ · My Servers"}
    route.page = "connections"  # the back button, or a link such as "Next: View My Servers"
    assert menu.labels == {"Gateway": "Gateway ▸ · Connections"} and menu.page == "connections"


def test_click_expands_to_the_pages_with_the_current_one_marked_and_collapses_again():
    route = Route(page="connections")
    menu = Sidebar(route=route).menu
    assert menu.groups == [{"name": "Gateway", "pages": [
        ["connections", "Connections"], ["servers", "My Servers"], ["activity", "Activity"],
        ["tokens", "API tokens"]]}]
    menu._handle_msg({"toggle": "Gateway"})
    assert menu.expanded == ["Gateway"] and menu.labels == {"Gateway": "Gateway ▾"}
    menu._handle_msg({"page": "servers"})
    assert route.page == "servers" and menu.page == "servers"
    assert menu.labels == {"Gateway": "Gateway ▾"}
    menu._handle_msg({"toggle": "Gateway"})
    assert menu.expanded == [] and menu.labels == {"Gateway": "Gateway ▸ · My Servers"}


def test_unknown_messages_change_nothing():
    route = Route(page="connections")
    menu = Sidebar(route=route).menu
    for msg in ({"toggle": "Nope"}, {"page": "<script>"}, {"page": None}, "servers", None):
        menu._handle_msg(msg)
    assert (route.page, menu.expanded) == ("connections", [])
