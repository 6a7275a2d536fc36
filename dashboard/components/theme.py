"""Colours of the dashboard's own components, derived from the template's design variables.

Panel's themes (default and dark) set `--panel-background-color`, `--panel-on-background-color`,
`--panel-border-color` and the `--{success,danger,warning,secondary}-{text-color,bg-subtle}`
family on the page; custom properties cross shadow roots, so every component's stylesheet can
start with `TOKENS` and use only the `--cm-*` names below. No colour is written here: a theme
switch (the header's toggle, `?theme=dark`) recolours everything. Status text is mixed towards
the theme's foreground, which darkens it on light backgrounds and lightens it on dark ones, so
it keeps WCAG AA contrast (4.5:1) on its subtle background in both themes.
"""

TOKENS = """
:host {
  --cm-fg: var(--panel-on-background-color);
  --cm-bg: var(--panel-background-color);
  --cm-border: var(--panel-border-color);
  --cm-muted: color-mix(in srgb, var(--cm-fg) 72%, var(--cm-bg));
  --cm-focus: var(--primary-text-color);
  --cm-ok-fg: color-mix(in srgb, var(--success-text-color) 70%, var(--cm-fg));
  --cm-ok-bg: var(--success-bg-subtle);
  --cm-bad-fg: color-mix(in srgb, var(--danger-text-color) 70%, var(--cm-fg));
  --cm-bad-bg: var(--danger-bg-subtle);
  --cm-warn-fg: color-mix(in srgb, var(--warning-text-color) 55%, var(--cm-fg));
  --cm-warn-bg: var(--warning-bg-subtle);
  --cm-info-fg: color-mix(in srgb, var(--info-text-color) 60%, var(--cm-fg));
  --cm-info-bg: var(--info-bg-subtle);
  --cm-off-fg: color-mix(in srgb, var(--secondary-text-color) 50%, var(--cm-fg));
  --cm-off-bg: var(--secondary-bg-subtle);
  color: var(--cm-fg);
}
button:focus-visible, a:focus-visible, input:focus-visible {
  outline: 2px solid var(--cm-focus); outline-offset: 2px; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden;
           clip: rect(0 0 0 0); white-space: nowrap; }
"""

# For Panel's Markdown panes: the theme's `code` colour (#82aaff on a light page) fails contrast.
MARKDOWN_CSS = """
code { color: inherit; background: var(--panel-surface-color); padding: 0 3px; border-radius: 3px; }
"""
