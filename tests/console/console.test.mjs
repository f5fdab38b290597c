// The console in a real browser against a real server: sign in, approve a
// held request and see it executed, filter and page the audit trail,
// rotate a key (shown once; the old one refused), and the balance in
// dollars. Any page error or console error fails the run.

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

test('usage shows the balance in dollars', async () => {
  await page.getByRole('link', { name: 'Usage and spend' }).click();
  const text = (await page.locator('#balance').textContent()).trim();
  assert.match(text, /^\$\d{1,3}(,\d{3})*\.\d{2}$/);
  const cents = (await rest('GET', '/balance', creds.pat)).body.amount_cents;
  assert.equal(text, `$${Math.floor(cents / 100).toLocaleString('en-US')}.${String(cents % 100).padStart(2, '0')}`);
  await shot('usage');
});
