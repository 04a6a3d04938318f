// The dashboard's read-only queries (usage aggregates, history filters, user search) on SQLite and Postgres, over
// jobs that really went through the service on three different days (an injected clock).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Requester } from '../../src/core/jobs.js';
import { lastDays, UsageStats } from '../../src/db/usage-stats.js';
import { JobHistory } from '../../src/queue/job-history.js';
import { UserDirectory } from '../../src/queue/user-directory.js';
import { jobEvent } from '../support/events.js';
import { PROVIDERS } from '../support/test-databases.js';
import { TestRenderer } from '../support/test-renderer.js';
import { startTestService, type TestService } from '../support/test-service.js';

const DAY_MS = 86_400_000;
const TODAY = new Date('2026-03-10T12:00:00Z');
const ann: Requester = { platform: 'discord', platformUserId: 'ann-1', displayName: 'Ann' };
const bob: Requester = { platform: 'slack', platformUserId: 'U0BOB', displayName: 'BOB' };
const bot: Requester = { platform: 'api', platformUserId: 'ci-bot' };

for (const provider of PROVIDERS) {
  describe(`dashboard queries on ${provider}`, () => {
    let t: TestService;
    let now = new Date(TODAY.getTime() - 2 * DAY_MS);
    const ids: Record<string, string> = {};

    async function run(name: string, requester: Requester, prompt: string, outcome: 'succeeded' | 'failed'): Promise<void> {
      const { job } = await t.service.submit({ requester, options: { prompt, steps: 2, frames: 2, width: 64, height: 64 }, reply: { platform: 'api', channelId: '' } });
      ids[name] = job.id;
      await t.events.waitFor(jobEvent(outcome, job.id));
    }

    before(async () => {
      // Every render reports 2 GPU-seconds; prompts with "boom" fail. The clock only moves when the test moves it.
      const renderer = new TestRenderer({ gpuSeconds: 2, failOn: { promptIncludes: 'boom', message: 'exploded' } });
      t = await startTestService({ provider, renderer, clock: () => now });
      await run('annOld', ann, 'two days ago', 'succeeded');
      now = new Date(TODAY.getTime() - DAY_MS);
      await run('bobYesterday', bob, 'yesterday', 'succeeded');
      await run('annFailed', ann, 'boom', 'failed');
      now = TODAY;
      await run('bobToday', bob, 'today', 'succeeded');
      // Held: whether the cancel finds the job waiting or already rendering, it cannot finish first.
      renderer.hold();
      const queued = await t.service.submit({ requester: bot, options: { prompt: 'never mind' }, reply: { platform: 'api', channelId: '' } });
      ids.botCancelled = queued.job.id;
      await t.service.cancel(queued.job.id, { kind: 'admin', name: 'test' });
      renderer.release();
    });
    after(async () => t?.destroy());

    test('videos and GPU-seconds per UTC day, by the requester platform', async () => {
      const stats = new UsageStats(t.running.db.prisma);
      const daily = await stats.dailyByPlatform(7, now);
      assert.deepEqual(daily.days, lastDays(7, now));
      assert.equal(daily.days.at(-1), '2026-03-10');
      assert.deepEqual(daily.videos.discord.slice(-3), [1, 0, 0]);
      assert.deepEqual(daily.videos.slack.slice(-3), [0, 1, 1]);
      assert.deepEqual(daily.videos.api.slice(-3), [0, 0, 0]);
      assert.deepEqual(daily.gpuSeconds.slack.slice(-3), [0, 2, 2]);
      assert.deepEqual(daily.gpuSeconds.discord.slice(-3), [2, 0, 0], "a failed render's GPU time counts on its day (0 s here)");
      assert.equal(daily.videos.discord.slice(0, 4).reduce((a, b) => a + b, 0), 0);
    });

    test("today's counts and the busiest users", async () => {
      const stats = new UsageStats(t.running.db.prisma);
      assert.deepEqual(await stats.today(now), { submitted: 2, succeeded: 1, failed: 0, cancelled: 1 });
      assert.deepEqual(await stats.today(new Date(TODAY.getTime() - DAY_MS)), { submitted: 2, succeeded: 1, failed: 1, cancelled: 0 });
      const busiest = await stats.busiestUsers(7, now, 5);
      assert.deepEqual(
        busiest.map((u) => [u.platformUserId, u.videos, u.gpuSeconds]),
        [
          ['U0BOB', 2, 4],
          ['ann-1', 1, 2],
        ],
      );
      assert.deepEqual((await stats.busiestUsers(1, now, 5)).map((u) => u.platformUserId), ['U0BOB']);
    });

    test('quota usage per user from the ledger: today and the window', async () => {
      const stats = new UsageStats(t.running.db.prisma);
      const users = await t.service.listUsers();
      const idOf = (platformUserId: string) => users.find((u) => u.platformUserId === platformUserId)!.id;
      const usage = await stats.usageByUser([idOf('U0BOB'), idOf('ann-1'), idOf('ci-bot')], 7, now);
      assert.deepEqual(usage.get(idOf('U0BOB')), { today: { videos: 1, gpuSeconds: 2 }, window: { videos: 2, gpuSeconds: 4 } });
      assert.deepEqual(usage.get(idOf('ann-1'))!.window, { videos: 1, gpuSeconds: 2 }, 'the failed job was refunded');
      assert.deepEqual(usage.get(idOf('ci-bot')), { today: { videos: 0, gpuSeconds: 0 }, window: { videos: 0, gpuSeconds: 0 } }, 'the cancel was refunded');
      assert.equal((await stats.usageByUser([], 7, now)).size, 0);
    });

    test('history: filters by user text (case-insensitive), platform, status and dates; pages newest first', async () => {
      const history = new JobHistory(t.running.db.prisma, provider);
      const search = async (filter: Omit<Parameters<JobHistory['search']>[0], 'page' | 'pageSize'>, page = 1, pageSize = 10) =>
        history.search({ ...filter, page, pageSize });
      assert.deepEqual((await search({})).jobs.map((j) => j.id), [ids.botCancelled, ids.bobToday, ids.annFailed, ids.bobYesterday, ids.annOld]);
      assert.deepEqual((await search({ user: 'bob' })).jobs.map((j) => j.id), [ids.bobToday, ids.bobYesterday], 'matches the display name BOB');
      assert.deepEqual((await search({ user: 'u0b' })).jobs.map((j) => j.id), [ids.bobToday, ids.bobYesterday], 'matches the platform user id');
      assert.deepEqual((await search({ platform: 'discord' })).jobs.map((j) => j.id), [ids.annFailed, ids.annOld]);
      assert.deepEqual((await search({ statuses: ['failed'] })).jobs.map((j) => j.id), [ids.annFailed]);
      const yesterday = new Date('2026-03-09T00:00:00Z');
      assert.deepEqual((await search({ from: yesterday, to: new Date(yesterday.getTime() + DAY_MS) })).jobs.map((j) => j.id), [ids.annFailed, ids.bobYesterday]);
      assert.equal((await search({ user: 'a\\' })).total, 0, 'a backslash is plain text on both providers');
      assert.deepEqual((await search({ user: 'a_-1' })).jobs.map((j) => j.id), [], '_ matches exactly one character');
      assert.deepEqual((await search({ user: 'a__-1' })).jobs.map((j) => j.id), [ids.annFailed, ids.annOld], '_ is a wildcard (SQL LIKE)');
      const second = await search({}, 2, 2);
      assert.deepEqual([second.total, second.page, second.pages], [5, 2, 3]);
      assert.deepEqual(second.jobs.map((j) => j.id), [ids.annFailed, ids.bobYesterday]);
      assert.equal((await search({}, 99, 2)).page, 3, 'a page past the end shows the last one');
    });

    test('users: search by name or id, case-insensitive, with queued counts', async () => {
      const directory = new UserDirectory(t.running.db.prisma, provider);
      const all = await directory.search({ page: 1, pageSize: 10 });
      assert.equal(all.total, 3);
      assert.deepEqual((await directory.search({ text: 'An', page: 1, pageSize: 10 })).users.map((u) => u.platformUserId), ['ann-1']);
      assert.deepEqual((await directory.search({ text: 'BOT', page: 1, pageSize: 10 })).users.map((u) => u.platformUserId), ['ci-bot']);
      assert.deepEqual((await directory.search({ text: 'bob', page: 1, pageSize: 10 })).users.map((u) => u.displayName), ['BOB']);
      assert.ok(all.users.every((u) => u.queued === 0));
    });
  });
}
