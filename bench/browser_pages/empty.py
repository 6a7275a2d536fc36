"""The floor: the real page's template with one line of text and nothing else."""

import panel as pn
from common import template  # bench/browser_pages/common.py

pn.extension(notifications=True)
template(pn.pane.Markdown("Ready", css_classes=["ready"])).servable()
