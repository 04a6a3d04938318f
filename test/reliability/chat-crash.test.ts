// Chat requests and replies across a SIGKILL: the service runs as a child process with its chat adapters pointed at
// the fakes in this process (Slack in Socket Mode, Discord over its gateway), is killed at a chosen moment, and the
// next process on the same database finishes what the killed one had accepted or finished, once: a job's last
// message, a mention and a /video whose submit had not committed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { connectDatabase, databaseTarget } from '../../src/db/database.js';
import { isRequest as is, startFakeDiscord, type FakeDiscord } from '../fakes/discord.js';
import { startFakeSlack, type FakeSlack, type SocketFrame, type Wire } from '../fakes/slack.js';
import { startChildService, type ChildService } from '../support/child-service.js';
import { createTestDatabase, type TestDatabase } from '../support/test-databases.js';
import { lockSqlite } from '../support/sqlite-lock.js';
import { testEnv } from '../support/test-service.js';

const TINY_FLAGS = '--frames 2 --size 64x64 --steps 2';
const WAIT_MS = 30_000;

describe('chat requests and replies across a SIGKILL', () => {
  let database: TestDatabase;
  let dataDir: string;
  let children: ChildService[] = [];
  const fakes: { close(): Promise<void> }[] = [];

  beforeEach(async () => {
    database = await createTestDatabase('sqlite');
    dataDir = mkdtempSync(join(tmpdir(), 't2v-chat-crash-'));
  });

  afterEach(async () => {
    for (const child of children) {
      child.child.kill('SIGKILL');
      await child.exited;
    }
    children = [];
    for (const fake of fakes.splice(0)) await fake.close();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const spawn = async (env: Record<string, string>) => {
    const child = await startChildService(testEnv(database, dataDir, env));
    children.push(child);
    return child;
  };

  const kill = async (child: ChildService) => {
    child.child.kill('SIGKILL');
    assert.equal(await child.exited, 'SIGKILL');
  };

  const withDatabase = async <T>(read: (prisma: Awaited<ReturnType<typeof connectDatabase>>['prisma']) => Promise<T>): Promise<T> => {
    const db = await connectDatabase(databaseTarget(database.url));
    try {
      return await read(db.prisma);
    } finally {
      await db.close();
    }
  };

  const jobsAndCharges = () =>
    withDatabase(async (prisma) => ({ jobs: await prisma.job.count(), charges: await prisma.usageEntry.count({ where: { kind: 'reserve' } }) }));

  async function slack(): Promise<{ fake: FakeSlack; env: Record<string, string> }> {
    const fake = await startFakeSlack();
    fakes.push(fake);
    return { fake, env: { SLACK_BOT_TOKEN: fake.botToken, SLACK_APP_TOKEN: fake.appToken, SLACK_API_URL: fake.apiUrl } };
  }

  /** Starts a child and waits until its Socket Mode connection is open (the fake sends envelopes to the newest). */
  async function spawnSlack(fake: FakeSlack, env: Record<string, string>): Promise<ChildService> {
    const opened = fake.log.items.filter((r) => r.kind === 'socket' && r.event === 'open').length;
    const child = await spawn(env);
    await fake.waitFor((r) => r.kind === 'socket' && r.event === 'open' && r.connection > opened, WAIT_MS);
    return child;
  }

  async function discord(): Promise<{ fake: FakeDiscord; env: Record<string, string> }> {
    const fake = await startFakeDiscord();
    fakes.push(fake);
    return {
      fake,
      env: { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.restApi, DISCORD_GUILD_ID: fake.guildId, DISCORD_APPLICATION_ID: fake.applicationId },
    };
  }

  /** A child with Discord connected, and a /video whose deferral the fake holds: the claim is made, the answer not. */
  async function slashCommandAtItsDeferral(prompt: string) {
    const { fake, env } = await discord();
    const first = await spawn(env);
    await fake.waitFor(is('PUT', `/applications/${fake.applicationId}/guilds/${fake.guildId}/commands`), WAIT_MS);
    const deferral = fake.holdNext('POST', /^\/interactions\/\d+\/[^/]+\/callback$/);
    const sent = fake.sendSlashCommand({ name: 'video', options: { prompt, frames: 2, size: '64x64', steps: 2 } });
    await deferral.arrived;
    return { fake, env, first, deferral, sent };
  }

  it('a job whose video upload a kill cut short gets its video from the next process, exactly once', async () => {
    const { fake, env } = await slack();
    const first = await spawnSlack(fake, env);
    const upload = fake.holdNext('files.getUploadURLExternal');
    const ack = await fake.pushEvent({ type: 'app_mention', user: fake.user('alice'), text: `<@${fake.botUserId}> a heron at dawn ${TINY_FLAGS}`, channel: fake.channelId });
    assert.deepEqual(ack.payload, {});
    const status = await fake.waitForCall('chat.postMessage', () => true, WAIT_MS);
    const statusTs = status.response.ts as string;
    const succeeded = await first.waitForEvent((e) => e.type === 'succeeded', WAIT_MS);
    await upload.arrived;
    await kill(first);
    assert.equal(fake.uploads.length, 0, 'the killed process uploaded nothing');

    await spawnSlack(fake, env);
    const complete = await fake.waitForCall('files.completeUploadExternal', () => true, WAIT_MS);
    assert.equal(complete.params.thread_ts, status.params.thread_ts, 'into the mention\'s thread');
    assert.equal(fake.uploads.at(-1)!.filename, `t2v-${succeeded.jobId}.mp4`);
    await fake.waitForCall('chat.update', (p) => p.ts === statusTs && /Done/.test(String(p.text)), WAIT_MS);
    const replied = await withDatabase((prisma) => prisma.job.findUniqueOrThrow({ where: { id: succeeded.jobId! } }));
    assert.ok(replied.repliedAt !== null, 'recorded as answered, so no later start posts it again');
    assert.equal(fake.calls.filter((c) => c.method === 'files.completeUploadExternal').length, 1, 'one video in the thread');
  });

  it('a mention acknowledged and claimed whose status message and submit a kill cut short gets its one status message and its job from the next process', async () => {
    const { fake, env } = await slack();
    const first = await spawnSlack(fake, env);
    const statusPost = fake.holdNext('chat.postMessage');
    const ack = await fake.pushEvent({ type: 'app_mention', user: fake.user('alice'), text: `<@${fake.botUserId}> a kite over dunes ${TINY_FLAGS}`, channel: fake.channelId });
    const envelope = fake.log.items.find((r): r is SocketFrame => r.kind === 'socket' && r.event === 'envelope' && r.envelopeId === ack.envelopeId)!;
    const threadTs = ((envelope.payload as Wire).event as Wire).ts as string;
    await statusPost.arrived;
    await kill(first);
    assert.deepEqual(await jobsAndCharges(), { jobs: 0, charges: 0 }, 'no job before the restart');

    await spawnSlack(fake, env);
    const status = await fake.waitForCall('chat.postMessage', (p) => p.thread_ts === threadTs, WAIT_MS);
    const statusTs = status.response.ts as string;
    await fake.waitForCall('chat.update', (p) => p.ts === statusTs && /in line|Starting now|Rendering/.test(String(p.text)), WAIT_MS);
    const complete = await fake.waitForCall('files.completeUploadExternal', () => true, WAIT_MS);
    assert.equal(complete.params.thread_ts, threadTs);
    await fake.waitForCall('chat.update', (p) => p.ts === statusTs && /Done/.test(String(p.text)), WAIT_MS);
    assert.equal(fake.messages.filter((m) => m.thread_ts === threadTs && m.bot_id !== undefined && m.files === undefined).length, 1, 'one status message in the thread');
    assert.deepEqual(await jobsAndCharges(), { jobs: 1, charges: 1 });
  });

  it('a /video deferred and claimed whose submit a kill cut short (the database busy) gets its job in the deferred reply from the next process', async () => {
    const { fake, env, first, deferral, sent } = await slashCommandAtItsDeferral('a lighthouse in fog');
    // The claim is made before the deferral; with the write lock held elsewhere, the submit that follows cannot commit.
    const lock = await lockSqlite(database);
    deferral.release();
    await fake.waitFor(is('POST', `/interactions/${sent.id}/${sent.token}/callback`), WAIT_MS);
    await kill(first);
    await lock.release();
    assert.deepEqual(await jobsAndCharges(), { jobs: 0, charges: 0 }, 'no job before the restart');

    await spawn(env);
    const statusId = fake.interactions.get(sent.id)!.originalMessageId!;
    const queued = await fake.waitFor(is('PATCH', `/webhooks/${fake.applicationId}/${sent.token}/messages/@original`), WAIT_MS);
    assert.match(String(((queued.json as Wire).embeds as Wire[])[0]!.description), /in line|Starting now/);
    await fake.waitFor(is('POST', `/channels/${fake.textChannelId}/messages/${statusId}/threads`), WAIT_MS);
    const video = await fake.waitFor((r) => is('POST', `/channels/${statusId}/messages`)(r) && r.files.length > 0, WAIT_MS);
    assert.match(video.files[0]!.filename, /^t2v-[0-9a-f-]+\.mp4$/);
    await fake.waitFor(is('PATCH', `/channels/${fake.textChannelId}/messages/${statusId}`), WAIT_MS);
    assert.equal(fake.requests.items.filter(is('PATCH', `/webhooks/${fake.applicationId}/${sent.token}/messages/@original`)).length, 1, 'one first state');
    assert.deepEqual(await jobsAndCharges(), { jobs: 1, charges: 1 });
  });

  it('an interaction a kill cut short before its deferral is left with a log line: Discord takes no answer to it', async () => {
    const { env, first, sent } = await slashCommandAtItsDeferral('a moth at a lamp');
    await kill(first);

    const second = await spawn(env);
    await second.logs.waitFor((line) => line.includes('left a Discord interaction that a stopped process had not acknowledged'), WAIT_MS);
    assert.ok(!second.logs.items.some((line) => line.includes(sent.token)), 'the interaction token stays out of the logs');
    const delivery = await withDatabase((prisma) => prisma.delivery.findUniqueOrThrow({ where: { key: `discord:interaction:${sent.id}` } }));
    assert.ok(delivery.handledAt !== null, 'handled: not tried again');
    assert.equal(delivery.request, null, 'its token is no longer stored');
    assert.deepEqual(await jobsAndCharges(), { jobs: 0, charges: 0 });
  });
});
