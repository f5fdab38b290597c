// Teams and pools: every team the signed-in person may see, with its
// members and its budget pool (what its agents may still reserve, what was
// allocated, spent and held). Owners allocate money from the organisation
// balance to a pool; managers and admins add members.

import { api } from './api.js';
import { h, fill, when, toast, facts } from './dom.js';
import { dollars, parseDollars } from './money.js';

export async function render(main, params, me) {
  return params[0] ? detail(main, params[0], me) : list(main);
}

async function list(main) {
  const { teams } = await api('GET', '/teams');
  // Each pool is its own read; a team whose pool cannot be read shows a dash.
  const pools = await Promise.all(teams.map((t) =>
    api('GET', `/teams/${encodeURIComponent(t.id)}/budget`).then((b) => b.budget).catch(() => null)));
  fill(main,
    h('div', { class: 'heading' }, h('h1', {}, 'Teams and pools'),
      h('span', { class: 'muted' }, `${teams.length} team${teams.length === 1 ? '' : 's'}`)),
    teams.length ? h('table', { class: 'grid', id: 'teams-table' },
      h('thead', {}, h('tr', {}, ['Team', 'Your role', 'Members', 'Pool available', 'Allocated', 'Spent', 'Created']
        .map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, teams.map((t, i) => {
        const p = pools[i];
        return h('tr', { 'data-team-id': t.id },
          h('td', {}, h('a', { href: `#/teams/${encodeURIComponent(t.id)}` }, t.name),
            t.active ? [' ', h('span', { class: 'badge active' }, 'active team')] : null,
            h('br'), h('code', { class: 'muted' }, t.id)),
          h('td', {}, t.role),
          h('td', { class: 'num' }, t.member_count),
          h('td', { class: 'num' }, p ? dollars(p.available_cents) : '—'),
          h('td', { class: 'num' }, p ? dollars(p.allocated_cents) : '—'),
          h('td', { class: 'num' }, p ? dollars(p.spent_cents) : '—'),
          h('td', {}, when(t.created_at)));
      })))
      : h('p', { class: 'empty' }, 'No teams yet. Create one with POST /api/v1/teams or `upivia teams create`.'));
}

async function detail(main, id, me) {
  const path = `/teams/${encodeURIComponent(id)}`;
  const [{ team, members }, budget] = await Promise.all([
    api('GET', `${path}/members`),
    api('GET', `${path}/budget`).then((b) => b.budget).catch(() => null),
  ]);
  const again = () => detail(main, id, me);

  const pool = h('section', { class: 'card', 'aria-labelledby': 'pool-title', id: 'pool' },
    h('h2', { id: 'pool-title' }, 'Budget pool'),
    budget ? [
      h('p', { class: 'big', id: 'pool-available' }, dollars(budget.available_cents)),
      facts([
        ['Allocated in all', dollars(budget.allocated_cents)],
        ['Spent (settled)', dollars(budget.spent_cents)],
        ['Reserved by running requests', dollars(budget.reserved_cents)],
      ]),
    ] : h('p', { class: 'empty' }, 'You may not read this team\'s pool.'),
    me.role === 'owner' ? allocateForm(path, again) : null);

  const table = members.length ? h('table', { class: 'grid', id: 'members-table' },
    h('thead', {}, h('tr', {}, ['Member', 'Team role', 'Since'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, members.map((m) => h('tr', { 'data-member-id': m.id },
      h('td', {}, m.email ?? m.user_id),
      h('td', {}, h('span', { class: 'badge' }, m.role)),
      h('td', {}, when(m.created_at))))))
    : h('p', { class: 'empty' }, 'No members.');

  fill(main,
    h('p', {}, h('a', { href: '#/teams' }, '← All teams')),
    h('div', { class: 'heading' }, h('h1', {}, team.name), h('code', { class: 'muted' }, team.id)),
    pool,
    h('section', { class: 'card', 'aria-labelledby': 'members-title' },
      h('h2', { id: 'members-title' }, `Members (${members.length})`),
      table,
      addMemberForm(path, again)));
}

function allocateForm(path, again) {
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'inline', id: 'allocate', 'aria-label': 'Allocate to the pool' },
    h('label', { for: 'allocate-amount' }, 'Allocate from the balance ($)'),
    h('input', { id: 'allocate-amount', name: 'amount', inputmode: 'decimal', required: true, placeholder: '10.00' }),
    h('label', { for: 'allocate-note' }, 'Note'),
    h('input', { id: 'allocate-note', name: 'note', maxlength: 500 }),
    h('button', { type: 'submit', class: 'primary' }, 'Allocate'),
    error);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try {
      const cents = parseDollars(form.elements.amount.value);
      if (!cents) throw new Error('enter an amount above $0.00');
      await api('POST', `${path}/budget/allocate`, { amount_cents: cents, note: form.elements.note.value });
      toast(`Allocated ${dollars(cents)} to the pool.`);
      await again();
    } catch (e) { error.textContent = e.message; }
  });
  return form;
}

function addMemberForm(path, again) {
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'inline', id: 'add-member', 'aria-label': 'Add a member' },
    h('label', { for: 'member-email' }, 'Add by email'),
    h('input', { id: 'member-email', name: 'email', type: 'email', required: true }),
    h('label', { for: 'member-role' }, 'Role'),
    h('select', { id: 'member-role', name: 'role' }, ['worker', 'manager'].map((r) => h('option', { value: r }, r))),
    h('button', { type: 'submit' }, 'Add member'),
    error);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try {
      const email = form.elements.email.value.trim();
      await api('POST', `${path}/members`, { email, role: form.elements.role.value });
      toast(`${email} added.`);
      await again();
    } catch (e) { error.textContent = e.message; }
  });
  return form;
}
