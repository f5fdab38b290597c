// The console's shell: sign-in, navigation by URL hash, and which screen
// is shown. Each screen is a module exporting `render(main, params)`,
// which may return a function that stops it (timers) when it is left.

import { api, setCsrf, whenSignedOut, ApiError } from './api.js';
import { h, fill, toast, clearToast } from './dom.js';
import * as approvals from './approvals.js';
import * as audit from './audit.js';
import * as usage from './usage.js';
import * as agents from './agents.js';
import * as teams from './teams.js';
import * as workflows from './workflows.js';
import * as automation from './automation.js';
import * as storage from './storage.js';
import * as chats from './chats.js';

const screens = { approvals, audit, usage, agents, teams, workflows, automation, storage, chats };
const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const signout = document.getElementById('signout');
let me = null;
let stop = null;

function showSignIn(message) {
  me = null;
  sessionStorage.removeItem(HINT);
  if (stop) { stop(); stop = null; }
  nav.hidden = true;
  signout.hidden = true;
  who.textContent = '';
  const error = h('p', { class: 'error', role: 'alert', id: 'login-error' }, message ?? '');
  const form = h('form', { class: 'card login', id: 'login', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Sign in'),
    h('label', { for: 'email' }, 'Email'),
    h('input', { id: 'email', name: 'email', type: 'email', autocomplete: 'username', required: true }),
    h('label', { for: 'password' }, 'Password'),
    h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    error);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try {
      const out = await api('POST', '/auth/login', {
        email: form.elements.email.value,
        password: form.elements.password.value,
      });
      setCsrf(out.csrf_token);
      await signedIn();
    } catch (e) {
      error.textContent = e instanceof ApiError ? e.message : String(e);
    }
  });
  fill(main, form);
  form.elements.email.focus();
}

async function signedIn() {
  me = await api('GET', '/whoami');
  sessionStorage.setItem(HINT, '1');
  if (me.credential === 'session') {
    const { csrf_token: token } = await api('GET', '/auth/csrf');
    setCsrf(token);
  }
  nav.hidden = false;
  signout.hidden = false;
  who.textContent = `${me.email} (${me.role})`;
  if (!location.hash || location.hash === '#' || location.hash === '#/') location.hash = '#/approvals';
  else route();
}

async function route() {
  if (!me) return;
  if (stop) { stop(); stop = null; }
  clearToast();
  const [name, ...params] = location.hash.replace(/^#\/?/, '').split('/');
  const screen = screens[name] ?? approvals;
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.screen === (screens[name] ? name : 'approvals')) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  fill(main, h('p', { class: 'loading' }, 'Loading…'));
  try {
    stop = (await screen.render(main, params.map(decodeURIComponent), me)) ?? null;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    fill(main, h('p', { class: 'error', role: 'alert' }, e.message ?? String(e)));
  }
}

whenSignedOut(() => showSignIn('Your session ended; sign in again.'));
window.addEventListener('hashchange', route);
signout.addEventListener('click', async () => {
  try { await api('POST', '/auth/logout'); } catch { /* already gone */ }
  setCsrf(null);
  toast('Signed out.');
  showSignIn();
});

// Signed in already in this tab (the cookie survives a reload)? The hint
// only saves a request that would answer 401, which a browser logs as an
// error; the cookie itself is HttpOnly and decides.
const HINT = 'upivia.console.signed-in';
if (sessionStorage.getItem(HINT)) {
  signedIn().catch((e) => { if (!(e instanceof ApiError && e.status === 401)) showSignIn(e.message); });
} else {
  showSignIn();
}
