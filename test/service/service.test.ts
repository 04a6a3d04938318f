// The service facade over a real database (SQLite and Postgres) with the test renderer: lifecycle, quotas and
// their atomicity, limits, cancel paths, fair order, events, settings and overrides.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ErrorCode, VideoBotError } from '../../src/core/errors.js';
import type { Actor, Requester } from '../../src/core/jobs.js';
import { DELIVERY_LIFETIME_MS, type SubmitRequest, type VideoService } from '../../src/service/video-service.js';
import { jobEvent } from '../support/events.js';
import { createTestDatabase, PROVIDERS } from '../support/test-databases.js';
import { TestRenderer } from '../support/test-renderer.js';
import { startTestService, type TestService } from '../support/test-service.js';

const alice: Requester = { platform: 'discord', platformUserId: 'alice', workspaceId: 'guild-1', displayName: 'Alice' };
const bob: Requester = { platform: 'discord', platformUserId: 'bob', workspaceId: 'guild-1' };
const carol: Requester = { platform: 'slack', platformUserId: 'carol', workspaceId: 'team-1' };
const admin: Actor = { kind: 'admin', name: 'test' };
const asActor = (r: Requester): Actor => ({ kind: 'user', platform: r.platform, platformUserId: r.platformUserId });

function request(requester: Requester, prompt: string, options: Record<string, unknown> = {}): SubmitRequest {
  return { requester, options: { prompt, steps: 3, frames: 2, width: 64, height: 64, ...options }, reply: { platform: requester.platform, channelId: 'chan-1', threadId: 'thread-9', extra: { locale: 'en' } } };
}

async function rejectionOf(promise: Promise<unknown>): Promise<VideoBotError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof VideoBotError, `expected a VideoBotError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a rejection');
}

async function withService(options: Parameters<typeof startTestService>[0], use: (t: TestService) => Promise<void>): Promise<void> {
  const t = await startTestService(options);
  try {
    await use(t);
  } finally {
    await t.destroy();
  }
}

function queuedPrompts(service: VideoService): string[] {
  return service.listQueue().queued.map((q) => q.job.params.prompt);
}

for (const provider of PROVIDERS) {
  describe(`VideoService (${provider})`, () => {
    it('renders a job end to end: events, output, settled quota, persisted reply context', () =>
      withService({ provider }, async ({ service, events, dataDir }) => {
        const { job, position } = await service.submit(request(alice, 'a panda playing guitar', { seed: 77 }));
        assert.equal(job.status, 'queued');
        assert.ok(position === 1 || position === 0);
        const done = await events.waitFor(jobEvent('succeeded', job.id));
        assert.deepEqual(events.typesFor(job.id).filter((t) => t !== 'position'), ['queued', 'started', 'progress', 'progress', 'progress', 'succeeded']);
        const progress = events.events.filter((e) => e.type === 'progress' && e.job.id === job.id).map((e) => (e.type === 'progress' ? `${e.step}/${e.totalSteps}` : ''));
        assert.deepEqual(progress, ['1/3', '2/3', '3/3']);

        const stored = await service.getJob(job.id);
        assert.equal(stored.status, 'succeeded');
        assert.equal(stored.params.seed, 77);
        assert.equal(stored.attempts, 1);
        assert.deepEqual(stored.reply, { platform: 'discord', channelId: 'chan-1', threadId: 'thread-9', extra: { locale: 'en' } });
        assert.ok(stored.output !== null && existsSync(stored.output.mediaPath));
        assert.ok(stored.output.mediaPath.startsWith(`${dataDir}/outputs/${job.id}/`));
        assert.equal(stored.output.mediaType, 'video/mp4');
        assert.equal(done.job.output?.bytes, stored.output.bytes);

        const quota = await service.quotaStatus(alice);
        assert.equal(quota.used.videos, 1);
        assert.ok(Math.abs(quota.used.gpuSeconds - (stored.gpuSeconds ?? -1)) < 1e-6, 'the reservation is settled to the actual GPU-seconds');

        assert.equal((await rejectionOf(service.deleteVideo(job.id, asActor(alice)))).code, ErrorCode.Forbidden);
        await service.deleteVideo(job.id, admin);
        assert.equal(existsSync(stored.output.mediaPath), false);
        const kept = await service.getJob(job.id);
        assert.equal(kept.status, 'succeeded');
        assert.equal(kept.output, null);
        const [deletion] = await service.listAudit({ action: 'job.video.delete' });
        assert.equal(deletion?.target, job.id);
        assert.equal((await rejectionOf(service.deleteVideo(job.id, admin))).code, ErrorCode.NotFound);
      }));

    it('never exceeds the daily video quota under 50 concurrent submits by one user', () =>
      withService({ provider, renderer: new TestRenderer({ ready: false }), env: { QUOTA_VIDEOS_PER_DAY: '7', MAX_QUEUED_PER_USER: '1000' } }, async ({ service }) => {
        const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => service.submit(request(alice, `video ${i}`))));
        const accepted = results.filter((r) => r.status === 'fulfilled');
        const rejected = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as VideoBotError] : []));
        assert.equal(accepted.length, 7);
        assert.equal(rejected.length, 43);
        for (const error of rejected) assert.equal(error.code, ErrorCode.QuotaExceeded, error.message);
        assert.match(rejected[0]!.message, /^You have used 7 of your 7 videos today\. It resets in/);
        assert.equal((await service.quotaStatus(alice)).used.videos, 7);
        assert.equal(service.listQueue().queued.length, 7);
      }));

    it('enforces the per-user queue limit and the global queue cap with plain messages', () =>
      withService({ provider, renderer: new TestRenderer({ ready: false }), env: { MAX_QUEUED_PER_USER: '2', QUEUE_CAP: '3' } }, async ({ service }) => {
        await service.submit(request(alice, 'a1'));
        await service.submit(request(alice, 'a2'));
        const tooMany = await rejectionOf(service.submit(request(alice, 'a3')));
        assert.equal(tooMany.code, ErrorCode.TooManyQueued);
        assert.equal(tooMany.message, 'You have 2 videos queued; the limit is 2. Wait for one to finish or cancel one.');
        await service.submit(request(bob, 'b1'));
        const full = await rejectionOf(service.submit(request(carol, 'c1')));
        assert.equal(full.code, ErrorCode.QueueFull);
        assert.deepEqual(full.details, { queued: 3, limit: 3 });
      }));

    it('applies setting changes on the next submit: banned words, prompt length, quotas', () =>
      withService({ provider, renderer: new TestRenderer({ ready: false }) }, async ({ service }) => {
        await service.submit(request(alice, 'a gory scene'));
        await service.updateSettings({ bannedWords: ['Gore', 'red room'], promptMaxLength: 20, maxQueuedPerUser: 5 }, admin);
        const banned = await rejectionOf(service.submit(request(alice, 'some GORE here')));
        assert.equal(banned.code, ErrorCode.PromptRejected);
        assert.equal(banned.message, 'That prompt contains a blocked word ("gore"). Please rephrase it.');
        const long = await rejectionOf(service.submit(request(alice, 'x'.repeat(21))));
        assert.equal(long.code, ErrorCode.InvalidOptions);
        assert.match(long.message, /prompt must be from 1 to 20 characters long \(got 21\)/);
        assert.equal((await service.optionRanges()).prompt.maxLength, 20);

        const forbidden = await rejectionOf(service.updateSettings({ queueCap: 1 }, asActor(bob)));
        assert.equal(forbidden.code, ErrorCode.Forbidden);
        const invalid = await rejectionOf(service.updateSettings({ queueCap: 0, colour: 'red' }, admin));
        assert.equal(invalid.code, ErrorCode.InvalidRequest);
        assert.ok(invalid.is(ErrorCode.InvalidRequest));
        assert.deepEqual(invalid.details.issues?.map((i) => i.field), ['queueCap', 'colour']);

        const view = await service.updateSettings({ bannedWords: null, promptMaxLength: null }, admin);
        assert.deepEqual(view.values.bannedWords, []);
        assert.deepEqual(view.overridden, ['maxQueuedPerUser']);
        await service.submit(request(alice, 'some gore here'));
        const audit = await service.listAudit({ action: 'settings.update' });
        assert.equal(audit.length, 2);
        assert.equal(audit[0]!.actor, 'admin:test');
      }));

    it('resolves quota overrides: user over workspace over default', () =>
      withService({ provider, renderer: new TestRenderer({ ready: false }), env: { QUOTA_VIDEOS_PER_DAY: '5' } }, async ({ service }) => {
        assert.equal((await service.quotaStatus(alice)).limits.videosPerDay, 5);
        await service.setWorkspaceQuota('discord', 'guild-1', { videosPerDay: 1, maxQueued: 9 }, admin);
        await service.submit(request(alice, 'one'));
        const overWorkspace = await rejectionOf(service.submit(request(alice, 'two')));
        assert.equal(overWorkspace.code, ErrorCode.QuotaExceeded);
        const status = await service.setUserQuota(alice, { videosPerDay: 3 }, admin);
        assert.deepEqual(status.limits, { videosPerDay: 3, gpuSecondsPerDay: 3600, maxQueued: 9 });
        assert.deepEqual(status.sources, { videosPerDay: 'user', gpuSecondsPerDay: 'default', maxQueued: 'workspace' });
        assert.deepEqual(status.left.videos, 2);
        await service.submit(request(alice, 'two'));
        const invalid = await rejectionOf(service.setUserQuota(alice, { videosPerDay: -1, extra: 1 }, admin));
        assert.equal(invalid.code, ErrorCode.InvalidRequest);
        assert.match(invalid.message, /videosPerDay must be a whole number from 0 to 1000000, or null to inherit \(got -1\)/);
        assert.match(invalid.message, /extra is not a quota field/);
        const inherited = await rejectionOf(service.setUserQuota(alice, { toString: 1 }, admin));
        assert.equal(inherited.code, ErrorCode.InvalidRequest);
        assert.match(inherited.message, /toString is not a quota field/);
        const cleared = await service.setUserQuota(alice, { videosPerDay: null }, admin);
        assert.equal(cleared.sources.videosPerDay, 'workspace');
        assert.equal((await rejectionOf(service.setUserQuota(alice, { videosPerDay: 9 }, asActor(alice)))).code, ErrorCode.Forbidden);
      }));

    it('cancels a queued job at once and refunds its quota', () =>
      withService({ provider, renderer: new TestRenderer({ ready: false }) }, async ({ service, events, renderer }) => {
        const { job } = await service.submit(request(alice, 'to cancel'));
        const other = await service.submit(request(alice, 'to keep'));
        assert.equal((await service.quotaStatus(alice)).used.videos, 2);
        const cancelled = await service.cancel(job.id, asActor(alice));
        assert.equal(cancelled.status, 'cancelled');
        await events.waitFor(jobEvent('cancelled', job.id));
        assert.equal((await service.quotaStatus(alice)).used.videos, 1);
        assert.deepEqual(queuedPrompts(service), ['to keep']);
        (renderer as TestRenderer).ready = true;
        await events.waitFor(jobEvent('succeeded', other.job.id));
        assert.deepEqual((renderer as TestRenderer).renders.map((r) => r.prompt), ['to keep']);
      }));

    it('cancels a running job at its next denoising step and refunds it', () =>
      withService({ provider }, async ({ service, events, renderer }) => {
        const test = renderer as TestRenderer;
        test.hold();
        const { job } = await service.submit(request(alice, 'long render', { steps: 50 }));
        const next = await service.submit(request(bob, 'next one'));
        await events.waitFor(jobEvent('started', job.id));
        const cancelled = await service.cancel(job.id, asActor(alice));
        assert.equal(cancelled.status, 'cancelled');
        const event = await events.waitFor(jobEvent('cancelled', job.id));
        assert.deepEqual(event.type === 'cancelled' ? event.actor : undefined, asActor(alice));
        assert.equal(test.renders.length, 1);
        assert.equal((await service.quotaStatus(alice)).used.videos, 0);
        test.release();
        await events.waitFor(jobEvent('succeeded', next.job.id));
        assert.equal((await service.getJob(job.id)).output, null);
      }));

    it('lets only the requester or an admin cancel, and only unfinished jobs', () =>
      withService({ provider, renderer: new TestRenderer({ ready: false }) }, async ({ service, events, renderer }) => {
        const { job } = await service.submit(request(alice, 'mine'));
        const forbidden = await rejectionOf(service.cancel(job.id, asActor(bob)));
        assert.equal(forbidden.code, ErrorCode.Forbidden);
        assert.equal(forbidden.message, "You are not allowed to cancel another user's video.");
        await service.updateUser(bob, { role: 'admin' }, admin);
        assert.equal((await service.cancel(job.id, asActor(bob))).status, 'cancelled');
        const audit = await service.listAudit({ action: 'job.cancel' });
        assert.equal(audit[0]?.actor, 'discord:bob');
        const again = await rejectionOf(service.cancel(job.id, admin));
        assert.equal(again.code, ErrorCode.InvalidState);
        assert.equal(again.message, `Video ${job.id} is cancelled, so it cannot be cancelled.`);
        const missing = await rejectionOf(service.cancel('no-such-job', admin));
        assert.equal(missing.code, ErrorCode.NotFound);

        const done = await service.submit(request(alice, 'finished'));
        (renderer as TestRenderer).ready = true;
        await events.waitFor(jobEvent('succeeded', done.job.id));
        assert.equal((await rejectionOf(service.cancel(done.job.id, admin))).code, ErrorCode.InvalidState);
      }));

    it('fails a job the engine cannot render, with a clear reason and a refund', () =>
      withService({ provider, renderer: new TestRenderer({ failOn: { promptIncludes: 'explode', message: 'out of memory at step 3' } }) }, async ({ service, events }) => {
        const { job } = await service.submit(request(alice, 'please explode'));
        const failed = await events.waitFor(jobEvent('failed', job.id));
        assert.equal(failed.type === 'failed' ? failed.error.code : '', ErrorCode.EngineFailed);
        const stored = await service.getJob(job.id);
        assert.equal(stored.status, 'failed');
        assert.deepEqual(stored.error, { code: ErrorCode.EngineFailed, message: 'Rendering failed: out of memory at step 3. Your quota for it was refunded.' });
        const quota = await service.quotaStatus(alice);
        assert.deepEqual(quota.used, { videos: 0, gpuSeconds: 0 });
        const ok = await service.submit(request(alice, 'fine'));
        await events.waitFor(jobEvent('succeeded', ok.job.id));
      }));

    it('keeps jobs queued while the engine is unavailable and runs them when it becomes ready', () =>
      withService({ provider, renderer: new TestRenderer({ ready: false }) }, async ({ service, events, renderer }) => {
        const { job, etaSeconds } = await service.submit(request(alice, 'waiting'));
        assert.equal(etaSeconds, null);
        assert.equal(service.engineStatus().ready, false);
        assert.deepEqual((await service.health()).queue, { queued: 1, running: 0 });
        (renderer as TestRenderer).ready = true;
        await events.waitFor((e) => e.type === 'engine' && e.status.ready);
        await events.waitFor(jobEvent('succeeded', job.id));
      }));

    it('starts without any engine, says so, and keeps jobs queued', () =>
      withService({ provider, renderer: null }, async ({ service }) => {
        const status = service.engineStatus();
        assert.equal(status.ready, false);
        assert.match(status.message ?? '', /No engine is installed/);
        const { job } = await service.submit(request(alice, 'someday'));
        assert.equal((await service.getJob(job.id)).status, 'queued');
        assert.equal(service.listQueue().queued[0]?.job.id, job.id);
      }));

    it('runs waiting jobs in fair order, and an admin can move one to the front', () =>
      // Reporting exactly the estimate keeps the usage corrections at zero, so the run order is the projected one.
      withService({ provider, renderer: new TestRenderer({ ready: false, gpuSeconds: 0.075 }) }, async ({ service, events, renderer }) => {
        for (const [who, prompt] of [[alice, 'A1'], [alice, 'A2'], [alice, 'A3'], [bob, 'B1'], [carol, 'C1'], [bob, 'B2']] as const) {
          await service.updateSettings({ maxQueuedPerUser: 10 }, admin);
          await service.submit(request(who, prompt));
        }
        assert.deepEqual(queuedPrompts(service), ['A1', 'B1', 'C1', 'A2', 'B2', 'A3']);
        const positions = service.listQueue().queued.map((q) => q.position);
        assert.deepEqual(positions, [1, 2, 3, 4, 5, 6]);

        const a3 = service.listQueue().queued.find((q) => q.job.params.prompt === 'A3')!.job;
        assert.equal((await rejectionOf(service.promote(a3.id, asActor(alice)))).code, ErrorCode.Forbidden);
        const promoted = await service.promote(a3.id, admin);
        assert.equal(promoted.position, 1);
        assert.deepEqual(queuedPrompts(service), ['A3', 'B1', 'C1', 'A1', 'B2', 'A2']);
        assert.ok(events.events.some((e) => e.type === 'position' && e.job.params.prompt === 'A1' && e.position === 4));
        assert.equal((await service.listAudit({ action: 'job.promote' }))[0]?.target, a3.id);

        (renderer as TestRenderer).ready = true;
        const last = service.listQueue().queued.at(-1)!.job;
        await events.waitFor(jobEvent('succeeded', last.id));
        assert.deepEqual((renderer as TestRenderer).renders.map((r) => r.prompt), ['A3', 'B1', 'C1', 'A1', 'B2', 'A2']);
      }));

    it('rerolls with a new seed and reproduces with the same seed', () =>
      withService({ provider, renderer: new TestRenderer({ ready: false }), env: { MAX_QUEUED_PER_USER: '5' } }, async ({ service }) => {
        const { job } = await service.submit(request(alice, 'a fox', { seed: 123, guidance: 7.5, negativePrompt: 'blur' }));
        const reroll = await service.reroll(job.id, { requester: bob });
        assert.equal(reroll.job.parentJobId, job.id);
        assert.equal(reroll.job.user.platformUserId, 'bob');
        assert.notEqual(reroll.job.params.seed, 123);
        assert.deepEqual({ ...reroll.job.params, seed: 123 }, job.params);
        const again = await service.reproduce(job.id, { requester: alice, reply: { platform: 'discord', channelId: 'other' } });
        assert.deepEqual(again.job.params, job.params);
        assert.equal(again.job.reply.channelId, 'other');
        assert.equal((await rejectionOf(service.reroll('nope', { requester: alice }))).code, ErrorCode.NotFound);
      }));

    it('rejects banned users and malformed requester data', () =>
      withService({ provider, renderer: new TestRenderer({ ready: false }) }, async ({ service }) => {
        await service.updateUser(carol, { banned: true }, admin);
        assert.equal((await rejectionOf(service.submit(request(carol, 'hi')))).code, ErrorCode.UserBanned);
        const bad = await rejectionOf(service.submit({ ...request(alice, 'hi'), requester: { platform: 'irc' as never, platformUserId: '' } }));
        assert.equal(bad.code, ErrorCode.InvalidRequest);
        assert.ok(bad.is(ErrorCode.InvalidRequest));
        assert.equal(bad.details.issues?.length, 2);
      }));

    it('replays running and waiting jobs to a late subscriber', () =>
      withService({ provider }, async ({ service, events, renderer }) => {
        (renderer as TestRenderer).hold();
        const running = await service.submit(request(alice, 'running'));
        const waiting = await service.submit(request(bob, 'waiting'));
        await events.waitFor(jobEvent('started', running.job.id));
        // Health checks and metrics count without ordering the queue; the counts are the snapshot's list lengths.
        const snapshot = service.listQueue();
        assert.deepEqual(service.queueCounts(), { queued: snapshot.queued.length, running: snapshot.running.length });
        assert.deepEqual((await service.health()).queue, { queued: 1, running: 1 });
        const replayed: string[] = [];
        const unsubscribe = service.subscribe((e) => void (e.type !== 'engine' && replayed.push(`${e.type}:${e.job.params.prompt}:${'replay' in e ? String(e.replay) : ''}`)), { replay: true });
        await new Promise((resolve) => setImmediate(resolve));
        assert.deepEqual(replayed.slice(0, 2), ['started:running:true', 'queued:waiting:true']);
        unsubscribe();
        (renderer as TestRenderer).release();
        await events.waitFor(jobEvent('succeeded', waiting.job.id));
      }));

    it('deliveries: one claim wins among concurrent duplicates; a repeated submit returns the first job uncharged; records expire', async () => {
      let now = new Date('2026-06-01T12:00:00Z');
      await withService({ provider, renderer: new TestRenderer({ ready: false }), env: { QUOTA_VIDEOS_PER_DAY: '1' }, clock: () => now }, async ({ service, events, running }) => {
        const claims = await Promise.all(Array.from({ length: 8 }, () => service.claimDelivery('slack:event:Ev1')));
        assert.deepEqual(claims.filter(Boolean), [true], 'exactly one of eight concurrent claims wins');
        assert.equal(await service.claimDelivery('slack:event:Ev1'), false, 'a later retry loses too');
        assert.equal(await service.claimDelivery('slack:event:Ev2'), true, 'another key is another delivery');

        const asked = { ...request(alice, 'once'), deliveryKey: 'slack:event:Ev1' };
        const results = await Promise.all([service.submit(asked), service.submit(asked), service.submit(asked)]);
        const [first] = results;
        assert.deepEqual(results.map((r) => r.job.id), [first!.job.id, first!.job.id, first!.job.id], 'one job for three submits of one delivery');
        assert.deepEqual(results.map((r) => r.position), [1, 1, 1], 'each answer has the job\'s place in line');
        assert.equal((await service.listJobs()).length, 1);
        assert.equal(service.listQueue().queued.length, 1, 'queued once');
        assert.equal(events.typesFor(first!.job.id).filter((t) => t === 'queued').length, 1, 'one queued event');
        assert.equal(await running.db.prisma.usageEntry.count({ where: { kind: 'reserve' } }), 1, 'charged once');
        // The quota (1 a day) is used up by this very job: a repeat is answered with it, not refused.
        assert.equal((await rejectionOf(service.submit(request(alice, 'another')))).code, ErrorCode.QuotaExceeded);
        assert.equal((await service.reroll(first!.job.id, { requester: alice, deliveryKey: 'slack:event:Ev1' })).job.id, first!.job.id);

        assert.equal((await rejectionOf(service.claimDelivery(''))).code, ErrorCode.InvalidRequest);
        assert.equal((await rejectionOf(service.submit({ ...asked, deliveryKey: 'k'.repeat(256) }))).code, ErrorCode.InvalidRequest);

        now = new Date(now.getTime() + DELIVERY_LIFETIME_MS - 1);
        assert.equal(await service.claimDelivery('slack:event:Ev2'), false, 'kept for the whole lifetime');
        assert.equal(await service.forgetExpiredDeliveries(), 0);
        now = new Date(now.getTime() + 1);
        assert.equal(await service.claimDelivery('slack:event:Ev1'), true, 'an expired record not yet swept is taken over');
        assert.equal(await service.forgetExpiredDeliveries(), 1, 'the sweep deletes what expired (Ev2)');
        assert.deepEqual((await running.db.prisma.delivery.findMany()).map((d) => [d.key, d.jobId]), [['slack:event:Ev1', null]]);
      });
    });

    it('deliveries: a record outlives a restart, so a retry to the next process is still a duplicate', async () => {
      const database = await createTestDatabase(provider);
      try {
        const asked = { ...request(alice, 'before the restart'), deliveryKey: 'discord:interaction:42' };
        let jobId = '';
        await withService({ provider, database, renderer: new TestRenderer({ ready: false }) }, async ({ service }) => {
          assert.equal(await service.claimDelivery('discord:interaction:42'), true);
          jobId = (await service.submit(asked)).job.id;
        });
        await withService({ provider, database, renderer: new TestRenderer({ ready: false }) }, async ({ service, running }) => {
          assert.equal(await service.claimDelivery('discord:interaction:42'), false);
          const again = await service.submit(asked);
          assert.equal(again.job.id, jobId);
          assert.equal(again.position, 1, 'the job restored into the queue, with its place');
          assert.equal((await service.listJobs()).length, 1);
          assert.equal(await running.db.prisma.usageEntry.count({ where: { kind: 'reserve' } }), 1);
        });
      } finally {
        await database.drop();
      }
    });

    it('deliveries: what an adapter stored with its claim, and its progress, are listed for a restarted process until it is handled', async () => {
      let now = new Date('2026-06-01T12:00:00Z');
      await withService({ provider, renderer: new TestRenderer({ ready: false }), clock: () => now }, async ({ service, running }) => {
        const mention = { kind: 'mention', channel: 'C1', threadTs: '1.1', text: 'a heron' };
        assert.equal(await service.claimDelivery('slack:event:Ev1', mention), true);
        assert.equal(await service.claimDelivery('discord:interaction:9', { token: 'interaction-token' }), true);
        assert.equal(await service.claimDelivery('slack:event:Ev0'), true, 'a claim without a request');
        await service.submit({ ...request(carol, 'by the API'), deliveryKey: 'api:k1' });
        await service.recordDeliveryStatusMessage('slack:event:Ev1', '1.2');
        const { job } = await service.submit({ ...request(carol, 'a heron'), deliveryKey: 'slack:event:Ev1' });
        const claimedAt = now;

        now = new Date(now.getTime() + 1_000);
        assert.deepEqual(await service.unhandledDeliveries('slack', now), [
          { key: 'slack:event:Ev1', claimedAt, request: mention, statusMessageId: '1.2', jobId: job.id },
        ]);
        assert.deepEqual((await service.unhandledDeliveries('discord', now)).map((d) => [d.key, d.request]), [['discord:interaction:9', { token: 'interaction-token' }]]);
        assert.deepEqual(await service.unhandledDeliveries('slack', claimedAt), [], 'claims from this process on are its own');

        await service.deliveryHandled('slack:event:Ev1');
        assert.deepEqual(await service.unhandledDeliveries('slack', now), []);
        const handled = await running.db.prisma.delivery.findUniqueOrThrow({ where: { key: 'slack:event:Ev1' } });
        assert.deepEqual([handled.request, handled.jobId, handled.handledAt?.getTime()], [null, job.id, now.getTime()], 'the stored request goes once handled');
        const tooLarge = { text: 'x'.repeat(8_200) };
        assert.equal((await rejectionOf(service.claimDelivery('slack:event:Ev2', tooLarge))).code, ErrorCode.InvalidRequest);

        now = new Date(claimedAt.getTime() + DELIVERY_LIFETIME_MS);
        assert.deepEqual(await service.unhandledDeliveries('discord', now), [], 'an expired record is not resumed');
        assert.equal(await service.claimDelivery('slack:event:Ev1', { kind: 'mention', text: 'again' }), true, 'an expired record taken over');
        now = new Date(now.getTime() + 1);
        assert.deepEqual(await service.unhandledDeliveries('slack', now), [
          { key: 'slack:event:Ev1', claimedAt: new Date(now.getTime() - 1), request: { kind: 'mention', text: 'again' }, statusMessageId: null, jobId: null },
        ]);
      });
    });

    it('final replies: a chat job that finished without its last message recorded is listed for its platform for a day, until markReplied', async () => {
      let now = new Date('2026-06-01T12:00:00Z');
      await withService({ provider, clock: () => now }, async ({ service, events }) => {
        const chat = (requester: Requester, prompt: string, messageId?: string): SubmitRequest => ({
          ...request(requester, prompt),
          reply: { platform: requester.platform, channelId: 'chan-1', ...(messageId === undefined ? {} : { messageId }) },
        });
        const finish = async (submitted: SubmitRequest) => {
          const { job } = await service.submit(submitted);
          return (await events.waitFor(jobEvent('succeeded', job.id))).job;
        };
        await finish(chat(carol, 'before replies were recorded', '1.0'));
        now = new Date(now.getTime() + 60_000);
        assert.deepEqual(await service.unrepliedJobs('slack'), [], 'answered by a version that did not record it');

        now = new Date(now.getTime() + 60_000);
        const onSlack = await finish(chat(carol, 'on Slack', '1.1'));
        const onDiscord = await finish(chat(alice, 'on Discord', 'm1'));
        await finish(chat(carol, 'without a status message'));
        assert.deepEqual((await service.unrepliedJobs('slack')).map((j) => j.id), [onSlack.id]);
        assert.deepEqual((await service.unrepliedJobs('discord')).map((j) => j.id), [onDiscord.id]);

        await service.markReplied(onSlack.id);
        assert.deepEqual(await service.unrepliedJobs('slack'), []);
        now = new Date(onDiscord.finishedAt!.getTime() + 86_400_000 + 1);
        assert.deepEqual(await service.unrepliedJobs('discord'), [], 'a day after its end it is left');
      });
    });

    it('keeps going when an event listener throws', () =>
      withService({ provider }, async ({ service, events, logLines }) => {
        service.subscribe(() => {
          throw new Error('adapter bug');
        });
        service.subscribe(async () => Promise.reject(new Error('async adapter bug')));
        const { job } = await service.submit(request(alice, 'robust'));
        await events.waitFor(jobEvent('succeeded', job.id));
        assert.ok(logLines.some((line) => line.includes('adapter bug')));
      }));
  });
}
