// Made by `python -m dashboard.components.bundle` from the components' `_esm`: do not edit.

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v)
  node.append(...children)
  return node
}

const Dialog = (() => {
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
  function render({ model, el }) {
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
  return {render}
})()

const EventTable = (() => {
  const COLUMNS = ['Time (UTC)', 'Actor', 'Action', 'Target', 'Outcome']
  function render({ model, el }) {
    const box = h('div')
    function draw() {
      if (model.rows.length === 0) {
        box.replaceChildren(h('p', {}, 'No event matches these filters.'))
        return
      }
      const sort = h('button', {type: 'button', class: 'sort'}, 'Time (UTC)',
                     h('span', {'aria-hidden': 'true'}, model.oldest_first ? ' ▲' : ' ▼'))
      sort.addEventListener('click', () => { model.oldest_first = !model.oldest_first })
      const head = h('tr', {},
        h('th', {scope: 'col', 'aria-sort': model.oldest_first ? 'ascending' : 'descending'}, sort),
        ...COLUMNS.slice(1).map((t) => h('th', {scope: 'col'}, t)))
      const body = h('tbody', {}, ...model.rows.map((cells) =>
        h('tr', {}, ...cells.map((text, i) => h('td', {'data-label': COLUMNS[i]}, text)))))
      box.replaceChildren(h('table', {class: 'activity'},
        h('caption', {class: 'sr-only'}, 'Audit events'), h('thead', {}, head), body))
    }
    draw()
    model.on(['rows', 'oldest_first'], draw)
    el.append(box)
  }
  return {render}
})()

const HistoryReload = (() => {
  function render({ el }) {
    if (!window.__connmodelHistory) {
      window.__connmodelHistory = true
      window.addEventListener('popstate', () => window.location.reload())
    }
    el.style.display = 'none'
  }
  return {render}
})()

const LabelledCheckbox = (() => {
  function render({ model, el }) {
    const box = h('input', {type: 'checkbox'})
    const words = h('span')
    function draw() {
      box.checked = model.value
      words.textContent = model.label
    }
    box.addEventListener('change', () => { model.value = box.checked })
    draw()
    model.on(['value', 'label'], draw)
    el.append(h('label', {}, box, words))
  }
  return {render}
})()

const NavMenu = (() => {
  function render({ model, el }) {
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
  return {render}
})()

const Notice = (() => {
  function render({ model, el }) {
    const box = document.createElement('div')
    const lead = document.createElement('strong')
    const body = document.createElement('span')
    const link = document.createElement('a')
    box.append(lead, body, ' ', link)
    function draw() {
      box.className = `box ${model.kind}`
      box.setAttribute('role', model.kind === 'error' ? 'alert' : 'status')
      lead.textContent = model.title ? `${model.title} ` : ''
      body.textContent = model.text
      link.textContent = model.link_label
      link.hidden = !model.link.startsWith('/')  // only a path here, never javascript:
      link.setAttribute('href', link.hidden ? '#' : model.link)
      box.hidden = !model.text
    }
    draw()
    model.on(['text', 'title', 'kind', 'link', 'link_label'], draw)
    el.append(box)
  }
  return {render}
})()

const ProfileCards = (() => {
  const COLUMNS = [['service', 'Service'], ['account', 'Account'], ['status', 'Status']]
  const WIDE = [['created', 'Created'], ['expires', 'Expires'], ['last_used', 'Last used'],
                ['checked', 'Checked']]
  function header(model, p, index, field, label, wide) {
    const sorted = p.sort.replace(/^-/, '') === field
    const descending = sorted && p.sort.startsWith('-')
    const button = h('button', {type: 'button', class: 'sort'}, label,
                     h('span', {'aria-hidden': 'true'}, sorted ? (descending ? ' ▼' : ' ▲') : ''))
    button.addEventListener('click', () => model.send_msg({action: 'sort', id: index, field}))
    const attrs = {scope: 'col', class: `col-${field}${wide ? ' wide' : ''}`}
    if (sorted) attrs['aria-sort'] = descending ? 'descending' : 'ascending'
    return h('th', attrs, button)
  }
  function row(model, p, index, r) {  // one connection's <tr>
    const label = `${p.name} connection (${r.account})`
    const why = `why-${index}-${r.id}`
    const box = h('input', {type: 'checkbox', 'aria-label': `Select ${label}`,
                            'data-id': String(r.id)})
    box.checked = model.selected.includes(r.id)
    box.addEventListener('change', () => {
      const others = model.selected.filter((id) => id !== r.id)
      model.selected = box.checked ? [...others, r.id] : others
    })
    const status = h('td', {'data-label': 'Status'},
      h('span', {class: `badge ${r.status.toLowerCase()}`, title: r.title}, r.status))
    if (r.hint) status.append(h('span', {class: 'hint'}, r.hint))
    const view = h('button', {type: 'button', class: 'view', 'aria-label': `View ${label}`,
                              'aria-describedby': why}, 'View')
    const revoke = h('button', {type: 'button', class: 'revoke', 'aria-label': `Revoke ${label}`,
                                'aria-describedby': why}, 'Revoke')
    view.addEventListener('click', () => model.send_msg({action: 'view', id: r.id}))
    revoke.addEventListener('click', () => model.send_msg({action: 'revoke', id: r.id}))
    const cells = [h('td', {'data-label': 'Service'}, r.service),
                   h('td', {'data-label': 'Account'}, r.account), status,
                   ...WIDE.map(([f, l]) => h('td', {class: 'wide', 'data-label': l}, r[f]))]
    const actions = h('td', {class: 'actions'}, view, ...(model.can_write ? [revoke] : []),
                      h('span', {id: why, hidden: ''}, r.title))  // the buttons' description
    return (model.can_write
      ? h('tr', {'data-id': String(r.id)}, h('td', {class: 'sel'}, box), ...cells, actions)
      : h('tr', {'data-id': String(r.id)}, ...cells, actions))
  }
  function counts(p) {
    // A common search stops counting a card's matches early: its counts are "at least".
    const atLeast = p.counts_exact === false ? '+' : ''
    const node = h('p', atLeast ? {class: 'counts', title: 'At least: counting stopped early'}
                                : {class: 'counts'})
    for (const [status, n] of Object.entries(p.counts || {})) {
      node.append(h('span', {class: n ? `count count-${status.toLowerCase()}` : 'count'}, `${n}${atLeast} ${status}`))
    }
    return node
  }
  function more(model, p, index) {
    const button = h('button', {type: 'button', class: 'more',
                                'aria-label': `Load more connections of ${p.name}`}, 'Load more')
    button.addEventListener('click', () => model.send_msg({action: 'more', id: index}))
    return button
  }
  function card(model, p, index) {
      // Focusable from script only: focus lands here when the row it was on leaves (a
      // revoke), not on the page's start; the next Tab goes on to this card's controls.
      const root = h('section', {class: 'card', tabindex: '-1'})
      const name = p.name
      root.setAttribute('aria-label', `Profile ${name}`)
      const head = h('header', {},
        h('h2', {}, name),
        h('span', {class: `env env-${p.environment}`, title: 'Environment'}, p.environment || ''),
        h('span', {class: 'provider', title: 'Provider config'}, p.provider || ''))
      const children = [head]
      if (p.description) children.push(h('p', {class: 'desc'}, p.description))
      children.push(h('h3', {}, 'Connections in this profile'), counts(p))
      if (p.rows.length === 0) {
        children.push(h('p', {class: 'empty'}, p.empty || ''))
      } else {
        const table = h('table', {},
          h('caption', {class: 'sr-only'}, `Connections of profile ${name}`),
          h('thead', {}, h('tr', {},
            ...(model.can_write ? [h('th', {scope: 'col', class: 'sel'},
                                      h('span', {class: 'sr-only'}, 'Select'))] : []),
            ...COLUMNS.map(([f, l]) => header(model, p, index, f, l, false)),
            ...WIDE.map(([f, l]) => header(model, p, index, f, l, true)),
            h('th', {scope: 'col', class: 'col-actions'}, 'Actions'))))
        const body = h('tbody', {}, ...p.rows.map((r) => row(model, p, index, r)))
        table.append(body)
        children.push(table)
      }
      if (p.has_more) children.push(more(model, p, index))
      root.replaceChildren(...children)
      return root
  }
  function focusKey(node) {  // how a card drawn anew finds the focused control again
    const th = node.closest('th')
    const name = node.getAttribute('aria-label')
    return name ? `[aria-label="${CSS.escape(name)}"]` : (th ? `th.${th.classList[0]} button` : null)
  }
  function render({ model, el }) {
    const list = h('div', {class: 'cards'})
    let shown = []
    function focusedIn(node) {
      const active = list.getRootNode().activeElement
      return active && node.contains(active) ? active : null
    }
    function swap(node, next) {  // a card drawn anew keeps the focus it had, else takes it
      const active = focusedIn(node)
      node.replaceWith(next)
      const key = active && active !== node ? focusKey(active) : null
      if (active) ((key && next.querySelector(key)) || next).focus()
    }
    function draw() {
      shown = JSON.parse(model.cards)
      list.replaceChildren(...shown.map((p, index) => card(model, p, index)))
    }
    model.on('msg:custom', (msg) => {  // one card changed: only it travels
      if (msg.cards !== undefined) {  // the page's cards again, as `cards` already holds them
        shown = JSON.parse(msg.cards)
        list.replaceChildren(...shown.map((p, index) => card(model, p, index)))
        return
      }
      const node = list.children[msg.index]
      const p = msg.card || shown[msg.index]
      if (!p || !node) return
      shown[msg.index] = p
      if (msg.card) {  // the card anew (sorted, other rows)
        swap(node, card(model, p, msg.index))
        return
      }
      // Rows left (revoked) and rows added at the end ("Load more", a re-read): only those
      // change in the DOM; the other rows, and the focus, stay as they are.
      const gone = new Set(msg.remove)
      const body = node.querySelector('tbody')
      const had = p.rows.length
      p.rows = p.rows.filter((r) => !gone.has(r.id)).concat(msg.rows)
      Object.assign(p, {has_more: msg.has_more, counts: msg.counts, counts_exact: msg.counts_exact})
      if (!body || had === 0 || p.rows.length === 0) {  // a table appears or goes: anew
        swap(node, card(model, p, msg.index))
        return
      }
      for (const tr of [...body.children]) {
        if (!gone.has(Number(tr.dataset.id))) continue
        const focused = focusedIn(tr)
        tr.remove()
        if (focused) node.focus()  // not the page's start: the card the row was in
      }
      body.append(...msg.rows.map((r) => row(model, p, msg.index, r)))
      node.querySelector('p.counts').replaceWith(counts(p))
      const button = node.querySelector('button.more')
      if (button && !p.has_more) button.remove()
      else if (!button && p.has_more) node.append(more(model, p, msg.index))
    })
    function tick() {  // keep focus where it is: only the boxes change
      for (const box of list.querySelectorAll('input[data-id]')) {
        box.checked = model.selected.includes(Number(box.dataset.id))
      }
    }
    draw()
    model.on('cards', draw)
    model.on('selected', tick)
    window.addEventListener('connmodel:first-view', () => {  // components.skip_link
      const first = list.querySelector('button.view')
      if (first) first.focus()
    })
    el.append(list)
  }
  return {render}
})()

const Redirect = (() => {
  function render({ model }) {
    model.on("url", () => {
      if (/^https?:\/\//i.test(model.url)) { window.location.assign(model.url) }
    })
    return document.createElement("span")
  }
  return {render}
})()

const ServerSummary = (() => {
  function render({ model, el }) {
    const s = model.server
    let link = '–'
    if (s.connection !== null && s.profile) {
      const query = new URLSearchParams({page: 'connections', profile: s.profile})
      link = h('a', {href: `?${query}`}, `connection ${s.connection}`)
    }
    const text = h('div', {class: 'srv-text'},
      h('b', {}, s.name), ' ', h('span', {class: `srv-badge st-${s.health}`}, s.health),
      h('br'), h('small', {}, `${s.url} · ${s.transport} · profile ${s.profile} · `, link),
      h('br'), h('small', {}, s.check))
    if (s.reason) text.append(h('br'), h('small', {}, s.reason))
    const check = h('button', {type: 'button', 'aria-label': `Check ${s.name}`}, 'Check')
    check.disabled = s.connection === null
    const reconfigure = h('button', {type: 'button', 'aria-label': `Reconfigure ${s.name}`},
                          'Reconfigure')
    check.addEventListener('click', () => model.send_msg({action: 'check'}))
    reconfigure.addEventListener('click', () => model.send_msg({action: 'reconfigure'}))
    el.append(h('div', {class: 'srv-row', 'data-server': s.name}, text,
                h('div', {class: 'srv-buttons'}, check, reconfigure)))
  }
  return {render}
})()

const SignedIn = (() => {
  function render({ model, el }) {
    const line = document.createElement('span')
    line.className = 'who'
    if (model.name) {
      const who = document.createElement('strong')
      who.textContent = model.name
      line.append('Signed in as ', who, ` (${model.role})`)
      if (model.logout) {
        const out = document.createElement('a')
        out.href = model.logout
        out.textContent = 'Sign out'
        line.append(' ', out)
      }
    }
    el.append(line)
  }
  return {render}
})()

const SkipLink = (() => {
  function render({ el }) {
    const link = document.createElement('a')
    link.href = '#connections'
    link.className = 'skip'
    link.textContent = 'Skip to the connections'
    link.addEventListener('click', (e) => {
      e.preventDefault()
      window.dispatchEvent(new CustomEvent('connmodel:first-view'))
    })
    el.append(link)
  }
  return {render}
})()

const StatusLine = (() => {
  function render({ model, el }) {
    const line = document.createElement('p')
    line.setAttribute('role', 'status')
    const draw = () => { line.textContent = model.object; line.hidden = !model.object }
    draw()
    model.on('object', draw)
    el.append(line)
  }
  return {render}
})()

const TemplateTweaks = (() => {
  const KEY = 'connmodel_theme'
  function render({ el }) {
    el.style.display = 'none'
    if (window.__connmodelTweaks) return
    window.__connmodelTweaks = true
    const chosen = new URL(window.location.href).searchParams.get('theme')
    if (chosen) {
      document.cookie = `${KEY}=${chosen === 'dark' ? 'dark' : 'default'}; path=/; ` +
                        'max-age=31536000; SameSite=Strict'
    }
    const toggle = document.getElementById('sidebar-button')
    const sidebar = document.getElementById('sidebar')
    if (toggle && sidebar) {
      toggle.setAttribute('role', 'button')
      toggle.setAttribute('tabindex', '0')
      toggle.setAttribute('aria-label', 'Toggle the sidebar')
      toggle.setAttribute('aria-controls', 'sidebar')
      const expanded = () => toggle.setAttribute(
        'aria-expanded', String(!sidebar.classList.contains('hidden')))
      new MutationObserver(expanded).observe(sidebar, {attributes: true})
      toggle.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); toggle.click() }
      })
      if (window.matchMedia('(max-width: 900px)').matches) window.closeNav()
      expanded()
    }
    const nav = document.querySelector('#sidebar ul.nav')
    if (nav) nav.setAttribute('role', 'none')  // its items are divs, not <li>
    if (sidebar) {
      sidebar.setAttribute('role', 'navigation')
      sidebar.setAttribute('aria-label', 'Pages')
    }
    const theme = document.getElementById('theme-switch')
    if (theme) theme.setAttribute('aria-label', 'Light theme (off: dark theme)')
  }
  return {render}
})()

const TextList = (() => {
  function render({ model, el }) {
    const box = document.createElement('div')
    function draw() {
      if (model.items.length === 0) {
        const p = document.createElement('p')
        p.textContent = model.empty
        box.replaceChildren(p)
        return
      }
      const list = document.createElement('ul')
      for (const text of model.items) {
        const li = document.createElement('li')
        li.textContent = text
        list.append(li)
      }
      box.replaceChildren(list)
    }
    draw()
    model.on(['items', 'empty'], draw)
    el.append(box)
  }
  return {render}
})()

const TextTable = (() => {
  function render({ model, el }) {
    const box = h('div', {class: 'scroll'})
    function draw() {
      if (model.rows.length === 0) {
        box.replaceChildren(h('p', {}, model.empty))
        return
      }
      box.replaceChildren(h('table', {},
        h('caption', {class: 'sr-only'}, model.caption),
        h('thead', {}, h('tr', {}, ...model.columns.map((c) => h('th', {scope: 'col'}, c)))),
        h('tbody', {}, ...model.rows.map((cells) =>
          h('tr', {}, ...cells.map((text, i) =>
            h('td', {'data-label': model.columns[i] || ''}, String(text))))))))
    }
    draw()
    model.on(['rows', 'columns', 'empty', 'caption'], draw)
    el.append(box)
  }
  return {render}
})()

const Toasts = (() => {
  function render({ model, el }) {
    const stack = document.createElement('div')
    stack.className = 'stack'
    model.on('msg:custom', (msg) => {
      const toast = document.createElement('div')
      toast.className = `toast ${msg.kind}`
      toast.setAttribute('role', msg.kind === 'error' ? 'alert' : 'status')
      toast.textContent = msg.text
      stack.append(toast)
      setTimeout(() => toast.remove(), model.duration)
    })
    el.append(stack)
  }
  return {render}
})()

export default {Dialog, EventTable, HistoryReload, LabelledCheckbox, NavMenu, Notice, ProfileCards, Redirect, ServerSummary, SignedIn, SkipLink, StatusLine, TemplateTweaks, TextList, TextTable, Toasts}
