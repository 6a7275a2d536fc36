"""The sidebar's menu: groups ("Gateway") that expand to their pages, as one component.

One `<nav>` of real buttons instead of a Panel Button per entry and a Column per group: eight
of the first screen's models (each costs every session ~3 ms of server time and ~2 ms of
BokehJS). Clicks come back as messages; the state (current page, open groups, the toggles'
labels) lives here in Python, and the browser updates its buttons in place, so the focus stays
on the toggle a keyboard user pressed.
"""

from collections.abc import Callable
from typing import Any, ClassVar

import param

from dashboard.components.base import ConsoleComponent
from dashboard.components.dom import DOM_HELPER
from dashboard.components.theme import TOKENS


class NavMenu(ConsoleComponent):
    """Group toggles and page buttons; `on_page(key)` is called when a page is chosen."""

    groups = param.List(default=[], doc="[{'name': group, 'pages': [[key, title], ...]}].")
    page = param.String(default="", doc="The current page's key (marked aria-current).")
    expanded = param.List(default=[], doc="The groups shown open.")
    labels = param.Dict(default={}, doc="Each group toggle's label, by group name.")

    _esm = DOM_HELPER + """
    export function render({ model, el }) {
      const nav = h('nav', {'aria-label': 'Pages'})
      const parts = []
      for (const group of model.groups) {
        const toggle = h('button', {type: 'button', class: 'group'})
        toggle.addEventListener('click', () => model.send_msg({toggle: group.name}))
        const pages = group.pages.map(([key, title]) => {
          const button = h('button', {type: 'button', class: 'page'}, title)
          button.addEventListener('click', () => model.send_msg({page: key}))
          return [key, button]
        })
        const list = h('ul', {}, ...pages.map(([, button]) => h('li', {}, button)))
        nav.append(toggle, list)
        parts.push({group, toggle, list, pages})
      }
      function update() {  // in place: the focused button stays the focused button
        for (const {group, toggle, list, pages} of parts) {
          const open = model.expanded.includes(group.name)
          toggle.textContent = model.labels[group.name] || group.name
          toggle.setAttribute('aria-expanded', String(open))
          list.hidden = !open
          for (const [key, button] of pages) {
            button.classList.toggle('current', key === model.page)
            if (key === model.page) button.setAttribute('aria-current', 'page')
            else button.removeAttribute('aria-current')
          }
        }
      }
      update()
      model.on(['page', 'expanded', 'labels'], update)
      el.append(nav)
    }
    """

    _stylesheets: ClassVar[list[str]] = [TOKENS + """
    nav { display: flex; flex-direction: column; gap: 10px; padding: 5px 10px; }
    ul { list-style: none; margin: 0; padding: 0 0 0 16px; display: flex; flex-direction: column;
         gap: 10px; }
    ul[hidden] { display: none; }
    button { font: inherit; text-align: left; width: 100%; box-sizing: border-box;
             padding: 6px 12px; border-radius: 4px; cursor: pointer;
             border: 1px solid var(--panel-border-color); background: var(--panel-surface-color);
             color: var(--panel-on-surface-color); }
    button.current { background: var(--accent-fill-rest, #0969da);
                     border-color: var(--accent-fill-rest, #0969da);
                     color: var(--foreground-on-accent-rest, #fff); }
    """]

    def __init__(self, on_page: Callable[[str], None], **params: Any) -> None:
        super().__init__(**params)
        self._on_page = on_page
        self.param.watch(self._label, ["page", "expanded"])
        self._label()

    def toggle(self, group: str) -> None:
        """Open a closed group, close an open one."""
        shown = [g for g in self.expanded if g != group]
        self.expanded = shown if group in self.expanded else [*shown, group]

    def _label(self, *_: Any) -> None:
        """"Gateway ▾" when open; closed, it names the current page when it holds it
        ("Gateway ▸ · Connections"), so after a reload the menu still says where you are."""
        labels = {}
        for group in self.groups:
            name = group["name"]
            here = [title for key, title in group["pages"] if key == self.page]
            labels[name] = (f"{name} ▾" if name in self.expanded
                            else f"{name} ▸" + (f" · {here[0]}" if here else ""))
        self.labels = labels

    def _handle_msg(self, msg: Any) -> None:
        if not isinstance(msg, dict):
            return
        groups = {g["name"] for g in self.groups}
        pages = {key for g in self.groups for key, _ in g["pages"]}
        if msg.get("toggle") in groups:
            self.toggle(msg["toggle"])
        elif msg.get("page") in pages:
            self._on_page(msg["page"])
