// The dashboard's forms and filters under hostile input, posted in-process (app.inject) with a signed-in session and
// a valid CSRF token: quota, workspace quota, role, ban, settings, job actions, and the users, history and audit
// filters. Any field, value, encoding and content type gets a page (200), a redirect with a message, or a 4xx page
// (JSON for scripted requests) naming the problem in a plain sentence; never a 500 or an unhandled rejection.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { ErrorCode } from '../../src/core/errors.js';
import { JOB_STATUSES, PLATFORMS, ROLES } from '../../src/core/jobs.js';
import { SETTING_KEYS } from '../../src/db/settings.js';
import { AUDIT_ACTIONS } from '../../src/admin/routes/audit.js';
import { AdminClient } from '../admin/support/admin-client.js';
import { jobEvent } from '../support/events.js';
import { TestRenderer } from '../support/test-renderer.js';
import { startTestService, type TestService } from '../support/test-service.js';
import { anyJson, anyText, assertPlainSentence, checkProperty, CrashWatch, EDGE_NUMBERS, PROTOTYPE_KEYS } from './fuzz-support.js';

interface FormRequest {
  method: 'GET' | 'POST';
  url: string;
  /** A browser's page request, or a script's. */
  accept: string;
  body?: { contentType: string; payload: string };
  /** How the CSRF token travels: in the form, in a header (scripts), not at all, or a wrong one. */
  csrf: 'field' | 'header' | 'missing' | 'wrong';
}

const PAGE_ACCEPT = 'text/html,application/xhtml+xml';
const HTML_ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'", '&#96;': '`' };

/** The dashboard's message box (flash or error) on a page, as text. */
function pageMessage(page: string): string | undefined {
  const match = /<p class="flash flash-(?:ok|error)" role="(?:alert|status)">([\s\S]*?)<\/p>/.exec(page);
  return match?.[1]?.replace(/&(?:amp|lt|gt|quot|#39|#96);/g, (e) => HTML_ENTITIES[e]!);
}

function describeRequest(request: FormRequest): string {
  const body = request.body === undefined ? '' : ` ${request.body.contentType} ${JSON.stringify(request.body.payload.slice(0, 300))}`;
  return `${request.method} ${request.url.slice(0, 300)} (${request.accept}, csrf ${request.csrf})${body}`;
}

// ---- generators ----

/** A form value: any text, a number as text, or empty; sometimes the key repeats. */
const formValue = fc.oneof(anyText, fc.constantFrom(...EDGE_NUMBERS).map(String), fc.constant(''));
function formFields(fields: readonly string[]): fc.Arbitrary<[string, string][]> {
  const stray = [{ weight: 1, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS, '_csrf', 'reset', '') }, { weight: 1, arbitrary: anyText }];
  const key = fields.length === 0 ? fc.oneof(...stray) : fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...fields) }, ...stray);
  return fc.array(fc.tuple(key, formValue), { maxLength: 6 });
}

const RAW_FORM_BODIES = ['', '=', '&&&', '%', '%zz', 'a=%E0%A4%A', 'videosPerDay', 'videosPerDay=1&videosPerDay=2', 'a[b]=c', '__proto__=1', 'constructor[prototype][x]=1', 'x'.repeat(70_000)] as const;
const OTHER_TYPES = ['text/plain', 'multipart/form-data; boundary=x', 'application/octet-stream', 'application/x-www-form-urlencoded; charset=utf-16', ''] as const;

/** encodeURIComponent, except that a lone surrogate (which it refuses) becomes the invalid UTF-8 it would be. */
function encode(text: string): string {
  return [...text].map((c) => {
    try {
      return encodeURIComponent(c);
    } catch {
      return '%ED%A0%80';
    }
  }).join('');
}

function anyFormBody(fields: readonly string[]): fc.Arbitrary<FormRequest['body']> {
  const encoded = formFields(fields).map((pairs) => pairs.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&'));
  return fc.oneof(
    { weight: 6, arbitrary: encoded.map((payload) => ({ contentType: 'application/x-www-form-urlencoded', payload })) },
    { weight: 1, arbitrary: fc.constantFrom(...RAW_FORM_BODIES).map((payload) => ({ contentType: 'application/x-www-form-urlencoded', payload })) },
    { weight: 2, arbitrary: fc.oneof(formFields(fields).map((pairs) => Object.fromEntries(pairs)), anyJson).map((value) => ({ contentType: 'application/json', payload: JSON.stringify(value) })) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...OTHER_TYPES), anyText).map(([contentType, payload]) => ({ contentType, payload })) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

const csrf = fc.oneof({ weight: 12, arbitrary: fc.constantFrom<FormRequest['csrf']>('field', 'header') }, { weight: 1, arbitrary: fc.constantFrom<FormRequest['csrf']>('missing', 'wrong') });
const accept = fc.oneof({ weight: 4, arbitrary: fc.constant(PAGE_ACCEPT) }, { weight: 1, arbitrary: fc.constantFrom('application/json', '*/*', '') });

function segment(known: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...known) }, { weight: 1, arbitrary: fc.constantFrom('%2F', '..', '%', '%zz', '%ED%A0%80', 'x'.repeat(200), ...PROTOTYPE_KEYS) }, { weight: 1, arbitrary: anyText.map(encode) });
}

function post(url: fc.Arbitrary<string>, fields: readonly string[]): fc.Arbitrary<FormRequest> {
  return fc.record({ method: fc.constant('POST' as const), url, accept, body: anyFormBody(fields), csrf });
}

function get(path: string, fields: readonly string[]): fc.Arbitrary<FormRequest> {
  const query = formFields(fields).map((pairs) => pairs.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&'));
  return fc.record({ method: fc.constant('GET' as const), url: query.map((q) => `${path}?${q}`), accept, csrf: fc.constant('missing' as const) });
}

const QUOTA_FIELDS = ['videosPerDay', 'gpuSecondsPerDay', 'maxQueued'] as const;
const SETTING_FIELDS = [...SETTING_KEYS, 'reset'] as const;

function anyDashboardRequest(users: readonly [string, string][], jobIds: readonly string[]): fc.Arbitrary<FormRequest> {
  const user = fc.tuple(segment(PLATFORMS), segment(users.map(([, id]) => id)));
  const job = segment(jobIds);
  return fc.oneof(
    post(user.map(([p, u]) => `/admin/users/${p}/${u}/quota`), QUOTA_FIELDS),
    post(user.map(([p, u]) => `/admin/workspaces/${p}/${u}/quota`), QUOTA_FIELDS),
    post(user.map(([p, u]) => `/admin/users/${p}/${u}/role`), ['role']),
    post(user.map(([p, u]) => `/admin/users/${p}/${u}/ban`), ['banned']),
    post(fc.constant('/admin/settings'), SETTING_FIELDS),
    post(fc.tuple(job, fc.constantFrom('queue/%s/cancel', 'queue/%s/promote', 'history/%s/delete-video')).map(([id, path]) => `/admin/${path.replace('%s', id)}`), []),
    get('/admin/users', ['q', 'page']),
    get('/admin/history', ['user', 'platform', 'status', 'from', 'to', 'page']),
    get('/admin/audit', ['action', 'before']),
  );
}

// Valid forms, on users and a workspace of their own.
const wholeOrEmpty = (min: number, max: number) => fc.oneof(fc.integer({ min, max }).map(String), fc.constant(''));
const quotaForm = fc.record({ videosPerDay: wholeOrEmpty(0, 1_000_000), gpuSecondsPerDay: wholeOrEmpty(0, 100_000_000), maxQueued: wholeOrEmpty(1, 10_000) });
function validForm(users: readonly [string, string][]): fc.Arbitrary<{ url: string; form: Record<string, string | string[]> }> {
  const user = fc.constantFrom(...users).map(([p, u]) => `${p}/${u}`);
  return fc.oneof(
    // The quota forms always send their three fields; empty ones mean "inherit".
    fc.tuple(user, quotaForm).map(([u, form]) => ({ url: `/admin/users/${u}/quota`, form })),
    fc.tuple(fc.constantFrom(...PLATFORMS), quotaForm).map(([p, form]) => ({ url: `/admin/workspaces/${p}/fuzz-guild/quota`, form })),
    fc.tuple(user, fc.constantFrom(...ROLES)).map(([u, role]) => ({ url: `/admin/users/${u}/role`, form: { role } })),
    fc.tuple(user, fc.constantFrom('true', 'false')).map(([u, banned]) => ({ url: `/admin/users/${u}/ban`, form: { banned } })),
    fc
      .record(
        {
          queueCap: wholeOrEmpty(1, 1_000_000),
          promptMaxLength: wholeOrEmpty(1, 10_000),
          outputRetentionDays: wholeOrEmpty(0, 36_500),
          bannedWords: fc.array(fc.string({ minLength: 1, maxLength: 20 }).filter((w) => w.trim() !== '' && !/[\r\n]/.test(w)), { maxLength: 4 }).map((w) => w.join('\n')),
          reset: fc.subarray([...SETTING_KEYS]),
        },
        { requiredKeys: [] },
      )
      .map((form) => ({ url: '/admin/settings', form })),
    fc.record({ q: fc.string({ maxLength: 128 }), page: fc.integer({ min: 1, max: 99 }).map(String) }, { requiredKeys: [] }).map((form) => ({ url: '/admin/users', form })),
    fc
      .record({ platform: fc.constantFrom(...PLATFORMS, ''), status: fc.constantFrom(...JOB_STATUSES, ''), from: fc.constantFrom('2026-01-01', ''), to: fc.constantFrom('2026-12-31', ''), page: fc.integer({ min: 1, max: 9 }).map(String) }, { requiredKeys: [] })
      .map((form) => ({ url: '/admin/history', form })),
    fc.record({ action: fc.constantFrom(...AUDIT_ACTIONS, '') }, { requiredKeys: [] }).map((form) => ({ url: '/admin/audit', form })),
  );
}

/** Inputs fuzzing found wrong once, kept as fixed first examples. */
const REGRESSIONS: Record<string, FormRequest> = {
  /** The error page said only "Unsupported Media Type" (Fastify's words, not a sentence saying what to send). */
  bodyWithoutContentType: { method: 'POST', url: '/admin/users/discord/fuzz-carol/quota', accept: PAGE_ACCEPT, body: { contentType: '', payload: '0' }, csrf: 'header' },
};

describe('dashboard forms under hostile input', () => {
  let t: TestService;
  let admin: AdminClient;
  let token: string;
  let watch: CrashWatch;
  const users: [string, string][] = [];
  const jobIds: string[] = [];

  async function send(request: FormRequest): Promise<LightMyRequestResponse> {
    const headers: Record<string, string> = { cookie: [...admin.cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
    if (request.accept !== '') headers.accept = request.accept;
    let payload = request.body?.payload;
    if (request.body !== undefined && request.body.contentType !== '') headers['content-type'] = request.body.contentType;
    const value = request.csrf === 'wrong' ? `${token.slice(0, -2)}xx` : token;
    if (request.csrf === 'header' || request.csrf === 'wrong') headers['csrf-token'] = value;
    if (request.csrf === 'field' && request.method === 'POST') {
      if (request.body?.contentType === 'application/json') {
        const parsed = JSON.parse(request.body.payload) as unknown;
        payload = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? JSON.stringify({ ...parsed, _csrf: value }) : payload;
        headers['csrf-token'] = value;
      } else {
        payload = `${payload ?? ''}${payload ? '&' : ''}_csrf=${encodeURIComponent(value)}`;
        headers['content-type'] ??= 'application/x-www-form-urlencoded';
      }
    }
    const response = await t.running.app.inject({ method: request.method, url: request.url, headers, remoteAddress: '127.0.0.1', ...(payload === undefined ? {} : { payload }) });
    // Saving settings would change what the next request is checked against: back to the defaults each time.
    if (request.url.startsWith('/admin/settings')) await t.service.updateSettings(Object.fromEntries(SETTING_KEYS.map((key) => [key, null])), { kind: 'admin', name: 'fuzz' });
    return response;
  }

  /** The documented answer: a page, a redirect whose next page shows a message, or a 4xx naming the problem. */
  async function assertDocumentedAnswer(request: FormRequest, response: LightMyRequestResponse): Promise<void> {
    const context = describeRequest(request);
    const sent = [request.url, request.body?.payload ?? ''].map((text) => decodeSafely(text) ?? text).join(' ');
    assert.ok(response.statusCode < 500, `${response.statusCode} ${response.body.slice(0, 500)} for ${context}`);
    assert.doesNotMatch(response.body, /\n\s+at .+:\d+:\d+|node_modules|src\/admin\//, `no stack trace or path for ${context}`);
    // An address the router refuses (not percent-encoded UTF-8, or a part longer than any id percent-encoded) never
    // reaches the dashboard: the server answers it in its JSON error format.
    const path = new URL(request.url, 'http://dashboard.invalid').pathname;
    const routed = decodeSafely(path) !== undefined && path.split('/').every((part) => part.length <= 128 * 9);
    const page = routed && request.accept.includes('text/html') && !request.url.startsWith('/admin/api/');
    if (response.statusCode === 303) {
      const location = String(response.headers.location);
      assert.match(location, /^\/admin(\/|$)/, `a redirect within the dashboard for ${context}`);
      if (request.method === 'POST') {
        const next = await t.running.app.inject({ method: 'GET', url: location, headers: { accept: PAGE_ACCEPT, cookie: [...admin.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
        assert.equal(next.statusCode, 200, `the page after ${context}`);
        assertPlainSentence(pageMessage(next.body), sent, `the message after ${context}`);
      }
      return;
    }
    assert.ok(response.statusCode < 300 || response.statusCode >= 400, `${response.statusCode} for ${context}`);
    if (response.statusCode < 400) return;
    if (page) {
      assert.match(String(response.headers['content-type']), /^text\/html/, context);
      assertPlainSentence(pageMessage(response.body), sent, context);
    } else {
      const body = response.json() as { error: { code: string; message: string; details: unknown } };
      assert.ok((Object.values(ErrorCode) as string[]).includes(body.error.code), `a documented code for ${context}`);
      assertPlainSentence(body.error.message, sent, context);
    }
  }

  before(async () => {
    const renderer = new TestRenderer();
    t = await startTestService({ renderer });
    for (const [platform, id] of [['discord', 'fuzz-carol'], ['slack', 'fuzz-dave']] as const) {
      const { job } = await t.service.submit({ requester: { platform, platformUserId: id, workspaceId: 'fuzz-guild' }, options: { prompt: 'a quiet lake', frames: 2, steps: 1, width: 64, height: 64 }, reply: { platform, channelId: 'c' } });
      await t.events.waitFor(jobEvent('succeeded', job.id));
      users.push([platform, id]);
      jobIds.push(job.id);
    }
    const stopped = t.events.next((e) => e.type === 'engine' && !e.status.ready);
    renderer.ready = false;
    await stopped;
    const waiting = await t.service.submit({ requester: { platform: 'api', platformUserId: 'fuzz-erin' }, options: { prompt: 'a waiting job' }, reply: { platform: 'api', channelId: '' } });
    jobIds.push(waiting.job.id);
    admin = new AdminClient(t.running.app);
    await admin.signIn();
    token = await admin.csrfToken();
    watch = new CrashWatch();
  });
  after(async () => {
    watch?.stop();
    await t?.destroy();
  });

  it('answers any form, filter and encoding with a page, a redirect with a message, or a plain 4xx', async () => {
    await checkProperty(
      fc.asyncProperty(fc.constant(null).chain(() => anyDashboardRequest(users, jobIds)), async (request) => {
        await assertDocumentedAnswer(request, await send(request));
        await watch.assertNone();
      }),
      400,
      Object.values(REGRESSIONS).map((r) => [r]),
    );
  });

  it('accepts any valid form: a redirect to a page that says what happened, or the filtered page', async () => {
    await checkProperty(
      fc.asyncProperty(fc.constant(null).chain(() => validForm(users)), async ({ url, form }) => {
        const filter = url === '/admin/users' || url === '/admin/history' || url === '/admin/audit';
        const query = new URLSearchParams(Object.entries(form).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x): [string, string] => [k, x]))).toString();
        const request: FormRequest = filter
          ? { method: 'GET', url: `${url}?${query}`, accept: PAGE_ACCEPT, csrf: 'missing' }
          : { method: 'POST', url, accept: PAGE_ACCEPT, body: { contentType: 'application/x-www-form-urlencoded', payload: query }, csrf: 'field' };
        const response = await send(request);
        assert.equal(response.statusCode, filter ? 200 : 303, `${response.statusCode} ${pageMessage(response.body) ?? response.body.slice(0, 300)} for ${describeRequest(request)}`);
        await assertDocumentedAnswer(request, response);
      }),
      150,
    );
  });
});

/** The text percent-decoded (form style), or undefined when it is not valid percent-encoded UTF-8. */
function decodeSafely(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}
