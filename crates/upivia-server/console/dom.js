// Building the page from data. Text from the API only ever becomes a text
// node (textContent), never markup.

/**
 * `h('button', {type: 'button', onclick: f}, 'Approve')`. Attributes named
 * `on…` are listeners; `class`, `for` and the rest are set as attributes;
 * children are nodes or strings (strings become text nodes).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A short, readable time in the browser's zone; the ISO string as a title. */
export function when(iso) {
  if (!iso) return h('span', {}, '—');
  const d = new Date(iso);
  return h('time', { datetime: iso, title: iso }, d.toLocaleString());
}

/** A message in the shared live region (read out by screen readers). */
export function toast(message, kind = 'info') {
  const el = document.getElementById('toast');
  el.className = `toast ${kind}`;
  el.textContent = message;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.textContent = ''; el.className = 'toast'; }, 6000);
}

/** Clears the live region (a message about the screen left behind). */
export function clearToast() {
  const el = document.getElementById('toast');
  clearTimeout(toast.timer);
  el.textContent = '';
  el.className = 'toast';
}

/** A definition list from pairs. */
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export function pretty(value) {
  return h('pre', { class: 'payload' }, JSON.stringify(value ?? null, null, 2));
}
