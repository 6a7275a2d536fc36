"""A modal dialog on the browser's own `<dialog>`, whose content travels as plain values.

The content is a JSON list of blocks (`content`), each written into the DOM with `textContent`
by the ES module below, so no markup built in Python reaches the page and a profile named
`<img src=x onerror=alert(1)>` is shown as those characters. Block kinds:

    {"heading": text}                 the dialog's title and accessible name
    {"subheading": text}
    {"text": text}  {"note": text}    a paragraph; a highlighted one
    {"fields": [[label, value]...]}   a definition list; a value {"badge": s, "text": t}
                                      is a status badge followed by its reason
    {"list": [text...], "empty": t}   a bulleted list, or `empty` when there is none
    {"table": [[name, value]...], "empty": t}

`showModal()` gives what a dialog must do for keyboard and screen-reader users without code of
ours: Escape closes it (except while `busy`), focus is trapped inside, and the page behind is
inert. Focus moves into the dialog on open (to the button marked `autofocus`, else the dialog)
and back to the element that had it when the dialog closes (a button the page redrew meanwhile
is found again by its accessible name). Nothing fades in: the content is readable at once.
Panel components (`objects`) are placed under the content. The content and they scroll;
the buttons, and what `status` holds (a form's error), stay in sight below them: a long form's
error had pushed its buttons under the dialog's scroll edge.
"""

import json
from typing import Any, ClassVar

import param
from panel.custom import Children

from dashboard.components.base import ConsoleComponent
from dashboard.components.dom import DOM_HELPER
from dashboard.components.theme import TOKENS


class Dialog(ConsoleComponent):
    """A modal dialog: structured content, optional Panel children, footer buttons."""

    open = param.Boolean(default=False, doc="Shown as a modal dialog (the browser sets it to "
                                            "False when the user closes it).")
    label = param.String(default="", doc="Accessible name, used when the content has no heading.")
    content = param.String(default="[]", doc="JSON list of blocks (see the module docstring).")
    buttons = param.List(default=[], doc="Footer buttons: dicts with 'label', 'action' "
                                         "('close' closes here; others are sent with `on_msg`), "
                                         "optional 'kind' ('danger', 'primary') and "
                                         "'autofocus'.")
    busy = param.Boolean(default=False, doc="An action runs: buttons disabled, Escape ignored, "
                                            "progress shown.")
    progress = param.Integer(default=0, doc="Steps done while busy.")
    total = param.Integer(default=1, doc="Steps in all while busy.")
    content_class = param.String(default="", doc="CSS class of the content's box.")
    max_width = param.Integer(default=600, doc="Widest the dialog gets, in pixels.")
    objects = Children(default=[], doc="Panel components shown under the content.")
    status = Children(default=[], doc="Panel components shown above the buttons, outside the "
                                      "scrolling part (an error stays in sight with them).")

    _esm = DOM_HELPER + """
    function value(v) {
      if (v && typeof v === 'object') {
        const badge = h('span', {class: `badge ${String(v.badge).toLowerCase()}`}, String(v.badge))
        return [badge, v.text ? ` ${v.text}` : '']
      }
      return [v == null ? '–' : String(v)]
    }
    function block(b, id) {
      if ('heading' in b) return h('h2', {id}, b.heading)
      if ('subheading' in b) return h('h3', {}, b.subheading)
      if ('text' in b) return h('p', {}, b.text)
      if ('note' in b) return h('p', {class: 'note'}, b.note)
      if ('fields' in b) return h('dl', {}, ...b.fields.flatMap(([k, v]) =>
        [h('dt', {}, k), h('dd', {}, ...value(v))]))
      if ('list' in b) return h('ul', {}, ...(b.list.length ? b.list : [b.empty || ''])
        .map((t) => h('li', {}, t)))
      if ('table' in b) return h('table', {}, h('tbody', {}, ...(b.table.length
        ? b.table.map(([k, v]) => h('tr', {}, h('th', {scope: 'row'}, k), h('td', {}, ...value(v))))
        : [h('tr', {}, h('td', {}, b.empty || ''))])))
      return document.createTextNode('')
    }
    function deepActive() {
      let node = document.activeElement
      while (node && node.shadowRoot && node.shadowRoot.activeElement) node = node.shadowRoot.activeElement
      return node
    }
    function findDeep(root, selector) {
      const hit = root.querySelector(selector)
      if (hit) return hit
      for (const el of root.querySelectorAll('*')) {
        if (el.shadowRoot) {
          const found = findDeep(el.shadowRoot, selector)
          if (found) return found
        }
      }
      return null
    }
    let serial = 0
    export function render({ model, el }) {
      const id = `dialog-title-${++serial}`
      const body = h('div', {class: 'content'})
      const extra = h('div', {class: 'extra'})
      const status = h('div', {class: 'status'})
      const bar = h('progress', {max: '1', value: '0'})
      const footer = h('div', {class: 'buttons'})
      const dialog = h('dialog', {tabindex: '-1'}, h('div', {class: 'scroll'}, body, extra),
                       status, bar, footer)
      let opener = null
      let openerName = null
      function draw() {
        const blocks = JSON.parse(model.content)
        body.className = `content ${model.content_class}`
        body.replaceChildren(...blocks.map((b) => block(b, id)))
        if (blocks.some((b) => 'heading' in b)) {
          dialog.setAttribute('aria-labelledby', id)
          dialog.removeAttribute('aria-label')
        } else {
          dialog.setAttribute('aria-label', model.label)
          dialog.removeAttribute('aria-labelledby')
        }
      }
      function drawButtons() {
        footer.replaceChildren(...model.buttons.map((b) => {
          const button = h('button', {type: 'button', class: b.kind || 'default'}, b.label)
          if (b.autofocus) button.dataset.autofocus = ''
          button.addEventListener('click', () => {
            if (b.action === 'close') dialog.close()
            else model.send_msg({action: b.action})
          })
          return button
        }))
        busy()
      }
      function busy() {
        bar.hidden = !model.busy
        bar.max = Math.max(model.total, 1)
        bar.value = Math.min(model.progress, bar.max)
        for (const button of footer.children) button.disabled = model.busy
      }
      function show() {
        if (dialog.open) return
        opener = deepActive()
        openerName = opener && opener.getAttribute ? opener.getAttribute('aria-label') : null
        dialog.style.maxWidth = `min(${model.max_width}px, calc(100vw - 32px))`
        dialog.showModal()
        const first = dialog.querySelector('[data-autofocus]')
        ;(first || dialog).focus()
      }
      function giveFocusBack() {
        let target = opener && opener.isConnected ? opener : null
        if (target === null && openerName) {
          target = findDeep(document, `[aria-label="${CSS.escape(openerName)}"]`)
        }
        opener = openerName = null
        if (target) target.focus()
      }
      dialog.addEventListener('cancel', (event) => { if (model.busy) event.preventDefault() })
      dialog.addEventListener('close', () => {
        model.open = false
        giveFocusBack()
      })
      draw()
      drawButtons()
      extra.append(...model.get_child('objects'))
      status.append(...model.get_child('status'))
      model.on('content', draw)
      model.on('buttons', drawButtons)
      model.on(['busy', 'progress', 'total'], busy)
      model.on('open', () => { if (model.open) show(); else if (dialog.open) dialog.close() })
      el.append(dialog)
      if (model.open) show()
    }
    """

    _stylesheets: ClassVar[list[str]] = [TOKENS + """
    :host { width: 0; height: 0; }
    dialog { width: 100%; box-sizing: border-box; max-height: calc(100vh - 64px);
             padding: 16px 20px; border: 1px solid var(--cm-border); border-radius: 8px;
             background: var(--cm-bg); color: var(--cm-fg); }
    dialog[open] { display: flex; flex-direction: column; overflow: hidden; }
    .scroll { flex: 1 1 auto; min-height: 0; overflow: auto; }
    .status, progress, .buttons { flex: none; }
    .status { max-height: 30vh; overflow: auto; }
    dialog:focus { outline: none; }
    dialog::backdrop { background: var(--panel-shadow-color); }
    h2 { margin: 0 0 12px 0; font-size: 1.3em; }
    h3 { margin: 16px 0 6px 0; font-size: 1.05em; }
    dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
    dt { font-weight: 600; color: var(--cm-muted); }
    dd { margin: 0; overflow-wrap: anywhere; }
    table { border-collapse: collapse; }
    td, th { padding: 2px 12px 2px 0; text-align: left; vertical-align: top;
             overflow-wrap: anywhere; }
    th { overflow-wrap: normal; word-break: normal; }
    /* A phone-wide dialog has no room for two columns: each key above its value. */
    @media (max-width: 480px) {
      tr, th, td { display: block; }
      th { padding-top: 6px; overflow-wrap: anywhere; }
      td { padding-left: 12px; }
    }
    .badge { border-radius: 10px; padding: 1px 8px; font-weight: 600; }
    .badge.active { background: var(--cm-ok-bg); color: var(--cm-ok-fg); }
    .badge.inactive { background: var(--cm-off-bg); color: var(--cm-off-fg); }
    .badge.error { background: var(--cm-bad-bg); color: var(--cm-bad-fg); }
    .note { background: var(--cm-warn-bg); color: var(--cm-warn-fg);
            border-left: 4px solid currentColor; padding: 8px 12px; }
    progress { width: 100%; margin-top: 8px; }
    .buttons { display: flex; justify-content: flex-end; gap: 8px; margin-top: 12px; }
    .buttons button { font: inherit; padding: 5px 14px; border-radius: 6px; cursor: pointer;
                      border: 1px solid var(--cm-border); background: var(--panel-surface-color);
                      color: var(--cm-fg); }
    .buttons button.danger { background: var(--cm-bad-fg); border-color: var(--cm-bad-fg);
                             color: var(--cm-bg); }
    .buttons button.primary { background: var(--panel-primary-color);
                              border-color: var(--panel-primary-color);
                              color: var(--panel-on-primary-color); }
    .buttons button:disabled { opacity: 0.6; cursor: default; }
    """]

    def show(self, content: list[dict[str, Any]]) -> None:
        """Open the dialog on this content (one message to the browser)."""
        self.param.update(content=json.dumps(content, separators=(",", ":")), open=True)
