"""The one escaping function for user-controlled text placed in HTML or Markdown panes.

Panel's HTML and Markdown panes render raw markup, so every profile name, account, reason or
server name goes through `esc` before it is put into one. Markdown specials are escaped too, so
`*bold*` in a name stays literal in Markdown panes.
"""

import html

_MARKDOWN_SPECIALS = str.maketrans({c: f"&#{ord(c)};" for c in "\\`*_{}[]()#+-.!|~"})


def esc(value: object) -> str:
    """Text safe to place in HTML: <, >, &, quotes escaped; None becomes an en dash."""
    if value is None:
        return "–"
    return html.escape(str(value), quote=True)


def esc_md(value: object) -> str:
    """Text safe to place in a Markdown pane: HTML-escaped and Markdown specials neutralised."""
    return esc(value).translate(_MARKDOWN_SPECIALS)
