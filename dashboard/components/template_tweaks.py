"""What the Fast template lacks for narrow windows, keyboards, screen readers and theme memory.

- Below NARROW_PX the sidebar starts collapsed (its toggle opens it over the page, see
  `NARROW_CSS`), so the cards get the window's width and no page scrolls sideways.
- The sidebar toggle (a `<span onclick>` in the template) becomes a named button reachable
  with Tab and Enter; the theme switch gets a name; the sidebar is the navigation landmark
  and its `<ul>`, whose items are `<div>`s, stops claiming to be a list.
- The theme choice (the header's switch reloads with `?theme=dark`) is remembered in a
  cookie (THEME_COOKIE), which `dashboard.app` reads when a session starts without the
  parameter and the sign-in page (which runs no script) reads too.
Only the template's own elements are touched, by their ids; no user text is involved.
"""


from dashboard.auth import THEME_COOKIE
from dashboard.components.base import ConsoleComponent

NARROW_PX = 900
NARROW_CSS = f"""
@media (max-width: {NARROW_PX}px) {{
  #sidebar:not(.hidden) {{ position: absolute; z-index: 1000; height: calc(100vh - 76px);
                           background: var(--panel-surface-color);
                           box-shadow: 2px 0 8px var(--panel-shadow-color); }}
  #header .title {{ font-size: 1.2em; }}
}}
@media (max-width: 480px) {{
  #header .app-header {{ display: none; }}
  #header-items {{ flex: 1 1 auto; min-width: 0; overflow: hidden; }}
}}
"""


class TemplateTweaks(ConsoleComponent):
    """An invisible component that adjusts the template once per page load."""

    _esm = f"""
    const KEY = '{THEME_COOKIE}'
    export function render({{ el }}) {{
      el.style.display = 'none'
      if (window.__connmodelTweaks) return
      window.__connmodelTweaks = true
      const chosen = new URL(window.location.href).searchParams.get('theme')
      if (chosen) {{
        document.cookie = `${{KEY}}=${{chosen === 'dark' ? 'dark' : 'default'}}; path=/; ` +
                          'max-age=31536000; SameSite=Strict'
      }}
      const toggle = document.getElementById('sidebar-button')
      const sidebar = document.getElementById('sidebar')
      if (toggle && sidebar) {{
        toggle.setAttribute('role', 'button')
        toggle.setAttribute('tabindex', '0')
        toggle.setAttribute('aria-label', 'Toggle the sidebar')
        toggle.setAttribute('aria-controls', 'sidebar')
        const expanded = () => toggle.setAttribute(
          'aria-expanded', String(!sidebar.classList.contains('hidden')))
        new MutationObserver(expanded).observe(sidebar, {{attributes: true}})
        toggle.addEventListener('keydown', (e) => {{
          if (e.key === 'Enter' || e.key === ' ') {{ e.preventDefault(); toggle.click() }}
        }})
        if (window.matchMedia('(max-width: {NARROW_PX}px)').matches) window.closeNav()
        expanded()
      }}
      const nav = document.querySelector('#sidebar ul.nav')
      if (nav) nav.setAttribute('role', 'none')  // its items are divs, not <li>
      if (sidebar) {{
        sidebar.setAttribute('role', 'navigation')
        sidebar.setAttribute('aria-label', 'Pages')
      }}
      const theme = document.getElementById('theme-switch')
      if (theme) theme.setAttribute('aria-label', 'Light theme (off: dark theme)')
    }}
    """
