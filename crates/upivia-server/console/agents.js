// Agents: the list with each one's health; the detail with its limits and
// service bindings, pause / resume, key rotation (the new key is shown
// once, here, and never again) and the monthly budget.

import { api } from './api.js';
import { h, fill, when, toast, facts } from './dom.js';
import { dollars, parseDollars, plainDollars } from './money.js';

export async function render(main, params) {
  return params[0] ? detail(main, params[0]) : list(main);
}

const cap = (cents) => (cents === null || cents === undefined ? 'no cap' : dollars(cents));
const count = (n) => (n === null || n === undefined ? 'no limit' : String(n));

async function list(main) {
  const [{ agents }, fleet] = await Promise.all([api('GET', '/agents'), api('GET', '/agents/health')]);
  const health = new Map((fleet.agents ?? []).map((a) => [a.agent_id, a]));
  const counts = fleet.counts ?? {};
  fill(main,
    h('div', { class: 'heading' }, h('h1', {}, 'Agents'),
      h('span', { class: 'muted' }, Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(' · '))),
    agents.length ? h('table', { class: 'grid', id: 'agents-table' },
      h('thead', {}, h('tr', {}, ['Agent', 'Status', 'Health', 'Error rate', 'Last activity', 'Monthly budget'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, agents.map((a) => {
        const hl = health.get(a.id);
        return h('tr', { 'data-agent-id': a.id },
          h('td', {}, h('a', { href: `#/agents/${encodeURIComponent(a.id)}` }, a.name), h('br'), h('code', { class: 'muted' }, a.id)),
          h('td', {}, h('span', { class: `badge ${a.status}` }, a.status)),
          h('td', {}, h('span', { class: `badge ${hl?.health ?? 'idle'}` }, hl?.health ?? 'unknown')),
          h('td', { class: 'num' }, hl && typeof hl.error_rate === 'number' ? `${Math.round(hl.error_rate * 100)}%` : '—'),
          h('td', {}, when(hl?.last_activity_at)),
          h('td', { class: 'num' }, cap(a.monthly_budget_cents)));
      })))
      : h('p', { class: 'empty' }, 'No agents yet.'));
}

async function detail(main, id) {
  const path = `/agents/${encodeURIComponent(id)}`;
  const [{ agent, services }, health] = await Promise.all([api('GET', path), api('GET', `${path}/health`).catch(() => null)]);
  const keyBox = h('div', { id: 'new-key', 'aria-live': 'polite' });

  const paused = agent.status === 'paused';
  const pause = h('button', { type: 'button', id: 'pause' }, paused ? 'Resume' : 'Pause');
  pause.addEventListener('click', async () => {
    try {
      await api('PATCH', path, { status: paused ? 'active' : 'paused' });
      toast(paused ? `${agent.name} resumed.` : `${agent.name} paused.`);
      await detail(main, id);
    } catch (e) { toast(e.message, 'error'); }
  });

  // Rotation takes two presses: the old key stops working at once.
  const rotate = h('button', { type: 'button', id: 'rotate', class: 'danger' }, 'Rotate key…');
  const confirm = h('button', { type: 'button', id: 'rotate-confirm', class: 'danger', hidden: true }, 'Rotate now: the old key stops working');
  const cancel = h('button', { type: 'button', id: 'rotate-cancel', hidden: true }, 'Cancel');
  rotate.addEventListener('click', () => { rotate.hidden = true; confirm.hidden = false; cancel.hidden = false; confirm.focus(); });
  cancel.addEventListener('click', () => { rotate.hidden = false; confirm.hidden = true; cancel.hidden = true; rotate.focus(); });
  confirm.addEventListener('click', async () => {
    confirm.disabled = true;
    try {
      const out = await api('PATCH', `${path}/key`, { confirm: true });
      const key = h('output', { id: 'api-key', class: 'secret', tabindex: '0' }, out.api_key);
      const copy = h('button', { type: 'button' }, 'Copy');
      copy.addEventListener('click', async () => {
        try { await navigator.clipboard.writeText(out.api_key); toast('Key copied.'); } catch { toast('Select the key and copy it.', 'error'); }
      });
      fill(keyBox, h('div', { class: 'card warn' },
        h('h2', {}, 'New API key'),
        h('p', {}, 'Shown once: store it now. The old key no longer works.'),
        key, ' ', copy));
      key.focus();
      confirm.hidden = true; cancel.hidden = true; rotate.hidden = false;
    } catch (e) {
      toast(e.message, 'error');
    } finally {
      confirm.disabled = false;
    }
  });

  const budgetError = h('p', { class: 'error', role: 'alert' });
  const budget = h('form', { id: 'budget', class: 'inline', 'aria-label': 'Monthly budget' },
    h('label', { for: 'budget-amount' }, 'Monthly budget ($, empty for no cap)'),
    h('input', { id: 'budget-amount', name: 'amount', inputmode: 'decimal',
      value: plainDollars(agent.monthly_budget_cents) }),
    h('button', { type: 'submit', class: 'primary' }, 'Save budget'), budgetError);
  budget.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    budgetError.textContent = '';
    try {
      const cents = parseDollars(budget.elements.amount.value);
      await api('PATCH', `${path}/budget`, { monthly_budget_cents: cents });
      toast(`Budget of ${agent.name}: ${cap(cents)}.`);
      await detail(main, id);
    } catch (e) { budgetError.textContent = e.message; }
  });

  fill(main,
    h('p', {}, h('a', { href: '#/agents' }, '← All agents')),
    h('div', { class: 'heading' }, h('h1', {}, agent.name), h('span', { class: `badge ${agent.status}` }, agent.status),
      health ? h('span', { class: `badge ${health.health}` }, health.health) : null),
    agent.description ? h('p', {}, agent.description) : null,
    h('section', { class: 'card', 'aria-labelledby': 'limits-title' },
      h('h2', { id: 'limits-title' }, 'Limits'),
      facts([
        ['Id', h('code', {}, agent.id)],
        ['Key mode', agent.key_mode],
        ['Monthly budget', cap(agent.monthly_budget_cents)],
        ['Requests per day', count(agent.daily_request_limit)],
        ['Requests per minute', count(agent.rate_limit_per_minute)],
        ['Created', when(agent.created_at)],
        ...(health ? [['Requests in window', `${health.requests} (${health.executed} executed, ${health.failed} failed, ${health.blocked} blocked)`]] : []),
      ]),
      budget),
    h('section', { class: 'card', 'aria-labelledby': 'actions-title' },
      h('h2', { id: 'actions-title' }, 'Actions'),
      h('div', { class: 'actions' }, pause, rotate, confirm, cancel),
      keyBox),
    h('section', { class: 'card', 'aria-labelledby': 'bindings-title' },
      h('h2', { id: 'bindings-title' }, 'Service bindings'),
      services.length ? h('table', { class: 'grid', id: 'bindings' },
        h('thead', {}, h('tr', {}, ['Service', 'Operation', 'Approval', 'Max cost', 'Monthly budget', 'Per day', 'Per minute'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, services.map((b) => h('tr', {},
          h('td', {}, b.service_id),
          h('td', {}, b.operation ?? 'all'),
          h('td', {}, b.require_approval ? 'always' : b.approval_threshold_cents !== null ? `above ${dollars(b.approval_threshold_cents)}` : 'never'),
          h('td', { class: 'num' }, cap(b.max_cost_cents)),
          h('td', { class: 'num' }, cap(b.monthly_budget_cents)),
          h('td', { class: 'num' }, count(b.daily_request_limit)),
          h('td', { class: 'num' }, count(b.rate_limit_per_minute))))))
        : h('p', { class: 'empty' }, 'No services enabled.')));
}
