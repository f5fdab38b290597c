// Chat sessions: the people's conversations with agents, newest first, and
// one session's messages, read-only (tool calls and their results shown as
// the JSON the agent saw). Turns are taken in the terminal client or the SDK.

import { api, query } from './api.js';
import { h, fill, when, pretty } from './dom.js';

export async function render(main, params) {
  return params[0] ? session(main, params[0]) : list(main, params);
}

async function list(main) {
  const closed = h('input', { type: 'checkbox', id: 'chats-closed' });
  const empty = h('input', { type: 'checkbox', id: 'chats-empty' });
  const box = h('div', { id: 'chats-list', 'aria-live': 'polite' });
  const load = async () => {
    const { sessions } = await api('GET', `/chat/sessions${query({
      limit: 100,
      include_closed: closed.checked ? 'true' : '',
      include_empty: empty.checked ? 'true' : '',
    })}`);
    fill(box, sessions.length ? h('table', { class: 'grid', id: 'chats-table' },
      h('thead', {}, h('tr', {}, ['Session', 'Agent', 'Messages', 'Last message', 'Started', 'Closed'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, sessions.map((s) => h('tr', { 'data-session-id': s.id },
        h('td', {}, h('a', { href: `#/chats/${encodeURIComponent(s.id)}` }, s.title || 'Untitled session'), h('br'), h('code', { class: 'muted' }, s.id)),
        h('td', {}, s.agent_name ?? s.agent_id),
        h('td', { class: 'num' }, s.message_count),
        h('td', {}, when(s.last_message_at)),
        h('td', {}, when(s.created_at)),
        h('td', {}, s.closed_at ? when(s.closed_at) : '—')))))
      : h('p', { class: 'empty' }, 'No chat sessions.'));
  };
  const reload = () => load().catch((e) => fill(box, h('p', { class: 'error', role: 'alert' }, e.message)));
  closed.addEventListener('change', reload);
  empty.addEventListener('change', reload);
  fill(main,
    h('div', { class: 'heading' }, h('h1', {}, 'Chat sessions'),
      h('span', { class: 'check' }, closed, h('label', { for: 'chats-closed' }, 'Include closed')),
      h('span', { class: 'check' }, empty, h('label', { for: 'chats-empty' }, 'Include empty'))),
    box);
  await load();
}

/** A tool's result as indented JSON when it is JSON, else as it came. */
function content(m) {
  if (m.role === 'tool') {
    try { return pretty(JSON.parse(m.content)); } catch { /* plain text */ }
  }
  return h('p', { class: 'content' }, m.content);
}

function message(m) {
  const body = [];
  if (m.content) body.push(content(m));
  if (m.tool_calls) body.push(h('details', {}, h('summary', {}, 'Tool calls'), pretty(m.tool_calls)));
  const who = m.role === 'tool' ? `tool result${m.tool_name ? `: ${m.tool_name}` : ''}` : m.role;
  return h('li', { class: `message ${m.role}`, 'data-message-id': m.id, 'data-role': m.role },
    h('div', { class: 'meta' }, h('strong', {}, who), ' · ', when(m.created_at)),
    body.length ? body : h('p', { class: 'muted' }, '(empty)'));
}

async function session(main, id) {
  const { session: s, messages } = await api('GET', `/chat/sessions/${encodeURIComponent(id)}`);
  fill(main,
    h('p', {}, h('a', { href: '#/chats' }, '← All sessions')),
    h('div', { class: 'heading' }, h('h1', {}, s.title || 'Untitled session'),
      s.closed_at ? h('span', { class: 'badge disabled' }, 'closed') : h('span', { class: 'badge active' }, 'open')),
    h('p', { class: 'muted' },
      `With ${s.agent_name ?? s.agent_id}`, s.model_id ? ` on ${s.model_id}` : '', ` · ${s.message_count} messages · started `,
      when(s.created_at)),
    messages.length ? h('ol', { class: 'messages', id: 'messages', 'aria-label': 'Messages' }, messages.map(message))
      : h('p', { class: 'empty' }, 'No messages yet.'));
}
