// The approvals inbox: what each agent asked for, what it would cost, the
// payload, the binding rule that held it for a person, and approve /
// reject. It refreshes by polling every POLL_MS while the screen is shown
// (and the tab visible); the server has no push channel for the inbox.

import { api, query, ApiError } from './api.js';
import { h, fill, when, toast, pretty, facts } from './dom.js';
import { dollars } from './money.js';

const POLL_MS = 4000;

/** Why a request waited: the agent's binding for that operation. */
async function gate(cache, row) {
  if (!cache.has(row.agent_id)) {
    cache.set(row.agent_id, api('GET', `/agents/${encodeURIComponent(row.agent_id)}`).catch(() => null));
  }
  const detail = await cache.get(row.agent_id);
  const b = detail?.services?.find((s) => s.service_id === row.service && (s.operation === row.operation || s.operation === null))
    ?? detail?.services?.find((s) => s.service_id === row.service);
  if (!b) return row.kind === 'outcome_unknown' ? 'provider outcome unknown: review what was charged' : 'approval required';
  const rules = [];
  if (b.require_approval) rules.push(`binding ${b.service_id}.${b.operation ?? '*'} requires approval`);
  if (b.approval_threshold_cents !== null && b.approval_threshold_cents !== undefined) {
    rules.push(`approval above ${dollars(b.approval_threshold_cents)}`);
  }
  if (b.max_cost_cents !== null && b.max_cost_cents !== undefined) rules.push(`max cost ${dollars(b.max_cost_cents)}`);
  return rules.length ? rules.join('; ') : 'approval required';
}

export async function render(main) {
  const status = h('select', { id: 'approval-status', name: 'status' },
    ['pending', 'approved', 'rejected', 'expired', 'all'].map((s) => h('option', { value: s }, s)));
  const list = h('div', { id: 'approvals-list', 'aria-live': 'polite', 'aria-busy': 'true' });
  const updated = h('span', { class: 'muted', id: 'approvals-updated' });
  fill(main,
    h('div', { class: 'heading' },
      h('h1', {}, 'Approvals'),
      h('label', { for: 'approval-status' }, 'Show'), status,
      updated),
    h('p', { class: 'muted' }, `Requests held for a person. The list refreshes every ${POLL_MS / 1000} seconds.`),
    list);

  const gates = new Map();
  // Decisions made on this screen: their cards stay, with the outcome,
  // after the list (of pending approvals) no longer holds them.
  const decided = new Map();
  let busy = 0;
  let shown = '';
  let timer = null;

  function outcomeLine(out) {
    const line = out.status === 'executed'
      ? `executed, cost ${dollars(out.cost_cents ?? out.actual_cost_cents ?? 0)}`
      : `${out.status}${out.message ? `: ${out.message}` : ''}`;
    return h('strong', { class: `outcome ${out.status}`, 'data-outcome': out.status }, line);
  }

  async function decide(row, verb, buttons, result) {
    busy += 1;
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const out = await api('POST', `/approvals/${encodeURIComponent(row.id)}/${verb}`, {});
      decided.set(row.id, { row: { ...row, status: verb === 'approve' ? 'approved' : 'rejected' }, out });
      buttons.forEach((b) => b.remove());
      fill(result, outcomeLine(out));
      toast(`${verb === 'approve' ? 'Approved' : 'Rejected'} ${row.service}.${row.operation}: ${out.status}.`);
    } catch (e) {
      buttons.forEach((b) => { b.disabled = false; });
      fill(result, h('span', { class: 'error', role: 'alert' }, e.message));
    } finally {
      busy -= 1;
    }
  }

  function card(row, policy) {
    const result = h('p', { class: 'result', role: 'status' });
    const done = decided.get(row.id);
    if (done) fill(result, outcomeLine(done.out));
    const open = row.status === 'pending' && row.kind !== 'outcome_unknown' && !done;
    const approve = h('button', { type: 'button', class: 'primary', 'data-action': 'approve' }, 'Approve');
    const reject = h('button', { type: 'button', class: 'danger', 'data-action': 'reject' }, 'Reject');
    approve.addEventListener('click', () => decide(row, 'approve', [approve, reject], result));
    reject.addEventListener('click', () => decide(row, 'reject', [approve, reject], result));
    return h('article', { class: 'card approval', 'data-approval-id': row.id, 'aria-labelledby': `t-${row.id}` },
      h('h2', { id: `t-${row.id}` }, `${row.agent_name ?? row.agent_id} asks: ${row.service}.${row.operation}`),
      facts([
        ['Estimated cost', dollars(row.estimated_cost_cents)],
        ['Gated by', policy],
        ['Status', done ? done.row.status : row.status],
        ['Requested', when(row.created_at)],
        ['Expires', when(row.expires_at)],
        ['Request', h('code', {}, row.request_id)],
      ]),
      h('details', { open: true }, h('summary', {}, 'Payload'), pretty(row.payload)),
      open ? h('div', { class: 'actions' }, approve, reject) : null,
      result);
  }

  async function refresh() {
    try {
      const { approvals } = await api('GET', `/approvals${query({ status: status.value })}`);
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
      const rows = approvals.slice();
      for (const [id, d] of decided) if (!rows.some((a) => a.id === id)) rows.push(d.row);
      const key = status.value + JSON.stringify(rows.map((a) => [a.id, a.status, decided.has(a.id)]));
      // Leave the cards alone while nothing changed or a decision is in
      // flight, so keyboard focus is not thrown away.
      if (key === shown || busy) return;
      const focused = document.activeElement?.closest?.('[data-approval-id]')?.dataset.approvalId;
      shown = key;
      const cards = await Promise.all(rows.map(async (a) => card(a, await gate(gates, a))));
      fill(list, cards.length ? cards : h('p', { class: 'empty' }, `No ${status.value === 'all' ? '' : status.value} approvals.`));
      list.setAttribute('aria-busy', 'false');
      if (focused) list.querySelector(`[data-approval-id="${CSS.escape(focused)}"] button`)?.focus();
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) fill(list, h('p', { class: 'error', role: 'alert' }, e.message));
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (!document.hidden) await refresh();
      schedule();
    }, POLL_MS);
  }

  status.addEventListener('change', () => { shown = ''; decided.clear(); refresh(); });
  await refresh();
  schedule();
  return () => clearTimeout(timer);
}
