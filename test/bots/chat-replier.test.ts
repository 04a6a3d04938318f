// The shared event policy of the chat adapters (JobConversations) against a recording ChatReplier: which event
// shows what, the order of the final messages, and the adapter's life. The e2e tests prove the same through the real
// discord.js and Bolt; these pin the policy itself, fast and without any network.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JobConversations, type ChatReplier, type StatusMessages } from '../../src/bots/chat-replier.js';
import type { EventListener, JobEvent } from '../../src/core/events.js';
import type { Job } from '../../src/core/jobs.js';
import type { VideoService } from '../../src/service/video-service.js';
import { createLogger } from '../../src/log.js';
import { Recorder } from '../fakes/recorder.js';
import { jobFixture } from './job-fixture.js';

/** Messages are plain strings here: what the render function was asked for. */
const messages: StatusMessages<string> = {
  queuedMessage: (_job, position) => `queued #${position}`,
  runningMessage: (_job, step, total) => `running ${step}/${total}`,
  requeuedMessage: (_job, reason) => `requeued (${reason})`,
  failedMessage: (_job, text) => `failed: ${text}`,
  cancelledMessage: (_job, by) => `cancelled by ${by === null ? 'nobody known' : (by ?? 'an admin')}`,
  jobErrorMessage: (_job, text) => `error: ${text}`,
};

/** `unreplied`: finished jobs whose last message the service has no record of. */
function setup(queued: { job: Job; position: number }[] = [], unreplied: Job[] = []) {
  const listeners = new Set<EventListener>();
  const sent = new Recorder<string>((s) => s);
  const service = {
    subscribe: (listener: EventListener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    listQueue: () => ({ running: [], queued: queued.map((q) => ({ ...q, etaSeconds: null })) }),
    unrepliedJobs: async () => unreplied,
    markReplied: async (jobId: string) => sent.push(`${jobId} recorded as answered`),
  } as unknown as VideoService;
  const forgotten = new Recorder<string>((id) => id);
  const replier: ChatReplier<string> = {
    platform: 'discord',
    messages,
    editStatus: async (job, message) => sent.push(`${job.id} status: ${message}`),
    post: async (job, message) => sent.push(`${job.id} post: ${message}`),
    deliver: async (job, posted) => {
      if (job.id === 'unpostable') throw new Error('the platform refused the upload');
      sent.push(`${job.id} deliver`);
      await posted();
      sent.push(`${job.id} status: done`);
    },
    forget: (jobId) => forgotten.push(jobId),
    describeError: (error) => String(error),
  };
  const logs: string[] = [];
  const logger = createLogger({ level: 'warn', destination: { write: (line: string) => void logs.push(line) } });
  const conversations = new JobConversations({ service, logger, progressIntervalMs: 0 }, replier);
  const emit = (event: JobEvent) => {
    for (const listener of listeners) void listener(event);
  };
  return { conversations, emit, sent, forgotten, logs, listeners };
}

const discordJob = (id: string, overrides: Partial<Job> = {}) =>
  jobFixture({ id, reply: { platform: 'discord', channelId: 'c1', messageId: `m-${id}`, threadId: `m-${id}` }, ...overrides });

test('nothing is sent before the adapter is connected; then waiting jobs show their current place', async () => {
  const waiting = discordJob('w1', { status: 'queued' });
  const { conversations, emit, sent } = setup([{ job: waiting, position: 2 }]);
  const job = discordJob('j1', { status: 'running' });
  emit({ type: 'started', job });
  emit({ type: 'queued', job: discordJob('live'), position: 1, etaSeconds: 5 });
  await Promise.resolve();
  assert.equal(sent.items.length, 0, 'held until connected');
  await conversations.start(async () => {});
  await sent.waitFor((s) => s === 'w1 status: queued #2');
  await sent.waitFor((s) => s.startsWith('j1 status: running'));
  assert.ok(!sent.items.some((s) => s.startsWith('live')), 'a live queued event is the submitting adapter\'s own first state');
});

test('finish order: a failure edits the status before posting in the thread; nothing after the last message', async () => {
  const { conversations, emit, sent, forgotten } = setup();
  await conversations.start(async () => {});
  const job = discordJob('j1');
  emit({ type: 'failed', job, error: { code: 'videobot_engine_failed', message: 'out of memory' } });
  emit({ type: 'progress', job, step: 3, totalSteps: 4, etaMs: null });
  await forgotten.waitFor((id) => id === 'j1');
  assert.deepEqual(sent.items, ['j1 status: failed: out of memory', 'j1 post: error: out of memory', 'j1 recorded as answered']);

  const done = discordJob('j2');
  emit({ type: 'succeeded', job: done });
  await forgotten.waitFor((id) => id === 'j2');
  assert.deepEqual(sent.items.slice(3), ['j2 deliver', 'j2 recorded as answered', 'j2 status: done'], 'the progress after the failure was dropped');
});

test('the last message is recorded as answered right after the post users would see twice; a send that failed too; none before the adapter is connected', async () => {
  const { conversations, emit, sent, forgotten, logs } = setup();
  emit({ type: 'succeeded', job: discordJob('v') });
  await Promise.resolve();
  assert.deepEqual(sent.items, [], 'not sent, so not recorded, before the adapter is connected');
  await conversations.start(async () => {});
  await forgotten.waitFor((id) => id === 'v');
  assert.deepEqual(sent.items, ['v deliver', 'v recorded as answered', 'v status: done'], 'recorded before the status says where the video is');

  emit({ type: 'cancelled', job: discordJob('c'), actor: { kind: 'user', platform: 'discord', platformUserId: '42' } });
  await forgotten.waitFor((id) => id === 'c');
  assert.deepEqual(sent.items.slice(3), ['c status: cancelled by 42', 'c recorded as answered']);

  emit({ type: 'succeeded', job: discordJob('unpostable') });
  await forgotten.waitFor((id) => id === 'unpostable');
  assert.deepEqual(sent.items.slice(5), ['unpostable recorded as answered'], 'given up after the platform refused it: not sent again after a restart');
  assert.ok(logs.some((line) => line.includes('the platform refused the upload')), 'the failure is logged');
});

test('a start sends the last messages of jobs that finished without one being recorded: the video, the failure, a cancel whose canceller is not known', async () => {
  const video = discordJob('v');
  const failure = discordJob('f', { status: 'failed', error: { code: 'videobot_engine_failed', message: 'out of memory' } });
  const cancel = discordJob('c', { status: 'cancelled' });
  const { conversations, emit, sent, forgotten } = setup([], [video, failure, cancel]);
  // The live event of a job that finished during the start, which the listing finds too: sent once.
  emit({ type: 'succeeded', job: video });
  await conversations.start(async () => {});
  for (const id of ['v', 'f', 'c']) await forgotten.waitFor((forgottenId) => forgottenId === id);
  assert.deepEqual(sent.items.filter((s) => s.startsWith('v ')), ['v deliver', 'v recorded as answered', 'v status: done']);
  assert.deepEqual(sent.items.filter((s) => s.startsWith('f ')), ['f status: failed: out of memory', 'f post: error: out of memory', 'f recorded as answered']);
  assert.deepEqual(sent.items.filter((s) => s.startsWith('c ')), ['c status: cancelled by nobody known', 'c recorded as answered']);
});

test('who cancelled: this platform\'s user, a user id put in an admin\'s name by the adapter, else an admin', async () => {
  const { conversations, emit, sent } = setup();
  await conversations.start(async () => {});
  emit({ type: 'cancelled', job: discordJob('a'), actor: { kind: 'user', platform: 'discord', platformUserId: '42' } });
  emit({ type: 'cancelled', job: discordJob('b'), actor: { kind: 'admin', name: 'discord:77 (Manage Server in g1)' } });
  emit({ type: 'cancelled', job: discordJob('c'), actor: { kind: 'admin', name: 'dashboard' } });
  emit({ type: 'cancelled', job: discordJob('d'), actor: { kind: 'user', platform: 'slack', platformUserId: 'U1' } });
  for (const expected of ['a status: cancelled by 42', 'b status: cancelled by 77', 'c status: cancelled by an admin', 'd status: cancelled by an admin']) {
    await sent.waitFor((s) => s === expected);
  }
});

test('events of other platforms, of jobs without a status message, and engine events are not ours', async () => {
  const { conversations, emit, sent } = setup();
  await conversations.start(async () => {});
  emit({ type: 'succeeded', job: jobFixture({ id: 's', reply: { platform: 'slack', channelId: 'C1', messageId: '1.1' } }) });
  emit({ type: 'succeeded', job: jobFixture({ id: 'api', reply: { platform: 'discord', channelId: 'c1' } }) });
  emit({ type: 'succeeded', job: discordJob('mine') });
  await sent.waitFor((s) => s === 'mine status: done');
  assert.deepEqual(sent.items, ['mine deliver', 'mine recorded as answered', 'mine status: done']);
});

test('a status message being set up holds the job\'s events until its first state is out', async () => {
  const { conversations, emit, sent } = setup();
  await conversations.start(async () => {});
  const job = discordJob('j1');
  let setupDone!: () => void;
  const setup1 = conversations.settingUp('m-j1', () => new Promise<void>((resolve) => (setupDone = resolve)).then(() => sent.push('j1 first state')));
  emit({ type: 'started', job });
  await Promise.resolve();
  assert.equal(sent.items.length, 0);
  setupDone();
  await setup1;
  await sent.waitFor((s) => s.startsWith('j1 status: running'));
  assert.equal(sent.items[0], 'j1 first state');
});

test('a failed start: events are ignored; stop() unsubscribes, drains and disconnects once', async () => {
  const { conversations, emit, sent, logs, listeners } = setup();
  await assert.rejects(conversations.start(async () => Promise.reject(new Error('bad token'))), /bad token/);
  emit({ type: 'succeeded', job: discordJob('j1') });
  let disconnects = 0;
  await conversations.stop(async () => void disconnects++);
  await conversations.stop(async () => void disconnects++);
  assert.equal(disconnects, 1);
  assert.equal(listeners.size, 0);
  assert.deepEqual(sent.items, []);
  assert.deepEqual(logs, [], 'nothing failed one by one');
});
