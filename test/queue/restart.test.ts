// Real processes: kill the service mid-queue and start it again, drain on SIGTERM, and several processes sharing
// one database. Every job must be accounted for.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ErrorCode } from '../../src/core/errors.js';
import type { Job, Requester } from '../../src/core/jobs.js';
import type { SubmitRequest } from '../../src/service/video-service.js';
import { connectDatabase, databaseTarget } from '../../src/db/database.js';
import { JobStore } from '../../src/queue/job-store.js';
import { startChildService, type ChildService } from '../support/child-service.js';
import { createTestDatabase, PROVIDERS, type TestDatabase } from '../support/test-databases.js';
import { testEnv } from '../support/test-service.js';

const users: Record<string, Requester> = {
  A: { platform: 'discord', platformUserId: 'anna' },
  B: { platform: 'discord', platformUserId: 'ben' },
  C: { platform: 'slack', platformUserId: 'cleo', workspaceId: 'T1' },
  X: { platform: 'discord', platformUserId: 'xavi' },
};

/** "A1" -> a job by user A with prompt "A1". */
function job(label: string, steps = 5): SubmitRequest {
  return {
    requester: users[label[0]!]!,
    options: { prompt: label, steps, frames: 2, width: 64, height: 64 },
    reply: { platform: users[label[0]!]!.platform, channelId: `channel-${label}`, threadId: `thread-${label}` },
  };
}

async function storedJobs(url: string): Promise<Map<string, Job>> {
  const db = await connectDatabase(databaseTarget(url));
  try {
    const jobs = await new JobStore(db.prisma).list({ limit: 500 });
    return new Map(jobs.map((j) => [j.params.prompt, j]));
  } finally {
    await db.close();
  }
}

async function usedVideos(url: string, platformUserId: string): Promise<number> {
  const db = await connectDatabase(databaseTarget(url));
  try {
    const user = await db.prisma.user.findFirstOrThrow({ where: { platformUserId } });
    const sum = await db.prisma.usageEntry.aggregate({ where: { userId: user.id }, _sum: { videos: true } });
    return sum._sum.videos ?? 0;
  } finally {
    await db.close();
  }
}

/** Submits one after another (so submit order is the given order) and checks each was accepted. */
async function submitAll(child: ChildService, requests: SubmitRequest[]): Promise<void> {
  for (const request of requests) {
    const [result] = await child.submit([request]);
    assert.equal(result?.ok, true, `${String(request.options.prompt)} was rejected: ${result?.code}`);
  }
}

const succeeded = (prompt: string) => (e: { type: string; prompt?: string }) => e.type === 'succeeded' && e.prompt === prompt;
const started = (prompt: string) => (e: { type: string; prompt?: string }) => e.type === 'started' && e.prompt === prompt;

for (const provider of PROVIDERS) {
  describe(`restart and shutdown (${provider})`, () => {
    let database: TestDatabase;
    let dataDir: string;
    let children: ChildService[] = [];
    const spawn = async (env: Record<string, string>) => {
      const child = await startChildService({ ...testEnv(database, dataDir, { MAX_QUEUED_PER_USER: '10', LOG_LEVEL: 'warn' }), ...env });
      children.push(child);
      return child;
    };
    const kill = async (child: ChildService) => {
      child.child.kill('SIGKILL');
      assert.equal(await child.exited, 'SIGKILL');
    };

    // Each test gets its own database and data folder: restart tests depend on exactly what is stored.
    beforeEach(async () => {
      database = await createTestDatabase(provider);
      dataDir = mkdtempSync(join(tmpdir(), 't2v-restart-'));
      children = [];
    });
    afterEach(async () => {
      for (const child of children) if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
      await Promise.all(children.map((c) => c.exited));
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('after a kill mid-queue, retries the interrupted job first and keeps the fair order of the rest', async () => {
      // Every render reports exactly its estimate, so the run order is the projected one (no cost corrections).
      const first = await spawn({ TEST_ENGINE_READY: '0', TEST_STEP_MS: '200', TEST_GPU_SECONDS: '0.075' });
      await submitAll(first, ['A1', 'A2', 'A3', 'B1', 'B2', 'C1'].map((label) => job(label)));
      await first.setReady(true);
      await first.waitForEvent(started('A1'));
      const beforeKill = await first.queue();
      assert.deepEqual(beforeKill, { running: ['A1'], queued: ['B1', 'C1', 'A2', 'B2', 'A3'] });
      await kill(first);

      const second = await spawn({ TEST_ENGINE_READY: '0', TEST_GPU_SECONDS: '0.075' });
      assert.deepEqual(await second.queue(), { running: [], queued: ['A1', ...beforeKill.queued] });
      assert.ok(second.events.some((e) => e.type === 'requeued' && e.prompt === 'A1'));
      await second.setReady(true);
      for (const label of ['A1', 'B1', 'C1', 'A2', 'B2', 'A3']) await second.waitForEvent(succeeded(label));
      assert.deepEqual(
        second.events.filter((e) => e.type === 'started').map((e) => e.prompt),
        ['A1', 'B1', 'C1', 'A2', 'B2', 'A3'],
      );
      second.child.kill('SIGTERM');
      assert.equal(await second.exited, 0);

      const jobs = await storedJobs(database.url);
      assert.equal(jobs.size, 6);
      for (const [label, stored] of jobs) {
        assert.equal(stored.status, 'succeeded', label);
        assert.equal(stored.attempts, label === 'A1' ? 2 : 1, label);
        assert.equal(stored.reply.threadId, `thread-${label}`);
      }
    });

    it('fails a job interrupted twice with a clear message, refunds it, and runs the others', async () => {
      const first = await spawn({ TEST_STEP_MS: '100' });
      await submitAll(first, [job('X1', 50)]);
      await first.waitForEvent(started('X1'));
      await submitAll(first, [job('B1')]);
      await kill(first);

      const second = await spawn({ TEST_STEP_MS: '100' });
      await second.waitForEvent(started('X1'));
      await kill(second);

      const third = await spawn({ TEST_STEP_MS: '1' });
      await third.waitForEvent(succeeded('B1'));
      const jobs = await storedJobs(database.url);
      const x1 = jobs.get('X1')!;
      assert.equal(x1.status, 'failed');
      assert.equal(x1.attempts, 2);
      assert.equal(x1.error?.code, ErrorCode.JobInterrupted);
      assert.equal(x1.error?.message, 'Rendering this video was interrupted 2 times (the service or the worker rendering it stopped), so it was not retried again. Your quota for it was refunded.');
      assert.equal(await usedVideos(database.url, 'xavi'), 0);
      third.child.kill('SIGTERM');
      assert.equal(await third.exited, 0);
    });

    it('on SIGTERM lets the running job finish, leaves waiting jobs queued, and exits 0', async () => {
      const child = await spawn({ TEST_STEP_MS: '100', DRAIN_TIMEOUT_SECONDS: '60' });
      await submitAll(child, [job('A1', 20), job('B1', 20)]);
      await child.waitForEvent(started('A1'));
      child.child.kill('SIGTERM');
      assert.equal(await child.exited, 0);
      const jobs = await storedJobs(database.url);
      assert.equal(jobs.get('A1')?.status, 'succeeded');
      assert.equal(jobs.get('B1')?.status, 'queued');
    });

    it('on SIGTERM past the drain timeout puts the running job back without counting the attempt', async () => {
      const child = await spawn({ TEST_STEP_MS: '100', DRAIN_TIMEOUT_SECONDS: '0' });
      await submitAll(child, [job('A1', 50)]);
      await child.waitForEvent(started('A1'));
      child.child.kill('SIGTERM');
      assert.equal(await child.exited, 0);
      const stopped = (await storedJobs(database.url)).get('A1')!;
      assert.equal(stopped.status, 'queued');
      assert.equal(stopped.attempts, 0);

      const next = await spawn({ TEST_STEP_MS: '1' });
      await next.waitForEvent(succeeded('A1'));
      assert.equal((await storedJobs(database.url)).get('A1')?.attempts, 1);
      next.child.kill('SIGTERM');
      assert.equal(await next.exited, 0);
    });

    it('keeps the GPU-seconds quota exact when two processes submit at once', async () => {
      // 8 frames x 25 steps x (64x64)/(256x256) x 2 (guidance) = 25 units x 0.1 s = 2.5 s each: 40 fit into 100.
      const env = { TEST_ENGINE_READY: '0', QUOTA_GPU_SECONDS_PER_DAY: '100', QUOTA_VIDEOS_PER_DAY: '1000', MAX_QUEUED_PER_USER: '1000' };
      const [one, two] = await Promise.all([spawn(env), spawn(env)]);
      const heavy = (i: number): SubmitRequest => ({ ...job(`A${i}`), options: { prompt: `A${i}`, frames: 8, steps: 25, width: 64, height: 64 } });
      const [r1, r2] = await Promise.all([
        one!.submit(Array.from({ length: 25 }, (_, i) => heavy(i))),
        two!.submit(Array.from({ length: 25 }, (_, i) => heavy(25 + i))),
      ]);
      const results = [...r1, ...r2];
      assert.equal(results.filter((r) => r.ok).length, 40);
      assert.deepEqual([...new Set(results.filter((r) => !r.ok).map((r) => r.code))], [ErrorCode.QuotaExceeded]);
      assert.equal(await usedVideos(database.url, 'anna'), 40);
      for (const child of [one!, two!]) {
        child.child.kill('SIGTERM');
        assert.equal(await child.exited, 0);
      }
    });
  });
}
