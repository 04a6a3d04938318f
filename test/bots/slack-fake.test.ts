// Proves the Slack harness with the real Bolt app built by our production factory, without our adapters: signed HTTP
// deliveries and Socket Mode envelopes go in, and the Web API calls Bolt makes come out at the fake on 127.0.0.1.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { webApi, type App } from '@slack/bolt';
import Fastify from 'fastify';
import {
  createSlackApp,
  SLACK_EVENTS_PATH,
  type SlackAppHandle,
  type SlackAppOptions,
} from '../../src/bots/slack/app.js';
import { slackEventsRoute } from '../../src/bots/slack/http-route.js';
import { Recorder } from '../fakes/recorder.js';
import { startFakeSlack, type FakeSlack, type SlackUpload } from '../fakes/slack.js';
import { captureLogs } from './captured-logs.js';

interface Harness {
  fake: FakeSlack;
  handle: SlackAppHandle;
  logs: string[];
}

async function startSlack(
  t: TestContext,
  mode: 'http' | 'socket',
  register: (app: App, fake: FakeSlack) => void,
  overrides: Partial<SlackAppOptions> = {},
): Promise<Harness> {
  const fake = await startFakeSlack();
  const { logger, lines } = captureLogs();
  const handle = createSlackApp({
    botToken: fake.botToken,
    ...(mode === 'http'
      ? { signingSecret: fake.signingSecret, port: 0, host: '127.0.0.1' }
      : { appToken: fake.appToken }),
    slackApiUrl: fake.apiUrl,
    retryConfig: { retries: 0 },
    logger,
    ...overrides,
  });
  register(handle.app, fake);
  t.after(async () => {
    // Stop first: it waits for the Socket Mode close handshake, which the fake must still be there to answer.
    await handle.stop();
    await fake.close();
  });
  await handle.start();
  if (mode === 'http') fake.eventsUrl = `http://127.0.0.1:${handle.port}${SLACK_EVENTS_PATH}`;
  return { fake, handle, logs: lines.items };
}

const fakeMp4 = (bytes: number): Buffer => Buffer.concat([Buffer.from('\0\0\0\x18ftypmp42'), randomBytes(bytes - 12)]);

/** What the adapters will do on a mention: reply in the thread, then upload the video there and update the reply. */
function replyAndUpload(app: App, mp4: Buffer): void {
  app.event('app_mention', async ({ event, client }) => {
    const queued = await client.chat.postMessage({ channel: event.channel, thread_ts: event.ts, text: 'queued #1' });
    await client.files.uploadV2({
      channel_id: event.channel,
      thread_ts: event.ts,
      file: mp4,
      filename: 'video.mp4',
      title: 'a panda',
      initial_comment: 'seed 7, 16 frames',
    });
    await client.chat.update({ channel: event.channel, ts: queued.ts!, text: 'done' });
  });
}

test('HTTP mode: auth.test, url_verification, signed app_mention -> reply in thread -> files.uploadV2 -> chat.update', async (t) => {
  const mp4 = fakeMp4(5000);
  const { fake, logs } = await startSlack(t, 'http', (app) => replyAndUpload(app, mp4));

  const authTest = await fake.waitForCall('auth.test');
  assert.equal(authTest.auth, `Bearer ${fake.botToken}`);

  const challenge = await fake.deliverUrlVerification('c-123');
  assert.equal(challenge.status, 200);
  assert.equal(JSON.parse(challenge.body).challenge, 'c-123');

  const alice = fake.user('alice');
  const mention = await fake.deliverEvent({
    type: 'app_mention',
    user: alice,
    text: `<@${fake.botUserId}> a panda --seed 7`,
    channel: fake.channelId,
  });
  assert.equal(mention.status, 200, 'Bolt acks events before the listener finishes');
  const threadTs = mention.event.ts as string;

  const post = await fake.waitForCall('chat.postMessage');
  assert.equal(post.auth, `Bearer ${fake.botToken}`);
  assert.equal(post.params.thread_ts, threadTs);
  assert.equal(post.params.channel, fake.channelId);
  assert.equal(post.params.text, 'queued #1');

  const uploadUrl = await fake.waitForCall('files.getUploadURLExternal');
  assert.equal(uploadUrl.auth, `Bearer ${fake.botToken}`);
  assert.equal(uploadUrl.params.filename, 'video.mp4');
  assert.equal(Number(uploadUrl.params.length), mp4.length);
  const upload = await fake.waitFor((r): r is SlackUpload => r.kind === 'upload');
  assert.equal(upload.fileId, uploadUrl.response.file_id);
  assert.equal(upload.auth, `Bearer ${fake.botToken}`);
  assert.ok(upload.bytes.equals(mp4), 'uploaded bytes arrive intact');
  const complete = await fake.waitForCall('files.completeUploadExternal');
  assert.deepEqual(complete.params.files, [{ id: upload.fileId, title: 'a panda' }]);
  assert.equal(complete.params.channel_id, fake.channelId);
  assert.equal(complete.params.thread_ts, threadTs);
  assert.equal(complete.params.initial_comment, 'seed 7, 16 frames');
  assert.equal(complete.response.ok, true);

  const update = await fake.waitForCall('chat.update');
  assert.equal(update.params.ts, post.response.ts);
  assert.equal(update.response.ok, true);
  const thread = fake.messages.filter((m) => m.thread_ts === threadTs);
  assert.deepEqual(
    thread.map((m) => m.text),
    ['done', 'seed 7, 16 frames'],
  );
  assert.equal(thread[1]?.files?.[0]?.id, upload.fileId);

  assert.deepEqual(
    fake.calls.filter((c) => c.response.ok !== true),
    [],
    'no Web API call failed',
  );
  const everything = logs.join('\n');
  assert.ok(
    logs.some((l) => l.includes('"lib":"@slack/bolt"') && l.includes('"level":20')),
    "Bolt's debug output reaches the logger",
  );
  for (const secret of [fake.botToken, fake.signingSecret, 'legacy-verification']) {
    assert.ok(!everything.includes(secret), `the log never contains ${secret.slice(0, 5)}…`);
  }
});

test('HTTP mode: forged, tampered, unsigned and stale requests get 401 and reach no listener', async (t) => {
  const { fake } = await startSlack(t, 'http', (app) => {
    app.event(
      'app_mention',
      async ({ event, client }) => void (await client.chat.postMessage({ channel: event.channel, text: event.text })),
    );
  });
  const mention = (text: string) => ({
    type: 'app_mention',
    user: fake.user('mallory'),
    text,
    channel: fake.channelId,
  });
  const now = Math.floor(Date.now() / 1000);

  assert.equal((await fake.deliverEvent(mention('wrong secret'), { forge: 'wrong-secret' })).status, 401);
  assert.equal((await fake.deliverEvent(mention('tampered'), { forge: 'tampered-body' })).status, 401);
  assert.equal((await fake.deliverEvent(mention('unsigned'), { forge: 'no-signature' })).status, 401);
  assert.equal((await fake.deliverEvent(mention('stale'), { timestamp: now - 6 * 60 })).status, 401);
  assert.equal((await fake.deliverEvent(mention('recent'), { timestamp: now - 60 })).status, 200);
  // Bolt checks staleness only: a timestamp in the future passes (chat-fakes.md S4).
  assert.equal((await fake.deliverEvent(mention('future'), { timestamp: now + 6 * 60 })).status, 200);
  assert.equal((await fake.deliverSlashCommand({ text: 'forged' }, { forge: 'wrong-secret' })).status, 401);

  // Deliveries are acked before their listener runs, so wait for the last valid one's effect before counting.
  await fake.deliverEvent(mention('valid'));
  await fake.waitForCall('chat.postMessage', (p) => p.text === 'valid');
  await fake.waitForCall('chat.postMessage', (p) => p.text === 'future');
  await fake.waitForCall('chat.postMessage', (p) => p.text === 'recent');
  assert.deepEqual(
    fake.calls
      .filter((c) => c.method === 'chat.postMessage')
      .map((c) => c.params.text)
      .sort(),
    ['future', 'recent', 'valid'],
  );
});

test('HTTP mode: slash command ack() and respond() to the response_url; block_actions ack() and chat.update', async (t) => {
  const { fake } = await startSlack(t, 'http', (app) => {
    app.command('/video', async ({ ack, command, respond }) => {
      await ack();
      await respond({ response_type: 'ephemeral', text: `queued: ${command.text} (by ${command.user_id})` });
    });
    app.event('app_mention', async ({ event, client }) => {
      await client.chat.postMessage({
        channel: event.channel,
        thread_ts: event.ts,
        text: 'queued',
        blocks: [
          {
            type: 'actions',
            block_id: 'job',
            elements: [
              { type: 'button', action_id: 'cancel', value: 'job1', text: { type: 'plain_text', text: 'Cancel' } },
            ],
          },
        ],
      });
    });
    app.action('cancel', async ({ ack, body, client, action }) => {
      await ack();
      assert.equal(body.type, 'block_actions');
      const value = action.type === 'button' ? action.value : undefined;
      await client.chat.update({
        channel: body.channel!.id,
        ts: body.container.message_ts as string,
        text: `cancelled ${value}`,
        blocks: [],
      });
      await client.chat.postEphemeral({
        channel: body.channel!.id,
        user: body.user.id,
        text: 'Your job was cancelled.',
      });
    });
  });

  const slash = await fake.deliverSlashCommand({ text: 'a panda --frames 16', userId: fake.user('bob') });
  assert.equal(slash.status, 200);
  assert.equal(slash.body, '', 'a bare ack() answers 200 with an empty body');
  const response = await fake.waitForResponse(slash.responseId);
  assert.deepEqual(response.body, {
    response_type: 'ephemeral',
    text: `queued: a panda --frames 16 (by ${fake.user('bob')})`,
  });

  await fake.deliverEvent({ type: 'app_mention', user: fake.user('alice'), text: 'hi', channel: fake.channelId });
  const posted = await fake.waitForCall('chat.postMessage');
  const click = await fake.deliverBlockAction({
    actionId: 'cancel',
    value: 'job1',
    userId: fake.user('alice'),
    message: { channel: fake.channelId, ts: posted.response.ts as string },
  });
  assert.equal(click.status, 200);
  const update = await fake.waitForCall('chat.update');
  assert.equal(update.params.ts, posted.response.ts);
  assert.equal(update.params.text, 'cancelled job1');
  assert.deepEqual(update.params.blocks, []);
  const ephemeral = await fake.waitForCall('chat.postEphemeral');
  assert.equal(ephemeral.params.user, fake.user('alice'));
  assert.equal(ephemeral.response.ok, true);
  assert.equal(fake.messages.find((m) => m.ts === posted.response.ts)?.text, 'cancelled job1');
});

test('HTTP mode mounted on the service\'s server: a request during auth.test waits for it, or gets 503 with Retry-After', async (t) => {
  const fake = await startFakeSlack();
  const { logger } = captureLogs();
  const options = { botToken: fake.botToken, signingSecret: fake.signingSecret, slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 }, mounted: true, logger };
  const handle = createSlackApp({ ...options, startWaitMs: 1_000 });
  handle.app.event('app_mention', async ({ event, client }) => {
    await client.chat.postMessage({ channel: event.channel, thread_ts: event.ts, text: 'queued' });
  });
  const failing = createSlackApp({ ...options, botToken: 'xoxb-revoked' });
  // The service's server listens before the adapters start: mount both apps as src/main.ts does, then start them.
  const server = Fastify();
  const arrivals = new Recorder<string>((url) => url);
  server.addHook('onRequest', async (request) => arrivals.push(request.url));
  await server.register(slackEventsRoute, { requestListener: handle.requestListener! });
  await server.register(slackEventsRoute, { requestListener: failing.requestListener!, prefix: '/failing' });
  const url = await server.listen({ port: 0, host: '127.0.0.1' });
  t.after(async () => {
    await server.close();
    await fake.close();
  });
  fake.eventsUrl = `${url}${SLACK_EVENTS_PATH}`;
  const mention = { type: 'app_mention', user: fake.user('alice'), text: `<@${fake.botUserId}> a cat`, channel: fake.channelId };

  const authTest = fake.holdNext('auth.test');
  const starting = handle.start();
  await authTest.arrived;
  // Bolt alone would answer 401 here and run nothing: its authorize function is set by init().
  const tooEarly = await fake.deliverEvent(mention);
  assert.deepEqual([tooEarly.status, tooEarly.retryAfter, tooEarly.body], [503, '5', 'The Slack app is starting; try again in a few seconds.']);
  const early = fake.deliver(JSON.stringify({ type: 'url_verification', challenge: 'c-1', token: 'x' }), 'application/json');
  await arrivals.waitFor((u) => u === SLACK_EVENTS_PATH && arrivals.items.filter((i) => i === u).length === 2);
  authTest.release();
  await starting;
  assert.deepEqual([(await early).status, JSON.parse((await early).body).challenge], [200, 'c-1'], 'answered once started');
  assert.equal((await fake.deliverEvent(mention)).status, 200);
  await fake.waitForCall('chat.postMessage');
  assert.equal(fake.calls.filter((c) => c.method === 'chat.postMessage').length, 1, 'the refused event ran nothing');

  await assert.rejects(failing.start(), /invalid_auth/);
  const off = await fake.deliverEvent(mention, { url: `${url}/failing${SLACK_EVENTS_PATH}` });
  assert.deepEqual([off.status, off.retryAfter, off.body], [503, null, 'The Slack app is off: it could not start.']);
});

test('a Web API error reaches the listener as WebAPIPlatformError with data.error', async (t) => {
  const errors: unknown[] = [];
  const { fake } = await startSlack(t, 'http', (app) => {
    app.event('app_mention', async ({ event, client }) => {
      await client.chat
        .postMessage({ channel: event.channel, thread_ts: event.ts, text: 'queued' })
        .catch((e: unknown) => void errors.push(e));
      await client.chat.postMessage({ channel: event.channel, thread_ts: event.ts, text: 'after the error' });
    });
  });
  fake.failNext('chat.postMessage', 'not_in_channel');
  await fake.deliverEvent({ type: 'app_mention', user: fake.user('alice'), text: 'hi', channel: fake.channelId });
  await fake.waitForCall('chat.postMessage', (p) => p.text === 'after the error');
  const [error] = errors as [{ code: string; data: { error: string } }];
  assert.equal(error.code, webApi.ErrorCode.PlatformError);
  assert.equal(error.data.error, 'not_in_channel');
});

test('Socket Mode: apps.connections.open with the xapp token, envelopes acked, replies, clean shutdown', async (t) => {
  const mp4 = fakeMp4(3000);
  const { fake, handle, logs } = await startSlack(t, 'socket', (app) => {
    replyAndUpload(app, mp4);
    app.command('/video', async ({ ack, respond }) => {
      await ack();
      await respond('queued over Socket Mode');
    });
  });
  assert.equal(handle.mode, 'socket');
  assert.equal(handle.port, undefined);
  const open = await fake.waitForCall('apps.connections.open');
  assert.equal(open.auth, `Bearer ${fake.appToken}`);
  assert.equal((await fake.waitForCall('auth.test')).auth, `Bearer ${fake.botToken}`);
  await fake.waitFor((r) => r.kind === 'socket' && r.event === 'open');

  const ack = await fake.pushEvent({
    type: 'app_mention',
    user: fake.user('alice'),
    text: 'a panda',
    channel: fake.channelId,
  });
  assert.deepEqual(ack.payload, {});
  const envelope = fake.log.items.find((r) => r.kind === 'socket' && r.event === 'envelope');
  const threadTs = ((envelope?.kind === 'socket' ? envelope.payload : {}) as { event: { ts: string } }).event.ts;
  const post = await fake.waitForCall('chat.postMessage');
  assert.equal(post.params.thread_ts, threadTs);
  assert.equal(post.auth, `Bearer ${fake.botToken}`);
  const upload = await fake.waitFor((r): r is SlackUpload => r.kind === 'upload');
  assert.ok(upload.bytes.equals(mp4));
  await fake.waitForCall('chat.update');

  const slashAck = await fake.pushSlashCommand({ text: 'a cat' });
  assert.deepEqual(slashAck.payload, {}, 'a bare ack() sends an empty payload');
  const response = await fake.waitForResponse();
  assert.equal(response.body.text, 'queued over Socket Mode');

  // Bolt's own stop() does not wait for the close handshake; if the peer never answers, the SDK's 30 s handshake
  // timer keeps node alive (chat-fakes.md). Ours waits for the handshake, which the fake answers at once.
  await Promise.race([
    handle.stop(),
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error('stop() waited for the 30 s close-handshake timeout')), 10_000).unref(),
    ),
  ]);
  const closed = await fake.waitFor((r) => r.kind === 'socket' && r.event === 'close');
  assert.equal(closed.kind === 'socket' && closed.code, 1000, 'the client closed normally');

  const everything = logs.join('\n');
  assert.ok(everything.includes('Received a message on the WebSocket'), 'Socket Mode debug output reaches the logger');
  const ticket = new URL(open.response.url as string).searchParams.get('ticket')!;
  for (const secret of [fake.appToken, fake.botToken, ticket, 'legacy-verification']) {
    assert.ok(!everything.includes(secret), `the log never contains ${secret.slice(0, 5)}…`);
  }
});

test('start() explains a rejected bot token, a rejected app token and an unreachable API', async (t) => {
  const fake = await startFakeSlack();
  t.after(() => fake.close());
  const { logger } = captureLogs();
  const base = { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 }, logger };

  const wrongBot = createSlackApp({
    ...base,
    botToken: 'xoxb-not-the-right-one',
    signingSecret: fake.signingSecret,
    port: 0,
  });
  await assert.rejects(wrongBot.start(), /Slack refused auth\.test \(invalid_auth\): reinstall .* SLACK_BOT_TOKEN/);

  const wrongApp = createSlackApp({ ...base, botToken: fake.botToken, appToken: 'xapp-1-A0-not-right' });
  await assert.rejects(wrongApp.start(), /Slack refused apps\.connections\.open \(invalid_auth\): .*SLACK_APP_TOKEN/);

  const unreachable = createSlackApp({
    ...base,
    botToken: fake.botToken,
    signingSecret: 's',
    slackApiUrl: 'http://127.0.0.1:9/api',
  });
  await assert.rejects(
    unreachable.start(),
    /Could not reach the Slack API at http:\/\/127\.0\.0\.1:9\/api\/ for auth\.test/,
  );
});

test('createSlackApp explains bad settings', () => {
  const { logger } = captureLogs();
  assert.throws(
    () => createSlackApp({ botToken: 'xoxp-123', signingSecret: 's', logger }),
    /SLACK_BOT_TOKEN must be the Bot User OAuth Token.*starts with xoxp-/,
  );
  assert.throws(() => createSlackApp({ botToken: '', signingSecret: 's', logger }), /SLACK_BOT_TOKEN is empty/);
  assert.throws(
    () => createSlackApp({ botToken: 'xoxb-1', appToken: 'xoxb-2', logger }),
    /SLACK_APP_TOKEN must be an App-Level Token/,
  );
  assert.throws(
    () => createSlackApp({ botToken: 'xoxb-1', logger }),
    /SLACK_APP_TOKEN \(Socket Mode.*or SLACK_SIGNING_SECRET/,
  );
  assert.throws(
    () => createSlackApp({ botToken: 'xoxb-1', signingSecret: 's', slackApiUrl: 'slack-gov.com', logger }),
    /http\(s\) URL/,
  );
  assert.throws(
    () => createSlackApp({ botToken: 'xoxb-1', signingSecret: 's', slackApiUrl: 'ftp://slack-gov.com/api/', logger }),
    /http or https/,
  );
  assert.equal(createSlackApp({ botToken: 'xoxb-1', signingSecret: 's', appToken: 'xapp-1', logger }).mode, 'socket');
  assert.equal(createSlackApp({ botToken: 'xoxb-1', signingSecret: 's', logger }).mode, 'http');
});
