// Triggers and scheduled tasks: what fires requests without a person or an
// agent asking at that moment. Each row shows when it runs next and when it
// last fired; a trigger is enabled or disabled, a task paused or resumed.

import { api, agentNames, query } from './api.js';
import { h, fill, when, toast } from './dom.js';

const PAGE = 50;

export async function render(main) {
  const names = await agentNames();
  const triggers = h('section', { class: 'card', 'aria-labelledby': 'triggers-title', id: 'triggers' });
  const tasks = h('section', { class: 'card', 'aria-labelledby': 'tasks-title', id: 'tasks' });
  fill(main,
    h('div', { class: 'heading' }, h('h1', {}, 'Triggers and schedules')),
    h('p', { class: 'muted' }, 'Triggers fire on a webhook call or a cron schedule; scheduled tasks send one request at a time or on a schedule. Both go through the same governance as an agent\'s own requests.'),
    triggers, tasks);
  await Promise.all([triggerList(triggers, names), taskList(tasks, names)]);
}

const agent = (names, id) => names.get(id) ?? id;

async function triggerList(section, names, cursor = null, shown = []) {
  const page = await api('GET', `/triggers${query({ limit: PAGE, cursor })}`);
  const rows = shown.concat(page.triggers);
  const again = async (id, disabled) => {
    try {
      await api('PATCH', `/triggers/${encodeURIComponent(id)}`, { disabled });
      toast(`Trigger ${id} ${disabled ? 'disabled' : 'enabled'}.`);
    } catch (e) { toast(e.message, 'error'); }
    await triggerList(section, names);
    section.querySelector(`[data-trigger-id="${CSS.escape(id)}"] button`)?.focus();
  };
  const more = page.next_cursor
    ? h('button', { type: 'button', onclick: () => triggerList(section, names, page.next_cursor, rows) }, 'More triggers')
    : null;
  fill(section,
    h('h2', { id: 'triggers-title' }, `Triggers (${rows.length}${page.next_cursor ? '+' : ''})`),
    rows.length ? h('table', { class: 'grid', id: 'triggers-table' },
      h('thead', {}, h('tr', {}, ['Trigger', 'Agent', 'Operation', 'Fires on', 'State', 'Next run', 'Last fired', 'Fires', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows.map((t) => h('tr', { 'data-trigger-id': t.id },
        h('td', {}, h('code', {}, t.id), h('br'), h('span', { class: 'muted' }, t.kind)),
        h('td', {}, agent(names, t.agent_id)),
        h('td', {}, h('code', {}, t.operation)),
        h('td', {}, t.kind === 'cron'
          ? [h('code', {}, t.schedule_expr ?? ''), t.timezone ? h('span', { class: 'muted' }, ` ${t.timezone}`) : null]
          : h('span', { class: 'muted' }, 'signed webhook call')),
        h('td', {}, h('span', { class: `badge ${t.disabled ? 'disabled' : 'active'}`, 'data-state': t.disabled ? 'disabled' : 'enabled' },
          t.disabled ? 'disabled' : 'enabled')),
        h('td', { class: 'next-run' }, t.kind === 'cron' ? when(t.next_run_at) : '—'),
        h('td', {}, when(t.last_fired_at), t.last_dispatch_status ? h('span', { class: 'muted' }, ` (${t.last_dispatch_status})`) : null),
        h('td', { class: 'num' }, t.fire_count ?? 0),
        h('td', {}, h('button', { type: 'button', class: t.disabled ? 'primary' : '', 'aria-label': `${t.disabled ? 'Enable' : 'Disable'} trigger ${t.id}`,
          onclick: () => again(t.id, !t.disabled) }, t.disabled ? 'Enable' : 'Disable'))))))
      : h('p', { class: 'empty' }, 'No triggers.'),
    more);
}

async function taskList(section, names, offset = 0, shown = []) {
  const page = await api('GET', `/scheduled-tasks${query({ limit: PAGE, offset })}`);
  const rows = shown.concat(page.tasks);
  const again = async (id, status) => {
    try {
      await api('PATCH', `/scheduled-tasks/${encodeURIComponent(id)}`, { status });
      toast(`Task ${status === 'paused' ? 'paused' : 'resumed'}.`);
    } catch (e) { toast(e.message, 'error'); }
    await taskList(section, names);
    section.querySelector(`[data-task-id="${CSS.escape(id)}"] button`)?.focus();
  };
  const more = rows.length < page.total
    ? h('button', { type: 'button', onclick: () => taskList(section, names, offset + PAGE, rows) }, 'More tasks')
    : null;
  fill(section,
    h('h2', { id: 'tasks-title' }, `Scheduled tasks (${page.total})`),
    rows.length ? h('table', { class: 'grid', id: 'tasks-table' },
      h('thead', {}, h('tr', {}, ['Task', 'Agent', 'Operation', 'When', 'Status', 'Next run', 'Last run', 'Runs', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows.map((t) => {
        let action = null;
        if (t.status === 'active' || t.status === 'paused') {
          const pause = t.status === 'active';
          action = h('button', { type: 'button', class: pause ? '' : 'primary', 'aria-label': `${pause ? 'Pause' : 'Resume'} task ${t.name}`,
            onclick: () => again(t.id, pause ? 'paused' : 'active') }, pause ? 'Pause' : 'Resume');
        }
        return h('tr', { 'data-task-id': t.id },
          h('td', {}, t.name, h('br'), h('code', { class: 'muted' }, t.id)),
          h('td', {}, agent(names, t.agent_id)),
          h('td', {}, h('code', {}, `${t.service}.${t.operation}`)),
          h('td', {}, t.recurring ? h('code', {}, t.schedule) : ['once at ', when(t.run_at)],
            t.timezone ? h('span', { class: 'muted' }, ` ${t.timezone}`) : null),
          h('td', {}, h('span', { class: `badge ${t.status}`, 'data-status': t.status }, t.status)),
          h('td', { class: 'next-run' }, when(t.next_run_at)),
          h('td', {}, when(t.last_run_at)),
          h('td', { class: 'num' }, t.run_count ?? 0),
          h('td', {}, action));
      })))
      : h('p', { class: 'empty' }, 'No scheduled tasks.'),
    more);
}
