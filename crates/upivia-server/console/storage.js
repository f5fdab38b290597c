// Storage: the organisation's files, newest first, with a download link
// (the server answers it with a short-lived signed URL) and delete, which
// asks once more. A deleted file can be restored while the server keeps it.

import { api, query } from './api.js';
import { h, fill, when, toast } from './dom.js';

const PAGE = 50;

/** `1536` → `"1.5 KB"`: sizes in bytes for a person to read. */
export function size(bytes) {
  if (!Number.isSafeInteger(bytes) || bytes < 0) return '—';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let n = bytes / 1024;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n < 10 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}

export async function render(main) {
  const table = h('div', { id: 'storage-list', 'aria-live': 'polite' });
  fill(main,
    h('div', { class: 'heading' }, h('h1', {}, 'Storage')),
    h('p', { class: 'muted' }, 'Files uploaded by agents and people. Upload with POST /api/v1/storage/objects or an SDK.'),
    table);
  await page(table, null, []);
}

async function page(box, cursor, shown) {
  const out = await api('GET', `/storage/objects${query({ limit: PAGE, cursor })}`);
  const rows = shown.concat(out.objects);
  const more = out.next_cursor
    ? h('button', { type: 'button', id: 'storage-more', onclick: () => page(box, out.next_cursor, rows) }, 'More files')
    : null;
  fill(box,
    rows.length ? h('table', { class: 'grid', id: 'storage-table' },
      h('thead', {}, h('tr', {}, ['File', 'Type', 'Size', 'Status', 'Created', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows.map(row)))
      : h('p', { class: 'empty' }, 'No files stored.'),
    more);
}

function row(o) {
  const actions = h('div', { class: 'actions tight' });
  const status = h('span', { class: `badge ${o.status}`, 'data-status': o.status }, o.status);
  const tr = h('tr', { 'data-object-id': o.id },
    h('td', {}, o.filename, h('br'), h('code', { class: 'muted' }, o.id)),
    h('td', {}, o.content_type),
    h('td', { class: 'num', title: `${o.size_bytes} bytes` }, size(o.size_bytes)),
    h('td', {}, status),
    h('td', {}, when(o.created_at)),
    h('td', {}, actions));
  const path = `/storage/objects/${encodeURIComponent(o.id)}`;

  function live() {
    // A plain link: the browser sends the session cookie, the server
    // answers 302 to the signed URL, which serves the file as an attachment.
    const download = h('a', { href: `/api/v1${path}/download`, download: o.filename, class: 'button',
      'aria-label': `Download ${o.filename}` }, 'Download');
    const del = h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${o.filename}` }, 'Delete…');
    del.addEventListener('click', () => confirming());
    fill(actions, download, del);
    return del;
  }

  function confirming() {
    const yes = h('button', { type: 'button', class: 'danger', 'data-action': 'confirm-delete' }, `Delete ${o.filename}`);
    const no = h('button', { type: 'button' }, 'Keep');
    no.addEventListener('click', () => live().focus());
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      try {
        const out = await api('DELETE', path);
        toast(`${o.filename} deleted.`);
        deleted(out.object?.restorable_until).focus();
      } catch (e) {
        toast(e.message, 'error');
        yes.disabled = false;
      }
    });
    fill(actions, yes, no);
    yes.focus();
  }

  function deleted(until) {
    status.className = 'badge deleted';
    status.dataset.status = 'deleted';
    status.textContent = 'deleted';
    const restore = h('button', { type: 'button', 'aria-label': `Restore ${o.filename}` }, 'Restore');
    restore.addEventListener('click', async () => {
      try {
        await api('POST', `${path}/restore`, {});
        toast(`${o.filename} restored.`);
        status.className = 'badge live';
        status.dataset.status = 'live';
        status.textContent = 'live';
        live().focus();
      } catch (e) { toast(e.message, 'error'); }
    });
    fill(actions, restore, until ? h('span', { class: 'muted' }, ' until ', when(until)) : null);
    return restore;
  }

  if (o.status === 'live') live();
  else if (o.status === 'deleted') deleted(null);
  else if (o.status === 'pending') {
    const del = h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${o.filename}` }, 'Delete…');
    del.addEventListener('click', () => confirming());
    fill(actions, h('span', { class: 'muted' }, 'upload not confirmed '), del);
  }
  return tr;
}
