// The console in a real browser against a real server: sign in, approve a
// held request and see it executed, filter and page the audit trail,
// rotate a key (shown once; the old one refused), pause, resume and budget
// an agent, the balance in dollars and adding credit, teams and their
// pools, workflow runs (skip, retry, cancel), triggers and scheduled tasks
// (enable, disable, pause, resume), storage (download, delete) and chat
// sessions. Every screen's data is set up through the HTTP API and every
// action is checked on the server. Any page error or console error fails
// the run.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { chromium } from 'playwright-core';

const SHOTS = process.env.CONSOLE_SHOTS;
let server, base, creds, dir, browser, page;
const problems = [];

const freePort = () => new Promise((ok) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
});

async function rest(method, path, token, body) {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': `c-${Math.random()}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'upivia-console-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(process.env.UPIVIA_BIN, ['serve', '--dev', '--data-dir', join(dir, 'data'), '--listen', `127.0.0.1:${port}`],
    { stdio: 'ignore' });
  const credsPath = join(dir, 'data', 'initial-credentials.json');
  for (let i = 0; i < 600; i++) {
    try { if ((await fetch(`${base}/api/v1/healthz`)).ok && existsSync(credsPath)) break; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  creds = JSON.parse(readFileSync(credsPath, 'utf8'));
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await (await browser.newContext({ viewport: { width: 1200, height: 900 } })).newPage();
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) await new Promise((r) => { server.once('exit', r); server.kill('SIGTERM'); });
  if (dir) rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(problems, [], 'no page or console errors');
});

const shot = (name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

let agent;
test('sign in', async () => {
  // An agent whose email binding needs a person's approval.
  const made = await rest('POST', '/agents', creds.pat, { name: 'console-agent' });
  assert.equal(made.status, 200, JSON.stringify(made.body));
  agent = { id: made.body.agent.id, key: made.body.api_key };
  const bound = await rest('POST', `/agents/${agent.id}/services`, creds.pat, { service_id: 'email', require_approval: true });
  assert.equal(bound.status, 200, JSON.stringify(bound.body));

  await page.goto(base + '/');
  await page.getByLabel('Email').fill(creds.email);
  await page.getByLabel('Password').fill(creds.password);
  await shot('sign-in');
  await page.getByLabel('Password').press('Enter');
  await page.getByRole('heading', { name: 'Approvals' }).waitFor();
});

test('approve a pending request and see it executed', async () => {
  const asked = await rest('POST', '/service-requests', agent.key,
    { service: 'email', operation: 'send', payload: { to: 'ada@example.com', subject: 'Console', body: 'Hi' } });
  assert.equal(asked.body.status, 'approval_required', JSON.stringify(asked.body));
  const card = page.locator(`[data-approval-id="${asked.body.approval_id}"]`);
  await card.waitFor({ timeout: 15000 }); // arrives by polling
  await shot('approvals');
  await card.getByRole('button', { name: 'Approve' }).click();
  await card.locator('[data-outcome="executed"]').waitFor();
  const after = await rest('GET', `/service-requests/${asked.body.request_id}`, agent.key);
  assert.equal(after.body.status, 'executed', JSON.stringify(after.body));
});

test('filter and page the audit trail', async () => {
  for (let i = 0; i < 22; i++) {
    await rest('POST', '/service-requests', await devKey(), { service: 'email', operation: 'send', payload: { to: 'b@example.com', subject: `n${i}`, body: 'x' } });
  }
  await page.getByRole('link', { name: 'Audit trail' }).click();
  await page.locator('#audit-table table').waitFor();
  await page.locator('#audit-agent').selectOption(agent.id);
  await page.locator('#audit-service').fill('email');
  await page.locator('#audit-service').press('Enter');
  await page.waitForFunction(() => document.querySelector('#audit-table')?.getAttribute('aria-busy') === 'false');
  const rows = page.locator('#audit-table tbody tr');
  assert.ok(await rows.count() >= 1);
  await page.locator('#verify-chain').click();
  await page.locator('#chain-status.ok').waitFor();
  await shot('audit');
  // Paging over everything: page 2 exists after 22+ requests.
  await page.locator('#audit-agent').selectOption('');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForFunction(() => !document.querySelector('#audit-older')?.disabled);
  await page.locator('#audit-older').click();
  await page.locator('#audit-page', { hasText: 'Page 2' }).waitFor();
  await page.locator('#audit-newer').click();
  await page.locator('#audit-page', { hasText: 'Page 1' }).waitFor();
});

let devAgentKey;
async function devKey() {
  if (devAgentKey) return devAgentKey;
  const made = await rest('POST', '/agents', creds.pat, { name: 'busy-agent' });
  await rest('POST', `/agents/${made.body.agent.id}/services`, creds.pat, { service_id: 'email' });
  devAgentKey = made.body.api_key;
  return devAgentKey;
}

test('rotate an agent key: the new key shown once, the old one refused', async () => {
  await page.getByRole('link', { name: 'Agents' }).click();
  await page.locator('#agents-table').waitFor();
  await shot('agents');
  await page.getByRole('link', { name: 'console-agent' }).click();
  await page.locator('#rotate').click();
  await page.locator('#rotate-confirm').click();
  const key = (await page.locator('#api-key').textContent()).trim();
  assert.notEqual(key, agent.key);
  await shot('agent-detail');
  const old = await rest('GET', `/service-requests/req_x`, agent.key);
  assert.equal(old.status, 401, JSON.stringify(old.body));
  const fresh = await rest('POST', '/service-requests', key, { service: 'email', operation: 'send', payload: { to: 'c@example.com', subject: 's', body: 'b' } });
  assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
  await page.reload();
  await page.locator('#rotate').waitFor();
  assert.equal(await page.locator('#api-key').count(), 0, 'the key is not shown again');
});

test('pause and resume an agent, and change its monthly budget', async () => {
  await page.getByRole('link', { name: 'Agents', exact: true }).click();
  await page.getByRole('link', { name: 'console-agent' }).click();
  await page.locator('#pause', { hasText: 'Pause' }).click();
  await page.locator('#pause', { hasText: 'Resume' }).waitFor();
  assert.equal((await rest('GET', `/agents/${agent.id}`, creds.pat)).body.agent.status, 'paused');
  await page.locator('.heading .badge.paused').waitFor();
  await page.locator('#pause').click();
  await page.locator('#pause', { hasText: 'Pause' }).waitFor();
  assert.equal((await rest('GET', `/agents/${agent.id}`, creds.pat)).body.agent.status, 'active');

  await page.locator('#budget-amount').fill('12.34');
  await page.locator('#budget-amount').press('Enter');
  await page.locator('#budget-amount[value="12.34"]').waitFor();
  assert.equal((await rest('GET', `/agents/${agent.id}`, creds.pat)).body.agent.monthly_budget_cents, 1234);
  assert.match(await page.locator('.facts').first().textContent(), /\$12\.34/);
  // Empty is no cap.
  await page.locator('#budget-amount').fill('');
  await page.getByRole('button', { name: 'Save budget' }).click();
  await page.locator('#budget-amount[value=""]').waitFor();
  assert.match(await page.locator('.facts').first().textContent(), /Monthly budgetno cap/);
  assert.equal((await rest('GET', `/agents/${agent.id}`, creds.pat)).body.agent.monthly_budget_cents, null);
});

test('usage shows the balance in dollars', async () => {
  await page.getByRole('link', { name: 'Usage and spend' }).click();
  const text = (await page.locator('#balance').textContent()).trim();
  assert.match(text, /^\$\d{1,3}(,\d{3})*\.\d{2}$/);
  const cents = (await rest('GET', '/balance', creds.pat)).body.amount_cents;
  assert.equal(text, `$${Math.floor(cents / 100).toLocaleString('en-US')}.${String(cents % 100).padStart(2, '0')}`);
  await shot('usage');
});

const dollars = (cents) => `${cents < 0 ? '-' : ''}$${Math.floor(Math.abs(cents) / 100).toLocaleString('en-US')}.${String(Math.abs(cents) % 100).padStart(2, '0')}`;

test('add credit from the usage screen', async () => {
  const before = (await rest('GET', '/balance', creds.pat)).body;
  await page.getByRole('link', { name: 'Usage and spend' }).click();
  await page.locator('#credit-amount').fill('25.50');
  await page.locator('#credit-note').fill('console test');
  await page.getByRole('button', { name: 'Add credit' }).click();
  await page.locator('#balance', { hasText: dollars(before.amount_cents + 2550) }).waitFor();
  const after = (await rest('GET', '/balance', creds.pat)).body;
  assert.equal(after.amount_cents, before.amount_cents + 2550);
  assert.equal(after.credits_cents, before.credits_cents + 2550);
  // Not an amount: refused in the page, nothing sent.
  await page.locator('#credit-amount').fill('12.345');
  await page.getByRole('button', { name: 'Add credit' }).click();
  await page.locator('#credit .error', { hasText: 'not an amount' }).waitFor();
  assert.equal((await rest('GET', '/balance', creds.pat)).body.credits_cents, after.credits_cents);
});

/** Polls `f` until it returns something truthy (or fails after 20 s). */
async function until(what, f) {
  for (let i = 0; i < 200; i++) {
    const v = await f();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never: ${what}`);
}

test('teams: members and the budget pool, allocating to it', async () => {
  const team = await rest('POST', '/teams', creds.pat, { name: 'Support' });
  assert.equal(team.status, 200, JSON.stringify(team.body));
  const teamId = team.body.team.id;
  const person = await rest('POST', '/members', creds.pat, { email: 'wendy@example.com', role: 'member' });
  assert.equal(person.status, 200, JSON.stringify(person.body));
  const added = await rest('POST', `/teams/${teamId}/members`, creds.pat, { email: 'wendy@example.com', role: 'worker' });
  assert.equal(added.status, 200, JSON.stringify(added.body));
  const funded = await rest('POST', `/teams/${teamId}/budget/allocate`, creds.pat, { amount_cents: 500, note: 'start' });
  assert.equal(funded.status, 200, JSON.stringify(funded.body));

  await page.getByRole('link', { name: 'Teams' }).click();
  const row = page.locator(`#teams-table tr[data-team-id="${teamId}"]`);
  await row.waitFor();
  assert.match(await row.textContent(), /\$5\.00/);
  await shot('teams');
  await row.getByRole('link', { name: 'Support' }).click();
  await page.locator('#members-table').waitFor();
  const members = await page.locator('#members-table tbody tr').allTextContents();
  assert.equal(members.length, 2, members.join(' | '));
  assert.ok(members.some((m) => m.includes('wendy@example.com') && m.includes('worker')), members.join(' | '));
  assert.ok(members.some((m) => m.includes(creds.email) && m.includes('manager')), members.join(' | '));
  assert.equal((await page.locator('#pool-available').textContent()).trim(), '$5.00');

  await page.locator('#allocate-amount').fill('2.50');
  await page.locator('#allocate-amount').press('Enter');
  await page.locator('#pool-available', { hasText: '$7.50' }).waitFor();
  const pool = (await rest('GET', `/teams/${teamId}/budget`, creds.pat)).body.budget;
  assert.equal(pool.available_cents, 750);
  assert.equal(pool.allocated_cents, 750);
  await shot('team-detail');
});

test('workflow runs: steps with their attempts, skip, retry and cancel', async () => {
  const made = await rest('POST', '/agents', creds.pat, { name: 'flow-agent' });
  const flowAgent = made.body.agent.id;
  await rest('POST', `/agents/${flowAgent}/services`, creds.pat, { service_id: 'email' });
  const wf = (await rest('POST', '/workflows', creds.pat, { name: 'Nightly report', agent_id: flowAgent, category: 'ops' })).body.workflow.id;
  const email = (id, to) => ({ id, type: 'service_request', service: 'email', operation: 'send',
    payload: { to, subject: 'Report for {{input.who}}', body: 'numbers' } });
  // `web_search` is not enabled for the agent: step b fails.
  const v1 = await rest('POST', `/workflows/${wf}/versions`, creds.pat, { steps: [
    email('a', 'a@example.com'),
    { id: 'b', label: 'Look it up', type: 'service_request', service: 'web_search', operation: 'search', payload: { query: 'status of {{input.who}}' } },
    email('c', 'c@example.com'),
  ], edges: [{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }] });
  assert.equal(v1.status, 200, JSON.stringify(v1.body));
  const v2 = await rest('POST', `/workflows/${wf}/versions`, creds.pat, { steps: [
    { id: 'gate', label: 'Go on?', type: 'approval', message: 'Send it?' }, email('send', 'd@example.com'),
  ], edges: [{ from: 'gate', to: 'send' }] });
  const start = async (version) => {
    const r = await rest('POST', `/workflows/${wf}/runs`, creds.pat, { workflow_version_id: version, input: { who: 'console' }, test_run: true });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.run.id;
  };
  const getRun = async (id) => (await rest('GET', `/workflows/${wf}/runs/${id}`, creds.pat)).body.run;
  const step = (run, id) => run.steps.find((s) => s.step_id === id);
  const toSkip = await start(v1.body.version.id);
  const toRetry = await start(v1.body.version.id);
  const toCancel = await start(v2.body.version.id);
  await until('both runs failed', async () => (await getRun(toSkip)).status === 'failed' && (await getRun(toRetry)).status === 'failed');
  await until('the gate waits', async () => (await getRun(toCancel)).status === 'waiting_approval');

  await page.getByRole('link', { name: 'Workflows' }).click();
  await page.locator(`#workflows-table tr[data-workflow-id="${wf}"]`).getByRole('link', { name: 'Nightly report' }).click();
  await page.locator('#runs-table').waitFor();
  assert.equal(await page.locator('#runs-table tbody tr').count(), 3);
  await shot('workflows');

  // Skip the failed step: what follows runs.
  await page.locator(`#runs-table tr[data-run-id="${toSkip}"] a`).click();
  const b = page.locator('#steps-table tr[data-step-id="b"]');
  await b.waitFor();
  assert.match(await b.textContent(), /service_not_enabled/);
  assert.match(await page.locator('#run-error').textContent(), /step b failed/);
  await shot('workflow-run');
  await b.getByRole('button', { name: 'Skip step Look it up' }).click();
  await page.locator('#run-status[data-status="completed"]').waitFor({ timeout: 20000 });
  let run = await getRun(toSkip);
  assert.equal(run.status, 'completed');
  assert.equal(step(run, 'b').status, 'skipped');
  assert.equal(step(run, 'b').skip_reason, 'manual');
  assert.equal(step(run, 'c').status, 'completed');
  assert.match(await b.textContent(), /skipped \(manual\)/);

  // Retry it once the service is enabled: only b runs again.
  const firstA = step(await getRun(toRetry), 'a').service_request_id;
  await rest('POST', `/agents/${flowAgent}/services`, creds.pat, { service_id: 'web_search' });
  await page.goto(`${base}/#/workflows/${wf}/${toRetry}`);
  await page.locator('#steps-table tr[data-step-id="b"] [data-action="retry"]').click();
  await page.locator('#run-status[data-status="completed"]').waitFor({ timeout: 20000 });
  run = await getRun(toRetry);
  assert.equal(step(run, 'b').attempt, 2);
  assert.equal(step(run, 'b').status, 'completed');
  assert.equal(step(run, 'a').attempt, 1);
  assert.equal(step(run, 'a').service_request_id, firstA, 'a was not run again');
  assert.equal((await page.locator('#steps-table tr[data-step-id="b"] [data-attempt]').textContent()).trim(), '2');

  // Cancel a run waiting at its gate.
  await page.goto(`${base}/#/workflows/${wf}/${toCancel}`);
  await page.locator('#run-status[data-status="waiting_approval"]').waitFor();
  await page.locator('#cancel-run').click();
  await page.locator('#run-status[data-status="cancelled"]').waitFor();
  assert.equal((await getRun(toCancel)).status, 'cancelled');
  assert.equal(await page.locator('#cancel-run').count(), 0);
});

test('triggers and scheduled tasks: next run, last fire, enable and disable, pause and resume', async () => {
  const made = await rest('POST', '/agents', creds.pat, { name: 'cron-agent' });
  const cronAgent = made.body.agent.id;
  await rest('POST', `/agents/${cronAgent}/services`, creds.pat, { service_id: 'email' });
  const payload = { to: 'ops@example.com', subject: 'Daily', body: 'report' };
  const cron = await rest('POST', '/triggers', creds.pat,
    { agent_id: cronAgent, kind: 'cron', operation: 'email.send', schedule_expr: '0 9 * * *', timezone: 'UTC', payload_template: payload });
  assert.equal(cron.status, 200, JSON.stringify(cron.body));
  const hook = await rest('POST', '/triggers', creds.pat,
    { agent_id: cronAgent, kind: 'webhook', operation: 'email.send', payload_template: payload });
  assert.equal(hook.status, 200, JSON.stringify(hook.body));
  const weekly = await rest('POST', '/scheduled-tasks', creds.pat,
    { agent_id: cronAgent, name: 'Weekly digest', operation: 'email.send', schedule: '0 8 * * 1', timezone: 'UTC', payload });
  assert.equal(weekly.status, 201, JSON.stringify(weekly.body));
  const soon = new Date(Date.now() + 1500).toISOString();
  const once = await rest('POST', '/scheduled-tasks', creds.pat,
    { agent_id: cronAgent, name: 'One reminder', operation: 'email.send', run_at: soon, payload });
  assert.equal(once.status, 201, JSON.stringify(once.body));
  const onceId = once.body.task.id;
  await until('the one-time task ran', async () => (await rest('GET', `/scheduled-tasks/${onceId}`, creds.pat)).body.task.last_run_at);

  const cronId = cron.body.trigger.id;
  const weeklyId = weekly.body.task.id;
  await page.getByRole('link', { name: 'Triggers and tasks' }).click();
  const trow = page.locator(`#triggers-table tr[data-trigger-id="${cronId}"]`);
  await trow.waitFor();
  assert.equal(await trow.locator('.next-run time').getAttribute('datetime'), cron.body.trigger.next_run_at);
  assert.match(await trow.textContent(), /0 9 \* \* \*/);
  assert.match(await page.locator(`#triggers-table tr[data-trigger-id="${hook.body.trigger.id}"]`).textContent(), /signed webhook call/);
  const orow = page.locator(`#tasks-table tr[data-task-id="${onceId}"]`);
  assert.ok(await orow.locator('time').count() >= 1);
  const wrow = page.locator(`#tasks-table tr[data-task-id="${weeklyId}"]`);
  assert.equal(await wrow.locator('.next-run time').getAttribute('datetime'), weekly.body.task.next_run_at);
  await shot('automation');

  await trow.getByRole('button', { name: `Disable trigger ${cronId}` }).click();
  await trow.locator('[data-state="disabled"]').waitFor();
  let t = (await rest('GET', `/triggers/${cronId}`, creds.pat)).body.trigger;
  assert.equal(t.disabled, true);
  assert.equal(t.next_run_at, null);
  await trow.getByRole('button', { name: `Enable trigger ${cronId}` }).click();
  await trow.locator('[data-state="enabled"]').waitFor();
  t = (await rest('GET', `/triggers/${cronId}`, creds.pat)).body.trigger;
  assert.equal(t.disabled, false);
  assert.ok(t.next_run_at);

  await wrow.getByRole('button', { name: 'Pause task Weekly digest' }).click();
  await wrow.locator('[data-status="paused"]').waitFor();
  assert.equal((await rest('GET', `/scheduled-tasks/${weeklyId}`, creds.pat)).body.task.status, 'paused');
  await wrow.getByRole('button', { name: 'Resume task Weekly digest' }).click();
  await wrow.locator('[data-status="active"]').waitFor();
  assert.equal((await rest('GET', `/scheduled-tasks/${weeklyId}`, creds.pat)).body.task.status, 'active');
});

async function upload(name, type, text) {
  const form = new FormData();
  form.append('file', new Blob([text], { type }), name);
  const res = await fetch(`${base}/api/v1/storage/objects`, {
    method: 'POST', headers: { authorization: `Bearer ${creds.pat}` }, body: form,
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.object;
}

test('storage: files listed, downloaded and deleted', async () => {
  const notes = await upload('notes.txt', 'text/plain', 'hello from the console test\n');
  const data = await upload('data.csv', 'text/csv', 'a,b\n1,2\n'.repeat(300));
  await page.getByRole('link', { name: 'Storage' }).click();
  const row = page.locator(`#storage-table tr[data-object-id="${notes.id}"]`);
  await row.waitFor();
  assert.match(await row.textContent(), /notes\.txt/);
  assert.match(await row.textContent(), /28 B/);
  assert.match(await page.locator(`#storage-table tr[data-object-id="${data.id}"]`).textContent(), /2\.3 KB/);
  await shot('storage');

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    row.getByRole('link', { name: 'Download notes.txt' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'notes.txt');
  assert.equal(readFileSync(await download.path(), 'utf8'), 'hello from the console test\n');

  await row.getByRole('button', { name: 'Delete notes.txt' }).click();
  await row.getByRole('button', { name: 'Delete notes.txt' }).click(); // the confirm button
  await row.locator('[data-status="deleted"]').waitFor();
  assert.equal((await rest('GET', `/storage/objects/${notes.id}`, creds.pat)).body.object.status, 'deleted');
  await row.getByRole('button', { name: 'Restore notes.txt' }).click();
  await row.locator('[data-status="live"]').waitFor();
  assert.equal((await rest('GET', `/storage/objects/${notes.id}`, creds.pat)).body.object.status, 'live');
});

test('chat sessions: listed and a session read', async () => {
  const made = await rest('POST', '/agents', creds.pat, { name: 'chat-agent' });
  const chatAgent = made.body.agent.id;
  await rest('POST', `/agents/${chatAgent}/services`, creds.pat, { service_id: 'email' });
  const opened = await rest('POST', '/chat/sessions', creds.pat, { agent_id: chatAgent, title: 'Billing question' });
  assert.equal(opened.status, 200, JSON.stringify(opened.body));
  const sessionId = opened.body.id;
  const res = await fetch(`${base}/api/v1/chat/turn`, {
    method: 'POST',
    headers: { authorization: `Bearer ${creds.pat}`, 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ sessionId, message: 'please send an email {"to": "finance@example.com", "subject": "Spend", "body": "This week: $12.00"}' }),
  });
  assert.equal(res.status, 200);
  await res.text();
  const history = (await rest('GET', `/chat/sessions/${sessionId}`, creds.pat)).body;
  // The sandbox model calls the tool the message names: a governed request.
  assert.ok(history.messages.some((m) => m.role === 'tool'), JSON.stringify(history));

  await page.getByRole('link', { name: 'Chats' }).click();
  const row = page.locator(`#chats-table tr[data-session-id="${sessionId}"]`);
  await row.waitFor();
  assert.match(await row.textContent(), /chat-agent/);
  await shot('chats');
  await row.getByRole('link', { name: 'Billing question' }).click();
  await page.locator('#messages').waitFor();
  const shown = page.locator('#messages li');
  assert.equal(await shown.count(), history.messages.length);
  assert.equal(await shown.first().getAttribute('data-role'), 'user');
  assert.match(await shown.first().textContent(), /please send an email/);
  assert.ok(await page.locator('#messages li[data-role="assistant"]').count() >= 1);
  const tool = page.locator('#messages li[data-role="tool"]');
  assert.equal(await tool.count(), 1);
  assert.match(await tool.textContent(), /tool result: email/);
  await page.locator('#messages li[data-role="assistant"] details summary', { hasText: 'Tool calls' }).first().click();
  assert.match(await page.locator('#messages li[data-role="assistant"] details pre').first().textContent(), /finance@example\.com/);
  // Read-only: nothing to type into or press on the page but links.
  assert.equal(await page.locator('main input, main textarea, main button').count(), 0);
  await shot('chat-session');
});
