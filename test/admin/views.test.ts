// The dashboard's building blocks without a server: the escaping template tag, sessions, charts, forms.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SessionStore } from '../../src/admin/sessions.js';
import { busiestUsersChart, niceMax, stackedDailyChart } from '../../src/admin/views/charts.js';
import { escapeHtml, html } from '../../src/admin/views/html.js';
import { parseFields, utcDate, optionalWholeNumber } from '../../src/admin/forms.js';
import { z } from 'zod';
import { VideoBotError } from '../../src/core/errors.js';

const XSS = '<img src=x onerror=alert(1)>';

test('html escapes every interpolated value, in text and in quoted attributes', () => {
  const out = html`<p title="${`" onmouseover="alert(1)`}">${XSS}</p><a href="/x?q=${"'&`"}">`.value;
  assert.equal(out, '<p title="&quot; onmouseover=&quot;alert(1)">&lt;img src=x onerror=alert(1)&gt;</p><a href="/x?q=&#39;&amp;&#96;">');
  assert.equal(escapeHtml('</script><script>'), '&lt;/script&gt;&lt;script&gt;');
});

test('html keeps nested templates, joins arrays and renders nothing for null, undefined and false', () => {
  const items = ['a<b', 'c'].map((item) => html`<li>${item}</li>`);
  assert.equal(html`<ul>${items}</ul>${null}${undefined}${false}${0}`.value, '<ul><li>a&lt;b</li><li>c</li></ul>0');
  assert.equal(html`${'<b>'}`.value, '&lt;b&gt;', 'a plain string that looks like markup is still text');
});

test('sessions expire after their time to live and are gone after destroy', () => {
  let now = 1_000_000;
  const store = new SessionStore({ ttlMs: 60_000, now: () => now });
  const { id, session } = store.create();
  assert.match(id, /^[A-Za-z0-9_-]{43}$/, '256 random bits, base64url');
  assert.equal(store.get(id), session);
  assert.notEqual(session.key, id, 'kept under its hash, not the cookie value');
  now += 59_999;
  assert.equal(store.get(id), session);
  now += 1;
  assert.equal(store.get(id), undefined, 'expired');
  const second = store.create();
  store.destroy(second.session);
  assert.equal(store.get(second.id), undefined, 'destroyed');
  for (const bad of [undefined, '', 'short', `${id}x`, '../../etc/passwd']) assert.equal(store.get(bad), undefined);
});

test('the session store drops the oldest sessions beyond its cap', () => {
  const store = new SessionStore({ ttlMs: 60_000, maxSessions: 3 });
  const ids = [1, 2, 3, 4].map(() => store.create().id);
  assert.equal(store.size, 3);
  assert.equal(store.get(ids[0]), undefined);
  assert.ok(store.get(ids[3]) !== undefined);
});

test('chart axes end on round numbers', () => {
  assert.deepEqual([0, 0.3, 1, 3, 7, 10, 11, 240, 3600].map(niceMax), [1, 0.5, 1, 5, 10, 10, 20, 500, 5000]);
});

test('charts escape user names and draw one bar segment per platform with a value', () => {
  const chart = stackedDailyChart({
    title: 'Videos',
    unit: 'videos',
    days: ['2026-11-21', '2026-11-22'],
    series: { discord: [1, 0], slack: [0, 2], api: [0, 3] },
  }).value;
  assert.equal((chart.match(/<rect class="bar/g) ?? []).length, 3);
  assert.match(chart, /2026-11-22 api: 3 videos/);
  const busiest = busiestUsersChart([{ userId: 'u', platform: 'api', platformUserId: 'm', displayName: XSS, videos: 2, gpuSeconds: 12.5 }], 7).value;
  assert.doesNotMatch(busiest, /<img/);
  assert.match(busiest, /&lt;img src=x/);
});

test('form fields: whole numbers or empty, real calendar dates; errors name the field', () => {
  const schema = z.object({ n: optionalWholeNumber, d: utcDate });
  assert.deepEqual(parseFields(schema, { n: '', d: '' }), { n: null, d: undefined });
  assert.deepEqual(parseFields(schema, { n: '42', d: '2026-02-28' }), { n: 42, d: new Date('2026-02-28T00:00:00Z') });
  assert.equal(parseFields(schema, { n: ['1', '7'] }).n, 7, 'a repeated key: the last one wins');
  for (const [fields, message] of [
    [{ n: '1.5' }, /n: must be a whole number or empty \(got "1.5"\)/],
    [{ n: '1e3' }, /n: must be a whole number/],
    [{ d: '2026-02-30' }, /d: must be a date as YYYY-MM-DD \(got "2026-02-30"\)/],
  ] as const) {
    assert.throws(() => parseFields(schema, fields), (error: unknown) => error instanceof VideoBotError && message.test(error.message));
  }
  assert.throws(() => parseFields(schema, ['not', 'an', 'object']), /form fields/);
});
