// Workflow runs: the workflows, each one's runs, and a run's steps with
// their status, attempt, result and error. A failed step can be retried
// (only that step runs again; what completed is not re-run) or skipped
// (what follows runs as if it had); a run that has not finished can be
// cancelled. A run still moving is re-read every POLL_MS.

import { api, agentNames, ApiError } from './api.js';
import { h, fill, when, toast, facts, pretty } from './dom.js';
import { dollars } from './money.js';

const POLL_MS = 2000;
const FINISHED = new Set(['completed', 'failed', 'cancelled']);
const SKIPPABLE = new Set(['pending', 'waiting_approval', 'waiting_input', 'failed']);

export async function render(main, params) {
  if (params[1]) return run(main, params[0], params[1]);
  if (params[0]) return workflow(main, params[0]);
  return list(main);
}

const wfPath = (id) => `/workflows/${encodeURIComponent(id)}`;
const runHref = (wf, r) => `#/workflows/${encodeURIComponent(wf)}/${encodeURIComponent(r)}`;
const badge = (status) => h('span', { class: `badge ${status}` }, status.replaceAll('_', ' '));
const cost = (cents) => (Number.isSafeInteger(cents) ? dollars(cents) : '—');

function progress(r) {
  const steps = r.steps ?? [];
  const done = steps.filter((s) => s.status === 'completed' || s.status === 'skipped').length;
  return `${done} of ${steps.length}`;
}

async function list(main) {
  const [{ workflows }, names] = await Promise.all([api('GET', '/workflows'), agentNames()]);
  fill(main,
    h('div', { class: 'heading' }, h('h1', {}, 'Workflows'),
      h('span', { class: 'muted' }, `${workflows.length} workflow${workflows.length === 1 ? '' : 's'}`)),
    workflows.length ? h('table', { class: 'grid', id: 'workflows-table' },
      h('thead', {}, h('tr', {}, ['Workflow', 'Agent', 'Category', 'Status', 'Shared with', 'Updated'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, workflows.map((w) => h('tr', { 'data-workflow-id': w.id },
        h('td', {}, h('a', { href: `#/workflows/${encodeURIComponent(w.id)}` }, w.name), h('br'), h('code', { class: 'muted' }, w.id)),
        h('td', {}, names.get(w.agent_id) ?? w.agent_id),
        h('td', {}, w.category ?? '—'),
        h('td', {}, badge(w.status)),
        h('td', {}, w.share_scope ?? 'private'),
        h('td', {}, when(w.updated_at))))))
      : h('p', { class: 'empty' }, 'No workflows yet.'));
}

async function workflow(main, id) {
  const [{ workflow: w, versions }, { runs }] = await Promise.all([
    api('GET', wfPath(id)), api('GET', `${wfPath(id)}/runs`)]);
  fill(main,
    h('p', {}, h('a', { href: '#/workflows' }, '← All workflows')),
    h('div', { class: 'heading' }, h('h1', {}, w.name), badge(w.status)),
    w.description ? h('p', {}, w.description) : null,
    h('section', { class: 'card', 'aria-labelledby': 'wf-title' },
      h('h2', { id: 'wf-title' }, 'Workflow'),
      facts([
        ['Id', h('code', {}, w.id)],
        ['Versions', versions.map((v) => `v${v.version} ${v.status}`).join(', ') || 'none'],
        ['Category', w.category ?? '—'],
        ['Created', when(w.created_at)],
      ])),
    h('section', { class: 'card', 'aria-labelledby': 'runs-title' },
      h('h2', { id: 'runs-title' }, `Runs (${runs.length})`),
      runs.length ? h('table', { class: 'grid', id: 'runs-table' },
        h('thead', {}, h('tr', {}, ['Run', 'Status', 'Steps done', 'Triggered by', 'Started', 'Finished'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, runs.map((r) => h('tr', { 'data-run-id': r.id },
          h('td', {}, h('a', { href: runHref(w.id, r.id) }, h('code', {}, r.id)), r.test_run ? [' ', h('span', { class: 'badge' }, 'test')] : null),
          h('td', {}, badge(r.status)),
          h('td', { class: 'num' }, progress(r)),
          h('td', {}, r.triggered_by),
          h('td', {}, when(r.created_at)),
          h('td', {}, when(r.finished_at))))))
        : h('p', { class: 'empty' }, 'No runs yet.')));
}

async function run(main, wfId, runId) {
  const path = `${wfPath(wfId)}/runs/${encodeURIComponent(runId)}`;
  let timer = null;
  let shown = '';
  let busy = 0;
  let stopped = false;
  const status = h('div', { id: 'run-live', 'aria-live': 'polite' });

  async function act(label, url, done) {
    busy += 1;
    try {
      await api('POST', url, {});
      toast(done);
    } catch (e) {
      toast(`${label}: ${e.message}`, 'error');
    } finally {
      busy -= 1;
    }
    await refresh();
  }

  function stepRow(r, s) {
    const buttons = [];
    const stepUrl = `${path}/steps/${encodeURIComponent(s.step_id)}`;
    const name = s.label ?? s.step_id;
    if (s.status === 'failed') {
      buttons.push(h('button', { type: 'button', class: 'primary', 'data-action': 'retry', 'aria-label': `Retry step ${name}`,
        onclick: () => act('Retry', `${stepUrl}/retry`, `Step ${name} will run again.`) }, 'Retry'));
    }
    if (SKIPPABLE.has(s.status) && r.status !== 'completed' && r.status !== 'cancelled') {
      buttons.push(h('button', { type: 'button', 'data-action': 'skip', 'aria-label': `Skip step ${name}`,
        onclick: () => act('Skip', `${stepUrl}/skip`, `Step ${name} skipped.`) }, 'Skip'));
    }
    const result = s.result === null || s.result === undefined ? '—'
      : h('details', {}, h('summary', {}, 'Result'), pretty(s.result));
    return h('tr', { 'data-step-id': s.step_id },
      h('td', {}, s.label ? [s.label, h('br')] : null, h('code', { class: 'muted' }, s.step_id)),
      h('td', {}, s.step_type),
      h('td', {}, badge(s.status), s.skip_reason ? h('span', { class: 'muted' }, ` (${s.skip_reason})`) : null),
      h('td', { class: 'num', 'data-attempt': s.attempt }, s.attempt),
      h('td', {}, result, s.service_request_id ? [h('br'), h('code', { class: 'muted' }, s.service_request_id)] : null),
      h('td', { class: 'error-cell' }, s.error ?? ''),
      h('td', {}, h('div', { class: 'actions tight' }, buttons)));
  }

  function draw(r) {
    const actions = [];
    if (!FINISHED.has(r.status)) {
      actions.push(h('button', { type: 'button', class: 'danger', id: 'cancel-run',
        onclick: () => act('Cancel', `${path}/cancel`, 'Run cancelled.') }, 'Cancel run'));
    }
    if (r.status === 'failed') {
      actions.push(h('button', { type: 'button', id: 'rerun-failed',
        onclick: () => act('Re-run', `${path}/rerun-failed`, 'The failed steps will run again.') }, 'Re-run failed steps'));
    }
    fill(main,
      h('p', {}, h('a', { href: `#/workflows/${encodeURIComponent(wfId)}` }, `← ${r.workflow_name ?? 'Workflow'}`)),
      h('div', { class: 'heading' }, h('h1', {}, 'Run ', h('code', {}, r.id)),
        h('span', { id: 'run-status', 'data-status': r.status }, badge(r.status))),
      r.error ? h('p', { class: 'error', role: 'alert', id: 'run-error' }, r.error) : null,
      h('section', { class: 'card', 'aria-labelledby': 'run-title' },
        h('h2', { id: 'run-title' }, 'Run'),
        facts([
          ['Workflow', r.workflow_name ?? r.workflow_id],
          ['Version', h('code', {}, r.workflow_version_id)],
          ['Triggered by', r.triggered_by],
          ['Budget', r.budget_cents === null || r.budget_cents === undefined ? 'no cap' : dollars(r.budget_cents)],
          ['Spent', cost(r.spent_cents)],
          ['Started', when(r.created_at)],
          ['Finished', when(r.finished_at)],
        ]),
        h('details', {}, h('summary', {}, 'Input'), pretty(r.input)),
        actions.length ? h('div', { class: 'actions' }, actions) : null),
      h('section', { class: 'card', 'aria-labelledby': 'steps-title' },
        h('h2', { id: 'steps-title' }, `Steps (${progress(r)} done)`),
        h('table', { class: 'grid', id: 'steps-table' },
          h('thead', {}, h('tr', {}, ['Step', 'Type', 'Status', 'Attempt', 'Result', 'Error', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, (r.steps ?? []).map((s) => stepRow(r, s))))),
      status);
  }

  async function refresh() {
    try {
      const { run: r } = await api('GET', path);
      if (stopped) return;
      const key = JSON.stringify(r);
      if (key !== shown && !busy) {
        const focused = document.activeElement;
        const step = focused?.closest?.('[data-step-id]')?.dataset.stepId;
        const action = focused?.dataset?.action;
        const id = focused?.id;
        shown = key;
        draw(r);
        // Keep the keyboard where it was: the same button, or its row's
        // first button, or the page.
        const row = step ? main.querySelector(`[data-step-id="${CSS.escape(step)}"]`) : null;
        const again = (row && (row.querySelector(`[data-action="${action}"]`) ?? row.querySelector('button')))
          ?? (id ? document.getElementById(id) : null);
        if (focused && focused !== document.body) (again ?? main).focus();
      }
      clearTimeout(timer);
      if (!FINISHED.has(r.status)) timer = setTimeout(poll, POLL_MS);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) fill(status, h('p', { class: 'error', role: 'alert' }, e.message));
    }
  }

  function poll() {
    if (document.hidden) { timer = setTimeout(poll, POLL_MS); return; }
    refresh();
  }

  await refresh();
  return () => { stopped = true; clearTimeout(timer); };
}
