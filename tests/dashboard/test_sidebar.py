"""The sidebar menu without a browser: groups start collapsed (the seed's "Click Gateway to
expand") and a collapsed group still names the page you are on."""

from dashboard.app import Route, Sidebar


def menu(route: Route):
    """The Gateway group's toggle and its list of pages."""
    toggle, items = Sidebar(route=route).__panel__().objects[:2]
    return toggle, items


def test_collapsed_group_names_the_current_page_and_follows_it():
    route = Route(page="servers")
    toggle, items = menu(route)
    assert not items.visible
    assert toggle.label == "Gateway ▸ · My Servers"
    route.page = "connections"  # the back button, or a link such as "Next: View My Servers"
    assert toggle.label == "Gateway ▸ · Connections"


def test_click_expands_to_the_pages_with_the_current_one_marked_and_collapses_again():
    route = Route(page="connections")
    toggle, items = menu(route)
    toggle.clicks += 1
    assert items.visible and toggle.label == "Gateway ▾"
    pages = {button.label: button.color for button in items.objects}
    assert pages == {"Connections": "primary", "My Servers": "light", "Activity": "light",
                     "API tokens": "light"}
    items.objects[1].clicks += 1  # My Servers
    assert route.page == "servers" and toggle.label == "Gateway ▾"
    toggle.clicks += 1
    assert not items.visible and toggle.label == "Gateway ▸ · My Servers"
