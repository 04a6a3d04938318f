// The HTTP API end to end through Fastify's inject: every route's success path and every error path. Error
// bodies are always { error: { code, message, details } } with a plain message and never a stack trace.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { ErrorCode } from '../../src/core/errors.js';
import { jobEvent } from '../support/events.js';
import { TestRenderer } from '../support/test-renderer.js';
import { startTestService, TEST_ADMIN_TOKEN, type TestService } from '../support/test-service.js';

const user = { platform: 'discord', id: 'u-1', name: 'Uma', workspaceId: 'g-1' };
const small = { frames: 2, steps: 3, width: 64, height: 64 };

function expectError(response: LightMyRequestResponse, status: number, code: ErrorCode, message?: RegExp): { code: string; message: string; details: Record<string, unknown> } {
  assert.equal(response.statusCode, status, response.body);
  assert.match(String(response.headers['content-type']), /application\/json/);
  const body = response.json() as { error: { code: string; message: string; details: Record<string, unknown> } };
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(body.error.code, code);
  assert.ok(body.error.message.length > 0);
  assert.doesNotMatch(response.body, /\bat .+\.(ts|js):\d+|"stack"/, 'no stack trace');
  if (message !== undefined) assert.match(body.error.message, message);
  return body.error;
}

describe('HTTP API', () => {
  let t: TestService;
  let renderer: TestRenderer;
  /** Switches the test engine and waits until the worker has seen it (it polls). */
  const setEngineReady = async (ready: boolean) => {
    const seen = t.events.next((e) => e.type === 'engine' && e.status.ready === ready);
    renderer.ready = ready;
    await seen;
  };
  const api = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, token?: string | null) => t.request(method, `/api/v1${url}`, body, token);

  before(async () => {
    renderer = new TestRenderer();
    t = await startTestService({ renderer, env: { MAX_QUEUED_PER_USER: '3', QUEUE_CAP: '8', BANNED_WORDS: 'gore', PUBLIC_URL: 'https://t2v.example' } });
  });
  after(async () => {
    await t.destroy();
  });

  describe('authentication', () => {
    it('requires the admin token as a bearer token', async () => {
      expectError(await api('GET', '/queue', undefined, null), 401, ErrorCode.Unauthorized, /Bearer/);
      const wrong = await api('GET', '/queue', undefined, 'not-the-token');
      expectError(wrong, 401, ErrorCode.Unauthorized);
      assert.equal(wrong.headers['www-authenticate'], 'Bearer');
      const basic = await t.running.app.inject({ method: 'GET', url: '/api/v1/queue', headers: { authorization: `Basic ${TEST_ADMIN_TOKEN}` } });
      expectError(basic, 401, ErrorCode.Unauthorized);
      assert.equal((await api('GET', '/queue')).statusCode, 200);
    });
  });

  describe('jobs', () => {
    it('accepts a job (202) and serves it until its video is ready', async () => {
      const response = await api('POST', '/jobs', { user, prompt: 'a panda on a boat', seed: 5, ...small, reply: { channelId: 'c1', extra: { x: 1 } } });
      assert.equal(response.statusCode, 202, response.body);
      const body = response.json() as { id: string; status: string; position: number; etaSeconds: number | null; seed: number; job: { user: unknown; reply: unknown } };
      assert.equal(body.status, 'queued');
      assert.equal(body.seed, 5);
      assert.equal(typeof body.position, 'number');
      assert.deepEqual(body.job.user, { platform: 'discord', id: 'u-1', name: 'Uma', role: 'user' });
      assert.deepEqual(body.job.reply, { platform: 'api', channelId: 'c1', extra: { x: 1 } });
      assert.equal(response.headers.location, `https://t2v.example/api/v1/jobs/${body.id}`);

      await t.events.waitFor(jobEvent('succeeded', body.id));
      const job = (await api('GET', `/jobs/${body.id}`)).json() as { status: string; output: { url: string; mediaType: string; bytes: number; posterUrl: string }; params: { seed: number }; progress: { step: number } };
      assert.equal(job.status, 'succeeded');
      assert.equal(job.params.seed, 5);
      assert.equal(job.progress.step, 3);
      assert.equal(job.output.url, `https://t2v.example/api/v1/jobs/${body.id}/video`);
      assert.equal(job.output.mediaType, 'video/mp4');

      const video = await api('GET', `/jobs/${body.id}/video`);
      assert.equal(video.statusCode, 200);
      assert.equal(video.headers['content-type'], 'video/mp4');
      assert.equal(Number(video.headers['content-length']), job.output.bytes);
      assert.equal(video.headers['accept-ranges'], 'bytes');
      const part = await t.running.app.inject({ method: 'GET', url: `/api/v1/jobs/${body.id}/video`, headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, range: 'bytes=0-2' } });
      assert.equal(part.statusCode, 206);
      assert.equal(part.body, 'MP4');
      assert.equal(part.headers['content-range'], `bytes 0-2/${job.output.bytes}`);
      const poster = await api('GET', `/jobs/${body.id}/poster`);
      assert.equal(poster.headers['content-type'], 'image/png');

      const list = (await api('GET', '/jobs?status=succeeded&limit=5')).json() as { jobs: { id: string }[] };
      assert.ok(list.jobs.some((j) => j.id === body.id));
    });

    it('rerolls, reproduces and cancels through the API', async () => {
      renderer.hold();
      const first = (await api('POST', '/jobs', { user, prompt: 'held', ...small })).json() as { id: string; seed: number };
      await t.events.waitFor(jobEvent('started', first.id));
      const reroll = await api('POST', `/jobs/${first.id}/reroll`, { user: { platform: 'slack', id: 'other' } });
      assert.equal(reroll.statusCode, 202, reroll.body);
      const rerolled = reroll.json() as { id: string; job: { parentJobId: string; user: { id: string } } };
      assert.equal(rerolled.job.parentJobId, first.id);
      assert.equal(rerolled.job.user.id, 'other');
      const reproduce = (await api('POST', `/jobs/${first.id}/reproduce`)).json() as { seed: number; job: { user: { id: string } } };
      assert.equal(reproduce.seed, first.seed);
      assert.equal(reproduce.job.user.id, 'u-1');

      const queue = (await api('GET', '/queue')).json() as { engine: { ready: boolean }; running: { id: string }[]; queued: { id: string; position: number }[] };
      assert.equal(queue.engine.ready, true);
      assert.deepEqual(queue.running.map((j) => j.id), [first.id]);
      assert.equal(queue.queued.length, 2);
      assert.deepEqual(queue.queued.map((j) => j.position), [1, 2]);

      const cancelQueued = await api('DELETE', `/jobs/${rerolled.id}`);
      assert.equal(cancelQueued.statusCode, 200);
      assert.equal((cancelQueued.json() as { status: string }).status, 'cancelled');
      const cancelRunning = await api('DELETE', `/jobs/${first.id}`);
      assert.equal((cancelRunning.json() as { status: string }).status, 'cancelled');
      renderer.release();
      expectError(await api('DELETE', `/jobs/${first.id}`), 409, ErrorCode.InvalidState, /cannot be cancelled/);
      expectError(await api('GET', `/jobs/${first.id}/video`), 409, ErrorCode.InvalidState, /no file to download/);
      const audit = (await api('GET', '/audit?action=job.cancel')).json() as { entries: { actor: string; target: string }[] };
      assert.ok(audit.entries.some((e) => e.actor === 'admin:api' && e.target === first.id));
    });

    it('an Idempotency-Key makes a repeated request answer with the job the first one made, charged once', async () => {
      const post = (url: string, body: unknown, key: string) =>
        t.running.app.inject({ method: 'POST', url: `/api/v1${url}`, headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'idempotency-key': key }, payload: body as object });
      const once = { user: { platform: 'api', id: 'retrying-client' }, prompt: 'asked twice', ...small };
      const [first, second] = await Promise.all([post('/jobs', once, 'order-7'), post('/jobs', once, 'order-7')]);
      assert.deepEqual([first.statusCode, second.statusCode], [202, 202], second.body);
      const id = (first.json() as { id: string }).id;
      assert.equal((second.json() as { id: string }).id, id);
      await t.events.waitFor(jobEvent('succeeded', id));
      const late = await post('/jobs', once, 'order-7');
      assert.deepEqual([late.statusCode, (late.json() as { id: string; status: string }).status], [202, 'succeeded'], 'a repeat after the render gets the finished job');
      const rerolls = await Promise.all([post(`/jobs/${id}/reroll`, {}, 'reroll-7'), post(`/jobs/${id}/reroll`, {}, 'reroll-7')]);
      assert.equal((rerolls[0].json() as { id: string }).id, (rerolls[1].json() as { id: string }).id);
      const quota = (await api('GET', '/users/api/retrying-client/quota')).json() as { used: { videos: number } };
      assert.equal(quota.used.videos, 2, 'one job and one re-roll');

      const wrong = expectError(await post('/jobs', once, 'k'.repeat(201)), 400, ErrorCode.InvalidRequest);
      assert.match(wrong.message, /idempotency-key: must be 1 to 200 visible ASCII characters \(in the headers\)/);
    });

    it('promotes a waiting job to the front (admin, audited) and refuses others', async () => {
      await setEngineReady(false);
      try {
        const a = (await api('POST', '/jobs', { user: { platform: 'api', id: 'p1' }, prompt: 'first', ...small })).json() as { id: string };
        const b = (await api('POST', '/jobs', { user: { platform: 'api', id: 'p2' }, prompt: 'second', ...small })).json() as { id: string };
        const promoted = await api('POST', `/jobs/${b.id}/promote`);
        assert.equal((promoted.json() as { position: number }).position, 1);
        const order = ((await api('GET', '/queue')).json() as { queued: { id: string }[] }).queued.map((j) => j.id);
        assert.deepEqual(order.slice(0, 2), [b.id, a.id]);
        await api('DELETE', `/jobs/${a.id}`);
        expectError(await api('POST', `/jobs/${a.id}/promote`), 409, ErrorCode.InvalidState, /cannot be moved to the front/);
        await api('DELETE', `/jobs/${b.id}`);
      } finally {
        await setEngineReady(true);
      }
    });

    it('404s unknown jobs and routes', async () => {
      expectError(await api('GET', '/jobs/nope'), 404, ErrorCode.NotFound, /No job "nope" exists/);
      expectError(await api('DELETE', '/jobs/nope'), 404, ErrorCode.NotFound);
      expectError(await api('GET', '/jobs/nope/video'), 404, ErrorCode.NotFound);
      expectError(await api('POST', '/jobs/nope/reroll', {}), 404, ErrorCode.NotFound);
      expectError(await api('GET', '/nothing-here'), 404, ErrorCode.NotFound, /There is nothing at GET \/api\/v1\/nothing-here/);
      expectError(await t.request('GET', '/elsewhere', undefined, null), 404, ErrorCode.NotFound);
      expectError(await api('PATCH' as 'GET', '/jobs'), 404, ErrorCode.NotFound);
    });

    it('404s a video whose file is gone', async () => {
      const done = (await api('POST', '/jobs', { user: { platform: 'api', id: 'gone' }, prompt: 'soon deleted', ...small })).json() as { id: string };
      await t.events.waitFor(jobEvent('succeeded', done.id));
      const stored = await t.service.getJob(done.id);
      rmSync(dirname(stored.output!.mediaPath), { recursive: true, force: true });
      expectError(await api('GET', `/jobs/${done.id}/video`), 404, ErrorCode.NotFound, /No video/);
    });
  });

  describe('malformed requests', () => {
    it('answers 400 with a message for bodies that are not a JSON object', async () => {
      const badJson = await t.running.app.inject({ method: 'POST', url: '/api/v1/jobs', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' }, payload: '{"user": ' });
      expectError(badJson, 400, ErrorCode.InvalidRequest, /not valid JSON/);
      const text = await t.running.app.inject({ method: 'POST', url: '/api/v1/jobs', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'text/plain' }, payload: 'make a video' });
      expectError(text, 400, ErrorCode.InvalidRequest, /must be a JSON object/);
      const empty = await t.running.app.inject({ method: 'POST', url: '/api/v1/jobs', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' }, payload: '' });
      expectError(empty, 400, ErrorCode.InvalidRequest);
      expectError(await api('POST', '/jobs'), 400, ErrorCode.InvalidRequest, /JSON object/);
      expectError(await api('POST', '/jobs', [1, 2]), 400, ErrorCode.InvalidRequest, /JSON object/);
      expectError(await api('PUT', '/settings', 'null' as unknown as object), 400, ErrorCode.InvalidRequest);
    });

    it('answers 413 for a body over the size limit', async () => {
      expectError(await api('POST', '/jobs', { user, prompt: 'x'.repeat(70_000) }), 413, ErrorCode.InvalidRequest, /too large/);
    });

    it('names missing, unknown and wrongly typed fields', async () => {
      const missing = expectError(await api('POST', '/jobs', { prompt: 'no user' }), 400, ErrorCode.InvalidRequest);
      assert.match(missing.message, /^user: .*\(in the body\)\.$/);
      expectError(await api('POST', '/jobs', { user, prompt: 'x', colour: 'red' }), 400, ErrorCode.InvalidRequest, /colour/);
      expectError(await api('POST', '/jobs', { user: { ...user, platform: 'irc' }, prompt: 'x' }), 400, ErrorCode.InvalidRequest, /user\.platform/);
      expectError(await api('POST', '/jobs', { user: { platform: 'api', id: '' }, prompt: 'x' }), 400, ErrorCode.InvalidRequest, /user\.id/);
      expectError(await api('POST', '/jobs', { user, prompt: 'x', reply: { channelId: 5 } }), 400, ErrorCode.InvalidRequest, /reply\.channelId/);
      expectError(await api('GET', '/jobs?status=bogus'), 400, ErrorCode.InvalidRequest, /status/);
      expectError(await api('GET', '/jobs?limit=0'), 400, ErrorCode.InvalidRequest, /limit/);
      expectError(await api('GET', '/audit?limit=many'), 400, ErrorCode.InvalidRequest, /limit/);
      expectError(await api('GET', '/users/irc/u-1/quota'), 400, ErrorCode.InvalidRequest, /platform.*\(in the path\)/);
      expectError(await api('PUT', '/users/discord/u-1', { role: 'king' }), 400, ErrorCode.InvalidRequest, /role/);
    });

    it('names the allowed range of each wrong option', async () => {
      const error = expectError(await api('POST', '/jobs', { user, prompt: 'x', frames: 999, width: 65, guidance: 'high' }), 400, ErrorCode.InvalidOptions);
      assert.equal(
        error.message,
        'frames must be a whole number from 1 to 32 (got 999). width must be a whole number from 64 to 512, a multiple of 8 (got 65). guidance must be a number from 1 to 30 (got "high").',
      );
      expectError(await api('POST', '/jobs', { user, prompt: '   ' }), 400, ErrorCode.InvalidOptions, /prompt must be from 1 to 500 characters/);
    });
  });

  describe('policy rejections', () => {
    it('rejects banned words (400), banned users (403), full queues (429/503) and spent quotas (429)', async () => {
      await setEngineReady(false);
      try {
        expectError(await api('POST', '/jobs', { user, prompt: 'much GORE' }), 400, ErrorCode.PromptRejected, /blocked word \("gore"\)/);

        assert.equal((await api('PUT', '/users/slack/banned-1', { banned: true })).statusCode, 200);
        expectError(await api('POST', '/jobs', { user: { platform: 'slack', id: 'banned-1' }, prompt: 'hi' }), 403, ErrorCode.UserBanned);

        const heavy = { platform: 'api', id: 'heavy' };
        for (let i = 0; i < 3; i++) assert.equal((await api('POST', '/jobs', { user: heavy, prompt: `h${i}`, ...small })).statusCode, 202);
        const tooMany = expectError(await api('POST', '/jobs', { user: heavy, prompt: 'h3', ...small }), 429, ErrorCode.TooManyQueued);
        assert.equal(tooMany.message, 'You have 3 videos queued; the limit is 3. Wait for one to finish or cancel one.');
        assert.deepEqual(tooMany.details, { queued: 3, limit: 3 });

        for (let i = 0; i < 5; i++) await api('POST', '/jobs', { user: { platform: 'api', id: `filler-${i}` }, prompt: 'fill', ...small });
        expectError(await api('POST', '/jobs', { user: { platform: 'api', id: 'late' }, prompt: 'late', ...small }), 503, ErrorCode.QueueFull, /queue is full \(8 of 8/);

        for (const job of ((await api('GET', '/queue')).json() as { queued: { id: string }[] }).queued) await api('DELETE', `/jobs/${job.id}`);
        assert.equal((await api('PUT', '/users/api/thrifty/quota', { videosPerDay: 1 })).statusCode, 200);
        assert.equal((await api('POST', '/jobs', { user: { platform: 'api', id: 'thrifty' }, prompt: 'one', ...small })).statusCode, 202);
        const quota = expectError(await api('POST', '/jobs', { user: { platform: 'api', id: 'thrifty' }, prompt: 'two', ...small }), 429, ErrorCode.QuotaExceeded);
        assert.match(quota.message, /^You have used 1 of your 1 video today\. It resets in/);
        assert.equal(quota.details.kind, 'videos');
      } finally {
        for (const job of ((await api('GET', '/queue')).json() as { queued: { id: string }[] }).queued) await api('DELETE', `/jobs/${job.id}`);
        await setEngineReady(true);
      }
    });
  });

  describe('quotas, users, settings, audit', () => {
    it('reads and changes a user quota', async () => {
      const status = (await api('GET', '/users/discord/new-person/quota')).json() as { user: { known: boolean }; limits: { videosPerDay: number }; used: { videos: number }; resetAt: string };
      assert.equal(status.user.known, false);
      assert.equal(status.limits.videosPerDay, 20);
      assert.equal(status.used.videos, 0);
      assert.ok(status.resetAt.endsWith('T00:00:00.000Z'));
      const changed = (await api('PUT', '/users/discord/new-person/quota', { videosPerDay: 2, gpuSecondsPerDay: null })).json() as { limits: { videosPerDay: number }; sources: { videosPerDay: string } };
      assert.equal(changed.limits.videosPerDay, 2);
      assert.equal(changed.sources.videosPerDay, 'user');
      expectError(await api('PUT', '/users/discord/new-person/quota', { videosPerDay: 'lots' }), 400, ErrorCode.InvalidRequest, /videosPerDay must be a whole number/);
      expectError(await api('PUT', '/users/discord/new-person/quota', {}), 400, ErrorCode.InvalidRequest, /at least one of/);
      expectError(await api('PUT', '/users/discord/new-person/quota', [] as unknown as object), 400, ErrorCode.InvalidRequest);
      const workspace = await api('PUT', '/workspaces/slack/T9/quota', { maxQueued: 7 });
      assert.deepEqual(workspace.json(), { videosPerDay: null, gpuSecondsPerDay: null, maxQueued: 7 });
      assert.deepEqual((await api('GET', '/workspaces/slack/T9/quota')).json(), { videosPerDay: null, gpuSecondsPerDay: null, maxQueued: 7 });
    });

    it('changes roles, settings and lists the audit log', async () => {
      const role = await api('PUT', '/users/discord/u-7', { role: 'trusted' });
      assert.deepEqual(role.json(), { platform: 'discord', id: 'u-7', name: null, role: 'trusted', banned: false });
      const settings = (await api('GET', '/settings')).json() as { values: { queueCap: number; bannedWords: string[] } };
      assert.equal(settings.values.queueCap, 8);
      assert.deepEqual(settings.values.bannedWords, ['gore']);
      const updated = (await api('PUT', '/settings', { outputRetentionDays: 30 })).json() as { values: { outputRetentionDays: number }; overridden: string[] };
      assert.equal(updated.values.outputRetentionDays, 30);
      assert.deepEqual(updated.overridden, ['outputRetentionDays']);
      const invalid = expectError(await api('PUT', '/settings', { outputRetentionDays: -1, nope: true }), 400, ErrorCode.InvalidRequest);
      assert.match(invalid.message, /outputRetentionDays must be a whole number of days from 0 \(keep forever\) to 36500 \(got -1\)\. nope is not a setting/);
      const audit = (await api('GET', '/audit?limit=50')).json() as { entries: { action: string; actor: string; at: string }[] };
      const actions = audit.entries.map((e) => e.action);
      for (const action of ['settings.update', 'user.update', 'quota.user.set', 'quota.workspace.set']) assert.ok(actions.includes(action), action);
      assert.ok(audit.entries.every((e) => e.actor === 'admin:api' && !Number.isNaN(Date.parse(e.at))));
    });

    it('publishes the option ranges', async () => {
      const limits = (await api('GET', '/limits')).json() as { frames: { max: number }; width: { multipleOf: number }; prompt: { maxLength: number } };
      assert.equal(limits.frames.max, 32);
      assert.equal(limits.width.multipleOf, 8);
      assert.equal(limits.prompt.maxLength, 500);
    });
  });

  describe('health and metrics', () => {
    it('reports health and Prometheus metrics without authentication', async () => {
      const health = await t.request('GET', '/healthz', undefined, null);
      assert.equal(health.statusCode, 200);
      const body = health.json() as { status: string; database: string; engine: { ready: boolean; model: string } };
      assert.equal(body.status, 'ok');
      assert.equal(body.database, 'ok');
      assert.equal('videoStorage' in body, false, 'reported only when the videos are kept in a bucket');
      assert.deepEqual([body.engine.ready, body.engine.model], [true, 'test-renderer']);
      const metrics = await t.request('GET', '/metrics', undefined, null);
      assert.equal(metrics.statusCode, 200);
      assert.match(String(metrics.headers['content-type']), /text\/plain/);
      assert.match(metrics.body, /^t2v_queue_depth \d+$/m);
      assert.match(metrics.body, /^t2v_jobs_running \d+$/m);
      assert.match(metrics.body, /^t2v_engine_ready 1$/m);
      assert.match(metrics.body, /^t2v_jobs_finished_total\{status="succeeded"\} [1-9]\d*$/m);
      assert.match(metrics.body, /^t2v_jobs_finished_total\{status="cancelled"\} [1-9]\d*$/m);
      assert.match(metrics.body, /^t2v_job_render_seconds_count [1-9]\d*$/m);
    });
  });
});

describe('HTTP API when things break', () => {
  it('answers 500 with a generic message, never the internal error, and keeps serving', async () => {
    const t = await startTestService({ renderer: new TestRenderer() });
    try {
      // Break the database under the running service.
      await t.running.db.prisma.$executeRawUnsafe('DROP TABLE "Job"');
      await t.running.db.prisma.$executeRawUnsafe('DROP TABLE "Setting"');
      const response = await t.request('GET', '/api/v1/jobs');
      const error = expectError(response, 500, ErrorCode.Internal, /^Something went wrong on our side/);
      assert.deepEqual(error.details, {});
      assert.doesNotMatch(response.body, /prisma|sqlite|connector/i);
      assert.ok(t.logLines.some((line) => line.includes('"level":50') && line.includes('request failed')));
      const health = await t.request('GET', '/healthz', undefined, null);
      assert.equal(health.statusCode, 503);
      assert.equal((health.json() as { status: string }).status, 'unavailable');
    } finally {
      await t.destroy().catch(() => undefined);
    }
  });

  it('refuses new jobs with 503 while draining for shutdown, and still answers reads', async () => {
    const renderer = new TestRenderer();
    const t = await startTestService({ renderer });
    try {
      renderer.hold();
      const running = (await t.request('POST', '/api/v1/jobs', { user, prompt: 'finishing', ...small })).json() as { id: string };
      await t.events.waitFor(jobEvent('started', running.id));
      const closing = t.running.close();
      const refused = await t.request('POST', '/api/v1/jobs', { user, prompt: 'too late', ...small });
      expectError(refused, 503, ErrorCode.ShuttingDown, /restarting/);
      assert.equal((await t.request('GET', `/api/v1/jobs/${running.id}`)).statusCode, 200);
      assert.equal(((await t.request('GET', '/healthz', undefined, null)).json() as { draining: boolean }).draining, true);
      renderer.release();
      await closing;
      assert.equal(t.events.events.some((e) => e.type === 'succeeded' && e.job.id === running.id), true);
    } finally {
      await t.destroy();
    }
  });

  it('reports a degraded service without an engine', async () => {
    const t = await startTestService({ renderer: null });
    try {
      const health = (await t.request('GET', '/healthz', undefined, null)).json() as { status: string; engine: { ready: boolean; message: string } };
      assert.equal(health.status, 'degraded');
      assert.equal(health.engine.ready, false);
      assert.match(health.engine.message, /No engine is installed/);
      const accepted = await t.request('POST', '/api/v1/jobs', { user, prompt: 'later', ...small });
      assert.equal(accepted.statusCode, 202);
      assert.equal((accepted.json() as { etaSeconds: number | null }).etaSeconds, null);
    } finally {
      await t.destroy();
    }
  });
});
