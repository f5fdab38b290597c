// Usage and spend: the balance, the last 14 days as a bar chart, totals
// per agent, and (for owners) adding credit.

import { api, agentNames } from './api.js';
import { h, fill, toast, facts } from './dom.js';
import { dollars, parseDollars } from './money.js';

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

/** Bars of cents per day; each bar's title says the amount. */
function chart(days) {
  const w = 28;
  const height = 160;
  const max = Math.max(1, ...days.map((d) => d.total_cents));
  const bars = days.map((d, i) => {
    const bh = Math.round((d.total_cents / max) * (height - 30));
    const label = `${d.date}: ${dollars(d.total_cents)} over ${d.requests} requests`;
    return svg('g', {},
      svg('rect', { x: i * w + 4, y: height - 20 - bh, width: w - 8, height: Math.max(bh, 1), class: 'bar' },
        svg('title', {}, label)),
      svg('text', { x: i * w + w / 2, y: height - 6, 'text-anchor': 'middle', class: 'tick' }, d.date.slice(8)));
  });
  const total = days.reduce((s, d) => s + d.total_cents, 0);
  return h('figure', { class: 'chart' },
    svg('svg', { viewBox: `0 0 ${days.length * w} ${height}`, role: 'img', 'aria-label': `Spend per day over ${days.length} days, ${dollars(total)} in all` }, ...bars),
    h('figcaption', {}, `Last ${days.length} days: ${dollars(total)} (highest day ${dollars(max === 1 && total === 0 ? 0 : max)}).`));
}

export async function render(main, _params, me) {
  const [balance, usage, names] = await Promise.all([
    api('GET', '/balance'),
    api('GET', '/usage?include_chart=1&limit=1'),
    agentNames(),
  ]);
  const perAgent = h('table', { class: 'grid', id: 'per-agent' },
    h('thead', {}, h('tr', {}, ['Agent', 'Requests', 'Spend'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, (usage.per_agent ?? []).map((a) => h('tr', {},
      h('td', {}, names.get(a.agent_id) ?? a.agent_id),
      h('td', { class: 'num' }, a.requests),
      h('td', { class: 'num' }, dollars(a.total_cents))))));
  const sections = [
    h('div', { class: 'heading' }, h('h1', {}, 'Usage and spend')),
    h('section', { class: 'card', 'aria-labelledby': 'bal-title' },
      h('h2', { id: 'bal-title' }, 'Balance'),
      h('p', { class: 'big', id: 'balance' }, dollars(balance.amount_cents)),
      facts([
        ['Credits', dollars(balance.credits_cents)],
        ['Spent (settled)', dollars(balance.settled_cents)],
        ['Reserved by running requests', dollars(balance.reserved_cents)],
      ])),
    h('section', { class: 'card', 'aria-labelledby': 'chart-title' },
      h('h2', { id: 'chart-title' }, 'Spend per day'), chart(usage.chart?.days ?? [])),
    h('section', { class: 'card', 'aria-labelledby': 'agents-title' },
      h('h2', { id: 'agents-title' }, 'Per agent (14 days)'),
      (usage.per_agent ?? []).length ? perAgent : h('p', { class: 'empty' }, 'No spend yet.')),
  ];
  if (me.role === 'owner') sections.push(creditForm(main, me));
  fill(main, ...sections);
}

function creditForm(main, me) {
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'card inline', id: 'credit', 'aria-labelledby': 'credit-title' },
    h('h2', { id: 'credit-title' }, 'Add credit'),
    h('label', { for: 'credit-amount' }, 'Amount ($)'),
    h('input', { id: 'credit-amount', name: 'amount', inputmode: 'decimal', required: true, placeholder: '25.00' }),
    h('label', { for: 'credit-note' }, 'Note'),
    h('input', { id: 'credit-note', name: 'note', maxlength: 500 }),
    h('button', { type: 'submit', class: 'primary' }, 'Add credit'),
    error);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try {
      const cents = parseDollars(form.elements.amount.value);
      if (!cents) throw new Error('enter an amount above $0.00');
      await api('POST', '/balance/credits', { amount_cents: cents, note: form.elements.note.value });
      toast(`Credited ${dollars(cents)}.`);
      await render(main, [], me);
    } catch (e) {
      error.textContent = e.message;
    }
  });
  return form;
}
