// The audit trail: filters (agent, service, status, time), cursor paging
// (newest first; "Older" follows next_cursor, "Newer" goes back through
// the cursors already seen) and the chain's verification status.

import { api, query, agentNames, ApiError } from './api.js';
import { h, fill, when, pretty } from './dom.js';
import { dollars } from './money.js';

const PAGE = 20;

export async function render(main) {
  const names = await agentNames();
  const agent = h('select', { id: 'audit-agent', name: 'agent_id' },
    h('option', { value: '' }, 'Any agent'),
    [...names].map(([id, name]) => h('option', { value: id }, `${name} (${id})`)));
  const form = h('form', { class: 'filters', id: 'audit-filters', 'aria-label': 'Filter the audit trail' },
    h('label', { for: 'audit-agent' }, 'Agent'), agent,
    h('label', { for: 'audit-service' }, 'Service'),
    h('input', { id: 'audit-service', name: 'service', placeholder: 'e.g. email' }),
    h('label', { for: 'audit-status' }, 'Status'),
    h('input', { id: 'audit-status', name: 'status', placeholder: 'e.g. executed' }),
    h('label', { for: 'audit-from' }, 'From'),
    h('input', { id: 'audit-from', name: 'from', type: 'date' }),
    h('label', { for: 'audit-to' }, 'To'),
    h('input', { id: 'audit-to', name: 'to', type: 'date' }),
    h('button', { type: 'submit', class: 'primary' }, 'Filter'));
  const chain = h('p', { id: 'chain-status', class: 'chain', role: 'status' }, 'Chain not checked yet.');
  const verify = h('button', { type: 'button', id: 'verify-chain' }, 'Verify chain');
  const table = h('div', { id: 'audit-table' });
  const newer = h('button', { type: 'button', id: 'audit-newer', disabled: true }, '← Newer');
  const older = h('button', { type: 'button', id: 'audit-older', disabled: true }, 'Older →');
  const where = h('span', { id: 'audit-page', class: 'muted' });
  fill(main,
    h('div', { class: 'heading' }, h('h1', {}, 'Audit trail')),
    h('div', { class: 'chainbar' }, chain, verify),
    form, table,
    h('nav', { class: 'pager', 'aria-label': 'Audit pages' }, newer, where, older));

  // cursors[i] is what fetched page i (undefined for the first).
  let cursors = [undefined];
  let next = null;

  function filters() {
    const f = form.elements;
    const day = (v, end) => (v ? new Date(`${v}T00:00:00Z`).getTime() + (end ? 86400000 : 0) : null);
    const from = day(f.from.value, false);
    const to = day(f.to.value, true);
    return {
      agent_id: f.agent_id.value,
      service: f.service.value.trim(),
      status: f.status.value.trim(),
      from: from === null ? '' : new Date(from).toISOString(),
      to: to === null ? '' : new Date(to).toISOString(),
    };
  }

  async function load() {
    const cursor = cursors[cursors.length - 1];
    table.setAttribute('aria-busy', 'true');
    try {
      const out = await api('GET', `/audit-logs${query({ ...filters(), limit: PAGE, cursor })}`);
      next = out.next_cursor;
      fill(table, out.logs.length ? rows(out.logs, names) : h('p', { class: 'empty' }, 'No entries match.'));
      newer.disabled = cursors.length <= 1;
      older.disabled = !next;
      where.textContent = `Page ${cursors.length}`;
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) fill(table, h('p', { class: 'error', role: 'alert' }, e.message));
    } finally {
      table.setAttribute('aria-busy', 'false');
    }
  }

  form.addEventListener('submit', (ev) => { ev.preventDefault(); cursors = [undefined]; load(); });
  older.addEventListener('click', () => { if (next) { cursors.push(next); load(); } });
  newer.addEventListener('click', () => { if (cursors.length > 1) { cursors.pop(); load(); } });
  verify.addEventListener('click', async () => {
    verify.disabled = true;
    chain.textContent = 'Verifying…';
    try {
      const r = await api('GET', '/admin/audit/verify');
      chain.className = `chain ${r.ok ? 'ok' : 'bad'}`;
      chain.textContent = r.ok
        ? `Chain intact: ${r.entries_checked} entries and ${r.checkpoints_checked} signed checkpoints verified${r.unsigned_entries ? `, ${r.unsigned_entries} entries after the last checkpoint` : ''}.`
        : `Chain broken at entry ${r.first_break?.seq} (${r.first_break?.reason ?? 'unknown reason'}).`;
    } catch (e) {
      chain.className = 'chain';
      chain.textContent = e.status === 403 ? 'Verification is for the operator\u2019s owners and admins.' : `Could not verify: ${e.message}`;
    } finally {
      verify.disabled = false;
    }
  });
  await load();
}

function rows(logs, names) {
  return h('table', { class: 'grid' },
    h('thead', {}, h('tr', {}, ['Time', 'Event', 'Agent', 'Service', 'Status', 'Cost', 'Details'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, logs.map((l) => h('tr', { 'data-audit-id': l.id },
      h('td', {}, when(l.created_at)),
      h('td', {}, h('code', {}, l.event_type)),
      h('td', {}, l.agent_id ? (names.get(l.agent_id) ?? l.agent_id) : '—'),
      h('td', {}, l.service ? `${l.service}${l.operation ? `.${l.operation}` : ''}` : '—'),
      h('td', {}, l.status ?? '—'),
      h('td', { class: 'num' }, l.cost_cents === null || l.cost_cents === undefined ? '—' : dollars(l.cost_cents)),
      h('td', {}, l.details && Object.keys(l.details).length
        ? h('details', {}, h('summary', {}, 'details'), pretty(l.details)) : '')))));
}
