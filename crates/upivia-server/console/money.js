// Money arrives as integer cents; this is the one place it becomes text.
// Integer arithmetic only: no float ever touches an amount.

/** `1234567` → `"$12,345.67"`, `-5` → `"-$0.05"`. */
export function dollars(cents) {
  if (!Number.isSafeInteger(cents)) return '—';
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  const whole = Math.floor(abs / 100).toLocaleString('en-US');
  const frac = String(abs % 100).padStart(2, '0');
  return `${sign}$${whole}.${frac}`;
}

/** `"12.3"` → `1230`; `""` → `null`; anything else throws. */
export function parseDollars(text) {
  const t = String(text).trim().replace(/^\$/, '').replaceAll(',', '');
  if (t === '') return null;
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(t);
  if (!m) throw new Error(`not an amount in dollars: ${text}`);
  const cents = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
  if (!Number.isSafeInteger(cents)) throw new Error('amount too large');
  return cents;
}

/** `1234` → `"12.34"`: an amount as an input field shows it. */
export function plainDollars(cents) {
  if (!Number.isSafeInteger(cents)) return '';
  const abs = Math.abs(cents);
  return `${cents < 0 ? '-' : ''}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}
