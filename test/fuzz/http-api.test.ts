// The HTTP API under hostile input, through the real service in-process (app.inject): arbitrary JSON and non-JSON
// bodies under every content type for every route with a body, arbitrary query strings, odd path parameters and
// Range headers. Whatever arrives, the answer is below 500, a refusal is a 4xx with the documented error body and a
// plain sentence, and nothing is left to reject unhandled. Valid random requests must be accepted, so the generators
// are known to reach past the parsers.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { ErrorCode } from '../../src/core/errors.js';
import { JOB_STATUSES, PLATFORMS, ROLES } from '../../src/core/jobs.js';
import { SETTING_KEYS } from '../../src/db/settings.js';
import { HTTP_STATUS } from '../../src/http/errors.js';
import { jobEvent } from '../support/events.js';
import { TestRenderer } from '../support/test-renderer.js';
import { startTestService, TEST_ADMIN_TOKEN, type TestService } from '../support/test-service.js';
import { anyJson, anyNumber, anyText, checkProperty, CrashWatch, deeplyNested, assertPlainSentence, PROTOTYPE_KEYS } from './fuzz-support.js';

interface FuzzRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/json;charset=UTF-8'] as const;
const OTHER_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'application/vnd.api+json',
  'application/json; charset=utf-16',
  'application/jsonx',
  'text/html',
  '*/*',
  ';;',
] as const;

/** Stands for a value nested thousands of levels deep, which JSON.stringify itself could not write. */
const DEEP_VALUE = 'fuzz:deeply-nested-value';
const DEEP_JSON = deeplyNested(6_000, '{"a":');

const RAW_JSON_BODIES = [
  '',
  ' ',
  '{',
  '{"prompt":',
  'null',
  'true',
  '0',
  '[]',
  '"text"',
  '1e999',
  'NaN',
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '{"prompt":"a","prompt":"b"}',
  '\ufeff{}',
  '{"user":{"platform":"api","id":"x"},"prompt":"\\ud800"}',
  '{"user":{"platform":"api","id":"x"},"prompt":"a\\u0000b"}',
  deeplyNested(30_000, '['),
  DEEP_JSON,
] as const;

/** Path segments that trip routers and decoders. */
const ODD_SEGMENTS = [
  '%2F',
  'a%2Fb',
  '..',
  '.',
  '%2e%2e',
  '%2e%2e%2f',
  '%',
  '%zz',
  '%00',
  '%C0%AF',
  '%ED%A0%80',
  '%E2%80%AE',
  '%F0%9F%98%80',
  '%20',
  '+',
  ';',
  '*',
  '~',
  '%27%20OR%201%3D1',
  'x'.repeat(65),
  'x'.repeat(129),
  'x'.repeat(5_000),
  ...PROTOTYPE_KEYS,
] as const;

/** encodeURIComponent, except that a lone surrogate (which it refuses) becomes the invalid UTF-8 it would be. */
function encode(text: string): string {
  return [...text]
    .map((c) => {
      try {
        return encodeURIComponent(c);
      } catch {
        return '%ED%A0%80';
      }
    })
    .join('');
}

/** The URL as the server reads it, where it can be decoded. */
function decoded(url: string): string {
  try {
    return decodeURIComponent(url);
  } catch {
    return url;
  }
}

function describeRequest(request: FuzzRequest): string {
  const payload = request.payload === undefined ? '' : ` ${JSON.stringify(request.payload.slice(0, 300))}${request.payload.length > 300 ? `… (${request.payload.length} chars)` : ''}`;
  return `${request.method} ${request.url.slice(0, 300)} ${JSON.stringify(request.headers)}${payload}`;
}

/** The documented answer: below 500; a refusal is the JSON error body with the status of its code and a plain sentence. */
function assertDocumentedAnswer(request: FuzzRequest, response: LightMyRequestResponse): void {
  const context = describeRequest(request);
  assert.ok(response.statusCode < 500, `${response.statusCode} ${response.body.slice(0, 500)} for ${context}`);
  assert.doesNotMatch(response.body.slice(0, 100_000), /\n\s+at \S|"stack"/, `no stack trace for ${context}`);
  if (response.statusCode < 400) return;
  assert.match(String(response.headers['content-type']), /^application\/json/, context);
  const body = response.json() as { error: { code: ErrorCode; message: string; details: unknown } };
  assert.deepEqual(Object.keys(body), ['error'], context);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'details', 'message'], context);
  assert.ok(Object.values(ErrorCode).includes(body.error.code), `a documented code (${body.error.code}) for ${context}`);
  // 413 (body too large) and 416 (range outside the file) are malformed requests that keep their own status.
  if (response.statusCode === 413 || response.statusCode === 416) assert.equal(body.error.code, ErrorCode.InvalidRequest, context);
  else assert.equal(HTTP_STATUS[body.error.code], response.statusCode, `the status of ${body.error.code} for ${context}`);
  assert.equal(typeof body.error.details, 'object', context);
  assertPlainSentence(body.error.message, `${request.url} ${decoded(request.url)} ${request.payload ?? ''}`, context);
}

// ---- generators ----

/** A JSON body under some JSON content type; DEEP_VALUE strings become deeply nested values. */
function jsonBody(value: fc.Arbitrary<unknown>): fc.Arbitrary<Pick<FuzzRequest, 'headers' | 'payload'>> {
  return fc.tuple(value, fc.constantFrom(...JSON_TYPES)).map(([v, type]) => ({
    headers: { 'content-type': type },
    payload: JSON.stringify(v).replaceAll(JSON.stringify(DEEP_VALUE), DEEP_JSON),
  }));
}

const fieldValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: anyJson },
  { weight: 1, arbitrary: fc.constant(DEEP_VALUE) },
);

/** An object with some of `fields` (each a hostile value or a plausible one) and perhaps a stray or prototype key. */
function shaped(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> {
  const model = Object.fromEntries(Object.entries(fields).map(([key, plausible]) => [key, fc.oneof(plausible, fieldValue)]));
  const stray = fc.dictionary(fc.constantFrom(...PROTOTYPE_KEYS, 'extra', 'user.id', ''), anyJson, { maxKeys: 2 });
  return fc.tuple(fc.record(model, { requiredKeys: [] }), fc.oneof({ weight: 4, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: stray })).map(([known, extra]) => ({ ...known, ...extra }));
}

/** Any body a client could send to a route whose JSON fields are `fields`. */
function anyBody(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Pick<FuzzRequest, 'headers' | 'payload'>> {
  return fc.oneof(
    { weight: 6, arbitrary: jsonBody(shaped(fields)) },
    { weight: 2, arbitrary: jsonBody(anyJson) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...RAW_JSON_BODIES), fc.constantFrom(...JSON_TYPES)).map(([payload, type]) => ({ headers: { 'content-type': type }, payload })) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...OTHER_TYPES), fc.oneof(anyText, anyJson.map((v) => JSON.stringify(v)))).map(([type, payload]) => ({ headers: { 'content-type': type }, payload })) },
    { weight: 1, arbitrary: fc.constant({ headers: {} }) },
  );
}

const platform = fc.constantFrom(...PLATFORMS);
const plausibleUser = fc.record({ platform, id: fc.string({ minLength: 1, maxLength: 20 }), name: fc.string({ maxLength: 20 }), workspaceId: fc.string({ maxLength: 20 }) }, { requiredKeys: ['platform', 'id'] });
const plausibleReply = fc.record({ channelId: fc.string({ maxLength: 10 }), threadId: fc.string({ maxLength: 10 }), messageId: fc.string({ maxLength: 10 }), extra: fc.object({ maxDepth: 2 }) }, { requiredKeys: ['channelId'] });
const submitFields = {
  user: plausibleUser,
  prompt: fc.string({ maxLength: 30 }),
  negativePrompt: fc.string({ maxLength: 30 }),
  frames: anyNumber,
  width: anyNumber,
  height: anyNumber,
  steps: anyNumber,
  guidance: anyNumber,
  seed: anyNumber,
  fps: anyNumber,
  reply: plausibleReply,
};
const quotaFields = { videosPerDay: anyNumber, gpuSecondsPerDay: anyNumber, maxQueued: anyNumber };
const settingFields = Object.fromEntries(SETTING_KEYS.map((key) => [key, key === 'bannedWords' ? fc.array(anyText, { maxLength: 3 }) : anyNumber]));

/** A path segment: an id the service knows, an odd one, or any text encoded. */
function segment(known: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(fc.constantFrom(...known), fc.constantFrom(...ODD_SEGMENTS), anyText.map(encode));
}

const authorization = fc.oneof(
  { weight: 12, arbitrary: fc.constant(`Bearer ${TEST_ADMIN_TOKEN}`) },
  { weight: 1, arbitrary: fc.constantFrom('', 'Bearer', 'Bearer ', `bearer ${TEST_ADMIN_TOKEN}`, `Bearer ${TEST_ADMIN_TOKEN} extra`, `Basic ${TEST_ADMIN_TOKEN}`, `Bearer ${TEST_ADMIN_TOKEN.slice(1)}`) },
);

function withAuth(request: fc.Arbitrary<FuzzRequest>): fc.Arbitrary<FuzzRequest> {
  return fc.tuple(request, authorization).map(([r, auth]) => ({ ...r, headers: { ...r.headers, ...(auth === '' ? {} : { authorization: auth }) } }));
}

/** Every route that takes a body, with any body. */
function bodyRequests(jobIds: readonly string[]): fc.Arbitrary<FuzzRequest> {
  const id = segment(jobIds);
  const userPath = fc.tuple(segment(PLATFORMS), segment(['fuzz-user', 'u-1']));
  const request = fc.oneof(
    fc.tuple(anyBody(submitFields)).map(([b]) => ({ method: 'POST' as const, url: '/api/v1/jobs', ...b })),
    fc.tuple(id, fc.constantFrom('reroll', 'reproduce'), anyBody({ user: plausibleUser, reply: plausibleReply })).map(([i, kind, b]) => ({ method: 'POST' as const, url: `/api/v1/jobs/${i}/${kind}`, ...b })),
    fc.tuple(userPath, anyBody(quotaFields)).map(([[p, u], b]) => ({ method: 'PUT' as const, url: `/api/v1/users/${p}/${u}/quota`, ...b })),
    fc.tuple(userPath, anyBody({ role: fc.constantFrom(...ROLES), banned: fc.boolean() })).map(([[p, u], b]) => ({ method: 'PUT' as const, url: `/api/v1/users/${p}/${u}`, ...b })),
    fc.tuple(userPath, anyBody(quotaFields)).map(([[p, u], b]) => ({ method: 'PUT' as const, url: `/api/v1/workspaces/${p}/${u}/quota`, ...b })),
    fc.tuple(anyBody(settingFields)).map(([b]) => ({ method: 'PUT' as const, url: '/api/v1/settings', ...b })),
  );
  return withAuth(request);
}

const ODD_QUERY_TAILS = ['', '&', '&&', '=', '==', '%', '%zz', '%00', 'limit=1&limit=2', 'status=queued&status=running', 'status[]=queued', 'limit[0]=1', '__proto__[x]=1', 'a=%E0%A4%A'] as const;

function queryString(keys: readonly string[]): fc.Arbitrary<string> {
  const key = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...keys) }, { weight: 1, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS) }, { weight: 1, arbitrary: anyText });
  const value = fc.oneof(anyText, anyNumber.map(String), fc.array(fc.constantFrom(...JOB_STATUSES, '', ' ', 'QUEUED'), { maxLength: 4 }).map((s) => s.join(',')));
  return fc
    .tuple(fc.array(fc.tuple(key, value), { maxLength: 4 }), fc.constantFrom(...ODD_QUERY_TAILS))
    .map(([pairs, tail]) => [...pairs.map(([k, v]) => `${encode(k)}=${encode(v)}`), tail].filter((p) => p !== '').join('&'));
}

/** The routes that read query strings or path parameters (and Range headers), without a body. */
function queryAndPathRequests(jobIds: readonly string[]): fc.Arbitrary<FuzzRequest> {
  const id = segment(jobIds);
  const range = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom('bytes=0-2', 'bytes=-1', 'bytes=5-1', 'bytes=0-', 'bytes=999999999-', 'bytes=0-0,2-3', 'bytes=-0', 'items=0-1', 'bytes=abc', 'bytes=1e3-2e3', ''),
    fc.tuple(fc.nat(5_000), fc.nat(5_000)).map(([a, b]) => `bytes=${a}-${b}`),
  );
  const request = fc.oneof(
    queryString(['status', 'limit', 'before']).map((q) => ({ method: 'GET' as const, url: `/api/v1/jobs?${q}`, headers: {} })),
    queryString(['limit', 'before', 'action']).map((q) => ({ method: 'GET' as const, url: `/api/v1/audit?${q}`, headers: {} })),
    fc.tuple(fc.constantFrom('GET', 'DELETE') , id).map(([method, i]) => ({ method: method as 'GET' | 'DELETE', url: `/api/v1/jobs/${i}`, headers: {} })),
    fc.tuple(id).map(([i]) => ({ method: 'POST' as const, url: `/api/v1/jobs/${i}/promote`, headers: {} })),
    fc.tuple(id, fc.constantFrom('video', 'poster'), range).map(([i, kind, r]) => ({ method: 'GET' as const, url: `/api/v1/jobs/${i}/${kind}`, headers: r === undefined ? {} : { range: r } } as FuzzRequest)),
    fc.tuple(segment(PLATFORMS), segment(['u-1']), fc.constantFrom('users', 'workspaces')).map(([p, u, kind]) => ({ method: 'GET' as const, url: `/api/v1/${kind}/${p}/${u}/quota`, headers: {} })),
    fc.tuple(id, fc.constantFrom('video', 'poster', 'x'), queryString(['exp', 'sig'])).map(([i, kind, q]) => ({ method: 'GET' as const, url: `/media/${i}/${kind}?${q}`, headers: {} })),
  );
  return withAuth(request);
}

// Valid requests, in namespaces of their own so that the hostile ones (which may ban users or set quotas to 0) do not
// touch them.
/** Up to the 128 characters an id may have, unicode included. */
const validUserId = fc
  .oneof(fc.string({ maxLength: 117 }), fc.string({ unit: 'grapheme', maxLength: 50 }))
  .map((s) => `fuzz-valid-${s}`)
  .filter((id) => id.trim().length <= 128);
const validSubmit = fc.record(
  {
    user: fc.record({ platform, id: validUserId, name: fc.string({ maxLength: 200 }), workspaceId: validUserId }, { requiredKeys: ['platform', 'id'] }),
    prompt: fc.oneof(fc.string({ minLength: 1, maxLength: 200 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 })).filter((s) => s.trim() !== ''),
    negativePrompt: fc.string({ maxLength: 200 }),
    frames: fc.integer({ min: 1, max: 32 }),
    width: fc.integer({ min: 8, max: 64 }).map((n) => n * 8),
    height: fc.integer({ min: 8, max: 64 }).map((n) => n * 8),
    steps: fc.integer({ min: 1, max: 50 }),
    guidance: fc.double({ min: 1, max: 30, noNaN: true }),
    seed: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    fps: fc.integer({ min: 1, max: 30 }),
    reply: fc.record(
      {
        channelId: fc.string({ maxLength: 256 }),
        threadId: fc.string({ maxLength: 256 }),
        messageId: fc.string({ maxLength: 256 }),
        extra: fc.dictionary(fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__' && k !== 'constructor'), fc.oneof(fc.string(), fc.integer(), fc.boolean()), { maxKeys: 4 }),
      },
      { requiredKeys: ['channelId'] },
    ),
  },
  { requiredKeys: ['user', 'prompt'] },
);
/** Numbers may come as numbers or as their decimal text. */
const asNumberOrText = (body: Record<string, unknown>, asText: boolean) =>
  Object.fromEntries(Object.entries(body).map(([k, v]) => [k, asText && typeof v === 'number' ? String(v) : v]));

const queryOf = (query: Record<string, string | number>) => new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]));

const quotaValue = (min: number, max: number) => fc.oneof(fc.integer({ min, max }), fc.constant(null));
const validQuotaPatch = fc.record({ videosPerDay: quotaValue(0, 1_000_000), gpuSecondsPerDay: quotaValue(0, 100_000_000), maxQueued: quotaValue(1, 10_000) }, { requiredKeys: [] }).filter((p) => Object.keys(p).length > 0);
const validSettingsPatch = fc.record(
  {
    videosPerDay: quotaValue(0, 1_000_000),
    gpuSecondsPerDay: quotaValue(0, 100_000_000),
    maxQueuedPerUser: quotaValue(1, 10_000),
    queueCap: quotaValue(1, 1_000_000),
    promptMaxLength: quotaValue(1, 10_000),
    bannedWords: fc.oneof(fc.array(fc.string({ minLength: 1, maxLength: 200 }).filter((w) => w.trim() !== ''), { maxLength: 5 }), fc.constant(null)),
    outputRetentionDays: quotaValue(0, 36_500),
  },
  { requiredKeys: [] },
);

/** Inputs fuzzing found wrong once, kept as fixed first examples. */
const AUTHORIZED_JSON = { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' };
const REQUEST_REGRESSIONS: Record<string, FuzzRequest> = {
  /** Was 500: JSON.stringify of the value in the error message overflowed the stack. */
  deeplyNestedSetting: { method: 'PUT', url: '/api/v1/settings', headers: AUTHORIZED_JSON, payload: `{"videosPerDay":${DEEP_JSON}}` },
  /** Was "user: Invalid input: expected object, received undefined (in the body). prompt: … expected nonoptional …". */
  emptyJob: { method: 'POST', url: '/api/v1/jobs', headers: AUTHORIZED_JSON, payload: '{}' },
  /** Was "limit: Invalid input: expected number, received NaN (in the query)." */
  repeatedLimit: { method: 'GET', url: '/api/v1/audit?limit=0&limit=0', headers: AUTHORIZED_JSON },
  /** Was Fastify's own body {"error":"Bad Request","code":"FST_ERR_BAD_URL",…} instead of the API's error format. */
  undecodablePath: { method: 'PUT', url: '/api/v1/users/discord/%ED%A0%80', headers: AUTHORIZED_JSON, payload: '{}' },
  /** Was 414 with Fastify's own body, for an id the API allows (up to 128 characters). */
  longUserId: { method: 'GET', url: `/api/v1/users/api/${'x'.repeat(128)}/quota`, headers: AUTHORIZED_JSON },
};
const RANGE_REGRESSIONS = {
  /** Was 404 "No video … exists" for a video that exists. */
  pastTheEnd: 'bytes=999999-',
};

describe('HTTP API under hostile input', () => {
  let t: TestService;
  let watch: CrashWatch;
  const jobIds: string[] = [];

  const send = (request: FuzzRequest) =>
    t.running.app.inject({ method: request.method, url: request.url, headers: request.headers, ...(request.payload === undefined ? {} : { payload: request.payload }) });
  const resetSettings = () => t.request('PUT', '/api/v1/settings', Object.fromEntries(SETTING_KEYS.map((key) => [key, null])));

  /** Sends, checks the answer, and puts settings back so that one request's valid change does not steer the next. */
  const probe = async (request: FuzzRequest) => {
    const response = await send(request);
    if (request.url.startsWith('/api/v1/settings')) assert.equal((await resetSettings()).statusCode, 200);
    assertDocumentedAnswer(request, response);
    await watch.assertNone();
    return response;
  };

  before(async () => {
    const renderer = new TestRenderer();
    t = await startTestService({
      renderer,
      // Generous limits: valid requests must be accepted however many the run makes.
      env: { QUOTA_VIDEOS_PER_DAY: '1000000', QUOTA_GPU_SECONDS_PER_DAY: '100000000', MAX_QUEUED_PER_USER: '10000', QUEUE_CAP: '1000000' },
    });
    // A finished job (its video can be fetched with odd ranges), then no engine, so every later job stays waiting.
    const done = await t.request('POST', '/api/v1/jobs', { user: { platform: 'api', id: 'fuzz-seed' }, prompt: 'a finished job', frames: 2, steps: 1, width: 64, height: 64 });
    const doneId = (done.json() as { id: string }).id;
    await t.events.waitFor(jobEvent('succeeded', doneId));
    const stopped = t.events.next((e) => e.type === 'engine' && !e.status.ready);
    renderer.ready = false;
    await stopped;
    const waiting = await t.request('POST', '/api/v1/jobs', { user: { platform: 'discord', id: 'fuzz-seed' }, prompt: 'a waiting job' });
    jobIds.push(doneId, (waiting.json() as { id: string }).id);
    watch = new CrashWatch();
  });
  after(async () => {
    watch?.stop();
    await t?.destroy();
  });

  it('answers any body on any route with a success or a documented 4xx', async () => {
    await checkProperty(fc.asyncProperty(bodyRequests(jobIds), async (request) => void (await probe(request))), 400, Object.values(REQUEST_REGRESSIONS).map((r) => [r]));
  });

  it('answers any query string, path parameter and Range header with a success or a documented 4xx', async () => {
    await checkProperty(fc.asyncProperty(queryAndPathRequests(jobIds), async (request) => void (await probe(request))), 300);
  });

  it("serves any Range of a finished job's video: 200, 206 with those bytes, or 416 naming the size", async () => {
    const [finished] = jobIds;
    const range = fc.oneof(
      fc.tuple(fc.nat(2_000), fc.nat(2_000)).map(([a, b]) => `bytes=${a}-${b}`),
      fc.nat(2_000).map((a) => `bytes=${a}-`),
      fc.nat(2_000).map((n) => `bytes=-${n}`),
      fc.constantFrom('bytes=0-0,2-3', 'items=0-1', 'bytes=abc', ''),
    );
    await checkProperty(
      fc.asyncProperty(range, fc.constantFrom('video', 'poster'), async (value, kind) => {
        const request: FuzzRequest = { method: 'GET', url: `/api/v1/jobs/${finished}/${kind}`, headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, range: value } };
        const response = await probe(request);
        const size = Number((await send({ ...request, headers: { authorization: request.headers.authorization! } })).headers['content-length']);
        if (response.statusCode === 206) {
          const [, first, last, total] = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(response.headers['content-range'])) ?? [];
          assert.equal(Number(total), size);
          assert.equal(response.rawPayload.length, Number(last) - Number(first) + 1);
        } else if (response.statusCode === 416) {
          assert.equal(response.headers['content-range'], `bytes */${size}`);
        } else {
          assert.equal(response.statusCode, 200, `${response.statusCode} ${response.body.slice(0, 300)} for range ${value}`);
          assert.equal(response.rawPayload.length, size);
        }
      }),
      100,
      Object.values(RANGE_REGRESSIONS).map((value) => [value, 'video'] as [string, string]),
    );
  });

  it('refuses bodies over 64 KiB with 413', async () => {
    const huge = await probe({ method: 'POST', url: '/api/v1/jobs', headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, payload: JSON.stringify({ prompt: 'x'.repeat(70_000) }) });
    assert.equal(huge.statusCode, 413);
  });

  it('accepts a user id of 128 characters in a path', async () => {
    const response = await probe(REQUEST_REGRESSIONS.longUserId!);
    assert.equal(response.statusCode, 200, response.body);
  });

  it('accepts any valid job, with the options it was given', async () => {
    await checkProperty(
      fc.asyncProperty(validSubmit, fc.boolean(), async (body, asText) => {
        const request: FuzzRequest = { method: 'POST', url: '/api/v1/jobs', headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, payload: JSON.stringify(asNumberOrText(body, asText)) };
        const response = await probe(request);
        assert.equal(response.statusCode, 202, `${response.body} for ${describeRequest(request)}`);
        const { job } = response.json() as { job: { prompt: string; negativePrompt: string; params: Record<string, unknown> } };
        for (const key of ['frames', 'width', 'height', 'steps', 'guidance', 'seed', 'fps'] as const) {
          if (body[key] !== undefined) assert.equal(job.params[key], body[key], key);
        }
        assert.equal(job.prompt, body.prompt.trim());
        assert.equal(job.negativePrompt, (body.negativePrompt ?? '').trim());
      }),
      100,
    );
  });

  it('accepts any valid reroll, reproduce, quota, user and settings change', async () => {
    const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' };
    // Users whose quota, role or ban change are never the ones who ask for videos here.
    const user = fc.tuple(platform, validUserId.map((id) => id.replace('fuzz-valid-', 'fuzz-edit-')));
    const change = fc.oneof(
      fc.tuple(fc.constantFrom(...jobIds), fc.constantFrom('reroll', 'reproduce'), fc.option(fc.record({ platform, id: validUserId }), { nil: undefined })).map(([id, kind, u]) => ({ method: 'POST' as const, url: `/api/v1/jobs/${id}/${kind}`, body: u === undefined ? {} : { user: u } })),
      fc.tuple(user, validQuotaPatch, fc.constantFrom('users', 'workspaces')).map(([[p, u], patch, kind]) => ({ method: 'PUT' as const, url: `/api/v1/${kind}/${p}/${encode(u)}/quota`, body: patch })),
      fc.tuple(user, fc.record({ role: fc.constantFrom(...ROLES), banned: fc.boolean() }, { requiredKeys: [] })).map(([[p, u], patch]) => ({ method: 'PUT' as const, url: `/api/v1/users/${p}/${encode(u)}`, body: patch })),
      validSettingsPatch.map((patch) => ({ method: 'PUT' as const, url: '/api/v1/settings', body: patch })),
    );
    await checkProperty(
      fc.asyncProperty(change, async ({ method, url, body }) => {
        const request: FuzzRequest = { method, url, headers: auth, payload: JSON.stringify(body) };
        const response = await probe(request);
        assert.ok(response.statusCode === 200 || response.statusCode === 202, `${response.statusCode} ${response.body} for ${describeRequest(request)}`);
      }),
      100,
    );
  });

  it('accepts any valid history and audit query', async () => {
    const jobsQuery = fc
      .record({ status: fc.uniqueArray(fc.constantFrom(...JOB_STATUSES), { minLength: 1 }).map((s) => s.join(',')), limit: fc.integer({ min: 1, max: 500 }), before: fc.integer({ min: 1, max: 2 ** 31 - 1 }) }, { requiredKeys: [] })
      .map((q) => `/api/v1/jobs?${queryOf(q)}`);
    const auditQuery = fc
      .record({ limit: fc.integer({ min: 1, max: 500 }), before: fc.string({ maxLength: 64 }), action: fc.string({ maxLength: 64 }) }, { requiredKeys: [] })
      .map((q) => `/api/v1/audit?${queryOf(q)}`);
    await checkProperty(
      fc.asyncProperty(fc.oneof(jobsQuery, auditQuery), async (url) => {
        const response = await probe({ method: 'GET', url, headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
        assert.equal(response.statusCode, 200, `${response.body} for GET ${url}`);
      }),
      100,
    );
  });
});
