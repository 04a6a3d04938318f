// Database faults under a running service (the real service in-process with the test renderer): a private Postgres
// server stopped and started again (as `pg_ctlcluster … restart` does) or killed with SIGKILL, and a SQLite file
// locked by another process. While the database is away /healthz says `unavailable`, submits are refused within
// seconds with a 503 and one plain sentence, and a render that finishes meanwhile waits; once the database is back
// the service is healthy again without a restart, records that job once (one settle in the usage ledger, one
// `succeeded` event, rendered once) and takes new jobs. A shutdown during the outage keeps the finished render for
// the next start. A Postgres behind a network cut (nothing answers) counts as unavailable within seconds too, and a
// submit refused meanwhile leaves no job once its transaction reaches the server.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { ErrorCode, VideoBotError } from '../../src/core/errors.js';
import { RETRY_AFTER_SECONDS } from '../../src/db/database-faults.js';
import type { SubmitRequest } from '../../src/service/video-service.js';
import { jobEvent } from '../support/events.js';
import { CuttableLink } from '../support/cuttable-link.js';
import { startPrivatePostgres } from '../support/private-postgres.js';
import { createTestDatabase } from '../support/test-databases.js';
import { lockSqlite } from '../support/sqlite-lock.js';
import { TestRenderer } from '../support/test-renderer.js';
import { healthSummary, startTestService, type TestService } from '../support/test-service.js';
import { until } from '../support/until.js';

const user = { platform: 'api', id: 'outage-client' };
const small = { frames: 2, steps: 3, width: 64, height: 64 };
/** Far below the 15 s busy timeout and the 60 s transaction wait a submit could meet before. */
const QUICK_REFUSAL_MS = 5_000;
/** A database that answers nothing is given 10 s (database.ts); a request then has its 503 soon after. */
const UNANSWERED_REFUSAL_MS = 13_000;

function chatSubmit(prompt: string): SubmitRequest {
  return {
    requester: { platform: 'discord', platformUserId: 'dana' },
    options: { prompt, ...small },
    reply: { platform: 'discord', channelId: 'c1' },
  };
}

/**
 * What clients see during the outage, asked all at once: /healthz, three HTTP API submits (503 with Retry-After) and a
 * chat submit (the same coded error, hence the same sentence in a chat reply).
 */
async function expectUnavailable(t: TestService, withinMs = QUICK_REFUSAL_MS): Promise<void> {
  const started = Date.now();
  const [health, chat, ...responses] = await Promise.all([
    healthSummary(t),
    t.service.submit(chatSubmit('from chat')).then(
      () => assert.fail('a chat submit was accepted during the outage'),
      (error: unknown) => error,
    ),
    ...['one', 'two', 'three'].map((n) => t.request('POST', '/api/v1/jobs', { user, prompt: `during ${n}`, ...small })),
  ]);
  const waitedMs = Date.now() - started;
  assert.deepEqual(health, { code: 503, status: 'unavailable', database: 'unreachable' });
  assert.ok(chat instanceof VideoBotError && chat.is(ErrorCode.Unavailable), String(chat));
  for (const response of responses) {
    assert.equal(response.statusCode, 503, response.body);
    assert.equal(response.headers['retry-after'], String(RETRY_AFTER_SECONDS));
    const { error } = response.json() as { error: { code: string; message: string } };
    assert.equal(error.code, ErrorCode.Unavailable);
    assert.equal(error.message, `The service's database is not available right now. Please try again in ${RETRY_AFTER_SECONDS} seconds.`);
  }
  assert.ok(waitedMs < withinMs, `the requests waited ${waitedMs} ms for their 503`);
}

async function settleEntries(t: TestService, jobId: string): Promise<number> {
  return t.running.db.prisma.usageEntry.count({ where: { jobId, kind: 'settle' } });
}

/**
 * Starts a render, breaks the database (`breakIt`) while it runs, lets the render finish during the outage, checks
 * what clients see, repairs the database (`repair`) and checks that everything carries on.
 */
async function renderThroughOutage(t: TestService, renderer: TestRenderer, breakIt: () => Promise<void>, repair: () => Promise<void>): Promise<void> {
  renderer.hold();
  const { job } = await t.service.submit(chatSubmit('finishes during the outage'));
  await t.events.waitFor(jobEvent('started', job.id));

  await breakIt();
  renderer.release();
  await until('the worker retries recording the finished render', () => t.logLines.some((line) => line.includes('retrying to record the end of a job')));
  await expectUnavailable(t);
  assert.equal(t.events.events.some(jobEvent('succeeded', job.id)), false);

  await repair();
  await until('/healthz says ok again', async () => (await healthSummary(t)).status === 'ok');
  await t.events.waitFor(jobEvent('succeeded', job.id), 15_000);
  const stored = await t.service.getJob(job.id);
  assert.equal(stored.status, 'succeeded');
  assert.equal(stored.attempts, 1);
  assert.equal(renderer.renders.length, 1, 'rendered once');
  assert.equal(await settleEntries(t, job.id), 1, 'charged once');

  const after = await t.request('POST', '/api/v1/jobs', { user, prompt: 'after the outage', ...small });
  assert.equal(after.statusCode, 202, after.body);
  const next = (after.json() as { id: string }).id;
  await t.events.waitFor(jobEvent('succeeded', next));
  assert.equal(t.events.events.filter(jobEvent('succeeded', job.id)).length, 1, 'one succeeded event');
}

// Bounds a test that goes wrong (a wait that never ends) so that it fails instead of hanging.
const TEST_OPTIONS = { timeout: 60_000 };

describe('database faults under a running service', () => {
  for (const fault of ['stopped and started again', 'killed with SIGKILL and started again'] as const) {
    it(`Postgres ${fault}: unavailable meanwhile, then carries on and records the finished render once`, TEST_OPTIONS, async () => {
      const postgres = await startPrivatePostgres();
      const renderer = new TestRenderer();
      const t = await startTestService({ database: postgres.database, renderer });
      try {
        await renderThroughOutage(t, renderer, () => (fault === 'stopped and started again' ? postgres.stop() : postgres.kill()), () => postgres.start());
      } finally {
        await t.destroy();
        await postgres.destroy();
      }
    });
  }

  it('Postgres behind a network cut (connections stay open, nothing answers): unavailable within seconds, no job from a refused submit once the link is back, then carries on', TEST_OPTIONS, async () => {
    const database = await createTestDatabase('postgresql');
    const link = await CuttableLink.start(database.url);
    const t = await startTestService({ database: { ...database, url: link.via(database.url) } });
    try {
      assert.equal((await healthSummary(t)).status, 'ok');
      link.cut();
      const started = Date.now();
      assert.deepEqual(await healthSummary(t), { code: 503, status: 'unavailable', database: 'unreachable' });
      const waitedMs = Date.now() - started;
      assert.ok(waitedMs < QUICK_REFUSAL_MS, `/healthz waited ${waitedMs} ms`);
      await expectUnavailable(t, UNANSWERED_REFUSAL_MS);

      link.restore();
      await until('/healthz says ok again', async () => (await healthSummary(t)).status === 'ok');
      // The refused submits' transactions reach the server now that the link is back; none may leave a job behind.
      await sleep(1_000);
      assert.deepEqual(await t.running.db.prisma.job.findMany({ select: { prompt: true } }), [], 'no job from a refused submit');
      const after = await t.request('POST', '/api/v1/jobs', { user, prompt: 'after the cut', ...small });
      assert.equal(after.statusCode, 202, after.body);
      await t.events.waitFor(jobEvent('succeeded', (after.json() as { id: string }).id));
    } finally {
      await t.destroy();
      await link.close();
      await database.drop();
    }
  });

  it('SQLite locked by another process: unavailable meanwhile, then carries on and records the finished render once', TEST_OPTIONS, async () => {
    const renderer = new TestRenderer();
    const t = await startTestService({ provider: 'sqlite', renderer });
    try {
      let lock: { release(): Promise<void> } | undefined;
      try {
        await renderThroughOutage(
          t,
          renderer,
          async () => void (lock = await lockSqlite(t.database)),
          () => lock!.release(),
        );
      } finally {
        await lock?.release();
      }
    } finally {
      await t.destroy();
    }
  });

  for (const provider of ['sqlite', 'postgres'] as const) {
    const where = provider === 'sqlite' ? 'SQLite locked' : 'Postgres stopped (videos kept in the database)';
    it(`a shutdown during the outage keeps the finished render: the next start records it once without rendering it again (${where})`, TEST_OPTIONS, async () => {
      const postgres = provider === 'postgres' ? await startPrivatePostgres() : undefined;
      const database = postgres?.database ?? (await createTestDatabase('sqlite'));
      const renderer = new TestRenderer();
      const first = await startTestService({ database, renderer, env: { DRAIN_TIMEOUT_SECONDS: '1' } });
      let second: TestService | undefined;
      let lock: { release(): Promise<void> } | undefined;
      let stopped = false;
      const repair = async () => {
        await lock?.release();
        lock = undefined;
        if (stopped) await postgres?.start();
        stopped = false;
      };
      try {
        renderer.hold();
        const { job } = await first.service.submit(chatSubmit('finishes before the shutdown'));
        await first.events.waitFor(jobEvent('started', job.id));
        if (postgres === undefined) lock = await lockSqlite(database);
        else {
          await postgres.stop();
          stopped = true;
        }
        renderer.release();
        await until('the worker retries recording the finished render', () => first.logLines.some((line) => line.includes('retrying to record the end of a job')));
        await first.stop();
        assert.equal(first.events.events.some(jobEvent('succeeded', job.id)), false);
        await repair();

        const restarted = new TestRenderer();
        second = await startTestService({ database, dataDir: first.dataDir, renderer: restarted });
        const recorded = await second.events.waitFor(jobEvent('succeeded', job.id));
        const videoPath = `${first.dataDir}/outputs/${job.id}/video.mp4`;
        assert.equal(recorded.job.output?.mediaPath, videoPath);
        const stored = await second.service.getJob(job.id);
        assert.equal(stored.status, 'succeeded');
        assert.equal(restarted.renders.length, 0, 'not rendered again');
        assert.equal(await settleEntries(second, job.id), 1, 'charged once');
        assert.equal(second.events.events.filter(jobEvent('succeeded', job.id)).length, 1);
        // A front on another host serves and posts the video from the database, as after a live success.
        const kept = await second.running.db.prisma.jobFile.findMany({ where: { jobId: job.id }, orderBy: { kind: 'asc' } });
        if (provider === 'postgres') {
          assert.deepEqual(kept.map((file) => [file.kind, file.fileName]), [['poster', 'poster.png'], ['video', 'video.mp4']]);
          assert.deepEqual(Buffer.from(kept[1]!.bytes!), readFileSync(videoPath));
        } else assert.equal(kept.length, 0, 'MEDIA_STORE=files keeps videos on disk only');
      } finally {
        await repair();
        await second?.destroy();
        await first.destroy();
        if (postgres === undefined) await database.drop();
        else await postgres.destroy();
      }
    });
  }
});
