// The Slack adapter end to end: the real service (turned on by SLACK_BOT_TOKEN plus SLACK_SIGNING_SECRET or
// SLACK_APP_TOKEN alone) with the real Bolt app against the fake Slack on 127.0.0.1, HTTP mode mounted on the
// service's own server at /slack/events, and the demo model rendering every video for real at a tiny size.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { startFakeSlack, type FakeSlack, type SlackApiCall, type SlackUpload, type SocketFrame, type Wire } from '../fakes/slack.js';
import { closeAfterServices, dropped, ffprobe, jobsAndCharges, RENDER_WAIT_MS, startChatService, TINY, type ChatService } from './chat-service.js';

interface Bot {
  fake: FakeSlack;
  service: ChatService;
}

async function startBot(t: TestContext, mode: 'http' | 'socket' = 'http', env: Record<string, string> = {}): Promise<Bot> {
  const fake = closeAfterServices(t, await startFakeSlack());
  const credentials: Record<string, string> = mode === 'http' ? { SLACK_SIGNING_SECRET: fake.signingSecret } : { SLACK_APP_TOKEN: fake.appToken };
  const service = await startChatService(t, { env: { SLACK_BOT_TOKEN: fake.botToken, SLACK_API_URL: fake.apiUrl, ...credentials, ...env } });
  if (mode === 'http') fake.eventsUrl = `${service.running.url}/slack/events`;
  return { fake, service };
}

const TINY_FLAGS = `--frames ${TINY.frames} --size ${TINY.size} --steps ${TINY.steps}`;

/** The status line of one of our status messages (second block). */
function statusLine(params: Wire): string {
  const blocks = (params.blocks ?? []) as Wire[];
  return String(((blocks[1]?.text ?? {}) as Wire).text ?? '');
}

function buttons(params: Wire): { action: string; value: string }[] {
  const actions = ((params.blocks ?? []) as Wire[]).find((b) => b.type === 'actions');
  return ((actions?.elements ?? []) as Wire[]).map((e) => ({ action: String(e.action_id), value: String(e.value) }));
}

const updateOf = (ts: string, line: RegExp) => (p: Wire) => p.ts === ts && line.test(statusLine(p));

async function mention(fake: FakeSlack, text: string, user = fake.user('alice')): Promise<{ threadTs: string; statusTs: string }> {
  const delivery = await fake.deliverEvent({ type: 'app_mention', user, text: `<@${fake.botUserId}> ${text}`, channel: fake.channelId });
  assert.equal(delivery.status, 200);
  const threadTs = delivery.event.ts as string;
  const post = await fake.waitForCall('chat.postMessage', (p) => p.thread_ts === threadTs);
  return { threadTs, statusTs: post.response.ts as string };
}

test('HTTP mode on the service port: url_verification, app_mention -> status in the thread, progress, uploadV2 of the MP4, done', async (t) => {
  const { fake, service } = await startBot(t);
  const authTest = await fake.waitForCall('auth.test');
  assert.equal(authTest.auth, `Bearer ${fake.botToken}`);
  const challenge = await fake.deliverUrlVerification('c-42');
  assert.deepEqual([challenge.status, JSON.parse(challenge.body).challenge], [200, 'c-42']);

  const alice = fake.user('alice');
  const { threadTs, statusTs } = await mention(fake, `a panda playing guitar on a boat ${TINY_FLAGS} --seed 7 --neg "blurry"`);
  const first = fake.calls.find((c) => c.method === 'chat.postMessage')!;
  assert.equal(first.auth, `Bearer ${fake.botToken}`);
  assert.equal(first.params.channel, fake.channelId);

  const queued = await fake.waitForCall('chat.update', (p) => p.ts === statusTs);
  assert.match(statusLine(queued.params), /(Next in line|Starting now)/);
  assert.deepEqual(buttons(queued.params).map((b) => b.action), ['t2v_cancel']);
  const jobId = buttons(queued.params)[0]!.value;

  const uploadUrl = await fake.waitForCall('files.getUploadURLExternal', () => true, RENDER_WAIT_MS);
  assert.equal(uploadUrl.auth, `Bearer ${fake.botToken}`);
  assert.equal(uploadUrl.params.filename, `t2v-${jobId}.mp4`);
  const upload = await fake.waitFor((r): r is SlackUpload => r.kind === 'upload');
  assert.equal(upload.auth, `Bearer ${fake.botToken}`);
  assert.equal(upload.bytes.length, Number(uploadUrl.params.length));
  assert.deepEqual(ffprobe(upload.bytes), { codec_name: 'h264', width: 64, height: 64, nb_read_frames: '4' });
  const complete = await fake.waitForCall('files.completeUploadExternal');
  assert.equal(complete.params.channel_id, fake.channelId);
  assert.equal(complete.params.thread_ts, threadTs, 'the video goes into the mention\'s thread');
  assert.deepEqual(complete.params.files, [{ id: upload.fileId, title: 'a panda playing guitar on a boat' }]);
  const comment = String(complete.params.initial_comment);
  assert.match(comment, new RegExp(`^<@${alice}> your video is ready: \\*a panda playing guitar on a boat\\*\\nAvoiding: blurry\\n`));
  assert.match(comment, /seed 7 · 64x64 · 4 frames at 8 fps \(0\.5 s\) · 2 steps · guidance 9 · 0\.5 s long · rendered in \d+\.\d s$/);

  const done = await fake.waitForCall('chat.update', updateOf(statusTs, /Done/));
  assert.ok(done.seq > fake.calls.find((c) => c.method === 'files.completeUploadExternal')!.seq, 'done only after the upload');
  assert.deepEqual(buttons(done.params), [
    { action: 't2v_reroll', value: jobId },
    { action: 't2v_reproduce', value: jobId },
  ]);
  const lines = fake.calls.filter((c) => c.method === 'chat.update' && c.params.ts === statusTs).map((c) => statusLine(c.params));
  assert.ok(lines.some((l) => /Rendering: .*step 1\/2/.test(l)), `progress updates, got: ${lines.join(' | ')}`);
  assert.match(lines.at(-1)!, /Done/);

  const logText = service.logs.items.join('\n');
  for (const secret of [fake.botToken, fake.signingSecret]) assert.ok(!logText.includes(secret), 'no secret in the logs');
});

test('HTTP mode: forged signatures and stale timestamps are rejected before anything runs', async (t) => {
  const { fake } = await startBot(t);
  const event = { type: 'app_mention', user: fake.user('mallory'), text: `<@${fake.botUserId}> a cat`, channel: fake.channelId };
  for (const forge of ['wrong-secret', 'tampered-body', 'no-signature'] as const) {
    assert.equal((await fake.deliverEvent(event, { forge })).status, 401, forge);
  }
  const sixMinutesAgo = Math.floor(Date.now() / 1000) - 6 * 60;
  assert.equal((await fake.deliverEvent(event, { timestamp: sixMinutesAgo })).status, 401, 'stale timestamp');
  assert.equal((await fake.deliverSlashCommand({ text: 'a cat' }, { forge: 'wrong-secret' })).status, 401);
  // A genuine request afterwards goes through, so the 401s were the signature check and nothing else.
  const { statusTs } = await mention(fake, `a cat ${TINY_FLAGS}`);
  assert.ok(statusTs);
  assert.equal(fake.calls.filter((c) => c.method === 'chat.postMessage').length, 1, 'nothing ran for the forged requests');
});

test('mention with an unknown flag: the problem and the help text in the thread, no job', async (t) => {
  const { fake } = await startBot(t);
  const delivery = await fake.deliverEvent({ type: 'app_mention', user: fake.user('alice'), text: `<@${fake.botUserId}> a cat --fames 16`, channel: fake.channelId });
  const reply = await fake.waitForCall('chat.postMessage', (p) => p.thread_ts === delivery.event.ts);
  assert.match(String(reply.params.text), /^--fames is not an option I know\.\n\nTell me what to show/);
  assert.match(String(reply.params.text), /`--frames N`: 1 to 32, default 16/);
  const help = await fake.deliverEvent({ type: 'app_mention', user: fake.user('alice'), text: `<@${fake.botUserId}>`, channel: fake.channelId });
  const helpReply = await fake.waitForCall('chat.postMessage', (p) => p.thread_ts === help.event.ts);
  assert.match(String(helpReply.params.text), /^Tell me what to show, with options after it/);
  assert.ok(!fake.calls.some((c) => c.method === 'chat.update'), 'no job was submitted');
});

test('buttons: Cancel refused for another user and allowed for the requester; Re-roll makes a new video in the thread', async (t) => {
  const { fake } = await startBot(t);
  const [alice, bob] = [fake.user('alice'), fake.user('bob')];
  const long = await mention(fake, 'a slow sunrise --frames 16 --size 128x128 --steps 50', alice);
  const rendering = await fake.waitForCall('chat.update', updateOf(long.statusTs, /Rendering/), RENDER_WAIT_MS);
  const [cancel] = buttons(rendering.params);

  const refused = await fake.deliverBlockAction({ actionId: cancel!.action, value: cancel!.value, userId: bob, message: { channel: fake.channelId, ts: long.statusTs } });
  assert.equal(refused.status, 200, 'acked');
  const refusal = await fake.waitForResponse(refused.responseId);
  assert.deepEqual(refusal.body, {
    response_type: 'ephemeral',
    replace_original: false,
    text: "You are not allowed to cancel another user's video. Only the person who asked for it or a t2v admin can cancel it.",
  });

  const own = await fake.deliverBlockAction({ actionId: cancel!.action, value: cancel!.value, userId: alice, message: { channel: fake.channelId, ts: long.statusTs } });
  const accepted = await fake.waitForResponse(own.responseId, RENDER_WAIT_MS);
  assert.match(String(accepted.body.text), /^(Cancelled\.|Cancelling: the render stops at its next step\.)$/);
  const cancelled = await fake.waitForCall('chat.update', updateOf(long.statusTs, /Cancelled by/), RENDER_WAIT_MS);
  assert.match(statusLine(cancelled.params), new RegExp(`Cancelled by <@${alice}>`));
  assert.deepEqual(buttons(cancelled.params), []);

  const tiny = await mention(fake, `a quick fox ${TINY_FLAGS} --seed 99`, alice);
  const done = await fake.waitForCall('chat.update', updateOf(tiny.statusTs, /Done/), RENDER_WAIT_MS);
  const reroll = buttons(done.params).find((b) => b.action === 't2v_reroll')!;
  const firstUploads = fake.uploads.length;
  const click = await fake.deliverBlockAction({ actionId: reroll.action, value: reroll.value, userId: bob, message: { channel: fake.channelId, ts: tiny.statusTs } });
  assert.equal(click.status, 200);
  const rerollStatus = await fake.waitForCall('chat.postMessage', (p) => p.thread_ts === tiny.threadTs && p.text === 'Adding your video to the queue…' && fake.calls.filter((c) => c.method === 'chat.postMessage' && c.params.thread_ts === tiny.threadTs).length === 2);
  const complete = await fake.waitFor((r): r is SlackApiCall => r.kind === 'call' && r.method === 'files.completeUploadExternal' && fake.uploads.length > firstUploads, RENDER_WAIT_MS);
  assert.equal(complete.params.thread_ts, tiny.threadTs, 'the re-roll lands in the same thread');
  assert.match(String(complete.params.initial_comment), new RegExp(`^<@${bob}> your video is ready`), 'the clicker is the requester');
  assert.doesNotMatch(String(complete.params.initial_comment), /seed 99 /, 'a new seed');
  await fake.waitForCall('chat.update', updateOf(rerollStatus.response.ts as string, /Done/));
});

test('/video slash command: acked at once, a status message in the channel, the MP4 in its thread; quota error only for the user', async (t) => {
  const { fake } = await startBot(t, 'http', { QUOTA_VIDEOS_PER_DAY: '1' });
  const command = await fake.deliverSlashCommand({ text: `a lighthouse at night ${TINY_FLAGS}` });
  assert.deepEqual([command.status, command.body], [200, ''], 'ack() answers with an empty 200');
  const status = await fake.waitForCall('chat.postMessage');
  assert.equal(status.params.thread_ts, undefined, 'a new message in the channel');
  const statusTs = status.response.ts as string;
  const complete = await fake.waitForCall('files.completeUploadExternal', () => true, RENDER_WAIT_MS);
  assert.equal(complete.params.thread_ts, statusTs, 'the video goes into the status message\'s thread');
  const upload = fake.uploads.at(-1)!;
  assert.equal(ffprobe(upload.bytes).codec_name, 'h264');
  await fake.waitForCall('chat.update', updateOf(statusTs, /Done/));

  const second = await fake.deliverSlashCommand({ text: `another one ${TINY_FLAGS}` });
  const answer = await fake.waitForResponse(second.responseId);
  assert.equal(answer.body.response_type, 'ephemeral');
  assert.match(String(answer.body.text), /^You have used 1 of your 1 video today\. It resets in \d+ h \d+ min \(00:00 UTC\)\.$/);
  const placeholder = fake.calls.filter((c) => c.method === 'chat.postMessage').at(-1)!;
  const deleted = await fake.waitForCall('chat.delete');
  assert.equal(deleted.params.ts, placeholder.response.ts, 'the public placeholder is removed');

  const elsewhere = await fake.deliverSlashCommand({ text: 'a cat', channelId: 'C0NOTMEMBER' });
  const refused = await fake.waitForResponse(elsewhere.responseId);
  assert.deepEqual(refused.body, {
    response_type: 'ephemeral',
    text: 'The chat platform refused the request (channel_not_found). Invite me to this channel first (/invite, then my name) and try again.',
  });

  const help = await fake.deliverSlashCommand({ text: '' });
  const helpAnswer = await fake.waitForResponse(help.responseId);
  assert.match(String(helpAnswer.body.text), /`\/video a panda playing guitar on a boat --frames 16 --seed 7 --neg "blurry"`/);
});

test('Socket Mode: app-level token, an app_mention envelope acked, the video uploaded in the thread, clean disconnect', async (t) => {
  const { fake, service } = await startBot(t, 'socket');
  const open = await fake.waitForCall('apps.connections.open');
  assert.equal(open.auth, `Bearer ${fake.appToken}`);
  await fake.waitFor((r) => r.kind === 'socket' && r.event === 'open');
  const ack = await fake.pushEvent({ type: 'app_mention', user: fake.user('alice'), text: `<@${fake.botUserId}> a paper boat ${TINY_FLAGS}`, channel: fake.channelId });
  assert.deepEqual(ack.payload, {});
  const envelope = fake.log.items.find((r) => r.kind === 'socket' && r.event === 'envelope')!;
  const threadTs = ((envelope.kind === 'socket' && (envelope.payload as Wire).event) as Wire).ts as string;
  const status = await fake.waitForCall('chat.postMessage', (p) => p.thread_ts === threadTs);
  assert.equal(status.auth, `Bearer ${fake.botToken}`, 'Web API calls use the bot token, not the app token');
  const complete = await fake.waitForCall('files.completeUploadExternal', () => true, RENDER_WAIT_MS);
  assert.equal(complete.params.thread_ts, threadTs);
  assert.equal(ffprobe(fake.uploads.at(-1)!.bytes).nb_read_frames, '4');
  await fake.waitForCall('chat.update', updateOf(status.response.ts as string, /Done/));
  await service.stop();
  await fake.waitFor((r) => r.kind === 'socket' && r.event === 'close');
  assert.equal(fake.socketConnections, 0);
  assert.ok(!service.logs.items.join('\n').includes(fake.appToken), 'app token not logged');
});

test('uploads disabled: the thread gets a signed link that opens the video without a token', async (t) => {
  const { fake, service } = await startBot(t, 'http', { PUBLIC_URL: 'https://t2v.example.com', OUTPUT_RETENTION_DAYS: '0' });
  fake.failNext('files.getUploadURLExternal', 'file_uploads_disabled');
  const alice = fake.user('alice');
  const { threadTs, statusTs } = await mention(fake, `a paper boat ${TINY_FLAGS}`);
  const refused = await fake.waitForCall('chat.postMessage', (p) => p.thread_ts === threadTs && String(p.text).includes('file_uploads_disabled'), RENDER_WAIT_MS);
  const text = String(refused.params.text);
  const [, link, jobId] = /Download it here: <(https:\/\/t2v\.example\.com\/media\/([\w-]+)\/video\?exp=\d+&sig=[\w-]+)\|[\w-]+>$/.exec(text) ?? [];
  assert.ok(link !== undefined, text);
  assert.match(text, new RegExp(`^<@${alice}> The chat platform refused the request \\(file_uploads_disabled\\)\\.`));
  await fake.waitForCall('chat.update', updateOf(statusTs, /Done/));

  // PUBLIC_URL stands for the reverse proxy: the same path and query on the service itself, with a Range as players send.
  const served = new URL(link);
  const whole = await fetch(`${service.running.url}${served.pathname}${served.search}`);
  assert.equal(whole.status, 200);
  assert.equal(ffprobe(Buffer.from(await whole.arrayBuffer())).nb_read_frames, '4');
  const part = await fetch(`${service.running.url}${served.pathname}${served.search}`, { headers: { range: 'bytes=4-11' } });
  assert.equal(part.status, 206);
  assert.equal(Buffer.from(await part.arrayBuffer()).toString('latin1'), 'ftypisom');
  // Files are kept forever here (OUTPUT_RETENTION_DAYS=0): the link lasts 30 days from now instead.
  const days = (Number(served.searchParams.get('exp')) * 1000 - Date.now()) / 86_400_000;
  assert.ok(days > 29.9 && days <= 30, `link lasts ${days} days`);
  assert.ok((await service.running.service.getJob(jobId!)).output !== null);
  assert.ok(!service.logs.items.some((l) => l.includes(served.searchParams.get('sig')!)), 'the signature stays out of the logs');
});

test('restart: a job queued from a mention is finished by the next process in the same thread', async (t) => {
  const fake = closeAfterServices(t, await startFakeSlack());
  const env = { SLACK_BOT_TOKEN: fake.botToken, SLACK_SIGNING_SECRET: fake.signingSecret, SLACK_API_URL: fake.apiUrl };
  const first = await startChatService(t, { env, engine: false });
  fake.eventsUrl = `${first.running.url}/slack/events`;
  const { threadTs, statusTs } = await mention(fake, `a red fox in the snow ${TINY_FLAGS}`);
  await fake.waitForCall('chat.update', updateOf(statusTs, /Next in line, waiting for the engine to be ready/));
  await first.stop();
  const before = fake.calls.length;

  await startChatService(t, { env, databaseUrl: first.databaseUrl });
  const complete = await fake.waitForCall('files.completeUploadExternal', () => true, RENDER_WAIT_MS);
  assert.equal(complete.params.thread_ts, threadTs);
  assert.equal(ffprobe(fake.uploads.at(-1)!.bytes).nb_read_frames, '4');
  await fake.waitForCall('chat.update', updateOf(statusTs, /Done/));
  const updates = fake.calls.slice(before).filter((c) => c.method === 'chat.update' && c.params.ts === statusTs).map((c) => statusLine(c.params));
  assert.ok(updates.some((l) => l.includes('Rendering')), `progress after the restart, got: ${updates.join(' | ')}`);
});

// ---- deliveries Slack sends twice ----

/** The delivery key of a signed event delivery: its `event_id`. */
function eventKey(delivery: { request: { body: string } }): string {
  return `slack:event:${(JSON.parse(delivery.request.body) as Wire).event_id as string}`;
}

/** The delivery key of a form-encoded slash command or `payload=` interaction: its `trigger_id`. */
function triggerKey(delivery: { request: { body: string } }): string {
  const form = new URLSearchParams(delivery.request.body);
  const payload = form.get('payload');
  return `slack:trigger:${payload === null ? form.get('trigger_id') : ((JSON.parse(payload) as Wire).trigger_id as string)}`;
}

test('HTTP: an event Slack retries while the first delivery is still being handled, and again later: one status message, one job, one charge, one video', async (t) => {
  const { fake, service } = await startBot(t);
  const slowStatus = fake.holdNext('chat.postMessage');
  const first = await fake.deliverEvent({ type: 'app_mention', user: fake.user('alice'), text: `<@${fake.botUserId}> a lantern on a lake ${TINY_FLAGS}`, channel: fake.channelId });
  assert.equal(first.status, 200);
  await slowStatus.arrived;

  const retried = await fake.retry(first, { num: 1, reason: 'http_timeout' });
  assert.equal(retried.status, 200, 'the retry is acknowledged');
  await dropped(service, eventKey(first));
  slowStatus.release();

  const threadTs = first.event.ts as string;
  const complete = await fake.waitForCall('files.completeUploadExternal', () => true, RENDER_WAIT_MS);
  assert.equal(complete.params.thread_ts, threadTs);
  const statusTs = fake.calls.find((c) => c.method === 'chat.postMessage')!.response.ts as string;
  await fake.waitForCall('chat.update', updateOf(statusTs, /Done/));

  const droppedAgain = service.logs.next((line) => line.includes('handled already') && line.includes(eventKey(first)));
  const late = await fake.retry(first, { num: 2, reason: 'http_timeout' });
  assert.equal(late.status, 200);
  await droppedAgain;
  assert.equal(fake.calls.filter((c) => c.method === 'chat.postMessage').length, 1, 'one status message');
  assert.equal(fake.uploads.length, 1, 'one video');
  assert.deepEqual(await jobsAndCharges(service), { jobs: 1, charges: 1 });
});

test('HTTP: a retry that reaches the next process after a restart is still dropped; the restarted process finishes the one job', async (t) => {
  const fake = closeAfterServices(t, await startFakeSlack());
  const env = { SLACK_BOT_TOKEN: fake.botToken, SLACK_SIGNING_SECRET: fake.signingSecret, SLACK_API_URL: fake.apiUrl };
  const first = await startChatService(t, { env, engine: false });
  fake.eventsUrl = `${first.running.url}/slack/events`;
  const delivery = await fake.deliverEvent({ type: 'app_mention', user: fake.user('alice'), text: `<@${fake.botUserId}> a kite over dunes ${TINY_FLAGS}`, channel: fake.channelId });
  const status = await fake.waitForCall('chat.postMessage', (p) => p.thread_ts === delivery.event.ts);
  await fake.waitForCall('chat.update', updateOf(status.response.ts as string, /Next in line/));
  await first.stop();

  const second = await startChatService(t, { env, databaseUrl: first.databaseUrl });
  fake.eventsUrl = `${second.running.url}/slack/events`;
  const retried = await fake.retry(delivery, { num: 1, reason: 'http_timeout' });
  assert.equal(retried.status, 200);
  await dropped(second, eventKey(delivery));
  await fake.waitForCall('files.completeUploadExternal', () => true, RENDER_WAIT_MS);
  await fake.waitForCall('chat.update', updateOf(status.response.ts as string, /Done/));
  assert.equal(fake.calls.filter((c) => c.method === 'chat.postMessage').length, 1, 'one status message');
  assert.equal(fake.uploads.length, 1, 'one video');
  assert.deepEqual(await jobsAndCharges(second), { jobs: 1, charges: 1 });
});

test('Socket Mode: an envelope retried with the same payload while the first is being handled: acked, one job, one video', async (t) => {
  const { fake, service } = await startBot(t, 'socket');
  await fake.waitFor((r) => r.kind === 'socket' && r.event === 'open');
  const slowStatus = fake.holdNext('chat.postMessage');
  const ack = await fake.pushEvent({ type: 'app_mention', user: fake.user('alice'), text: `<@${fake.botUserId}> a comet ${TINY_FLAGS}`, channel: fake.channelId });
  await slowStatus.arrived;
  const retryAck = await fake.retryEnvelope(ack.envelopeId!, { attempt: 1, reason: 'http_timeout' });
  assert.deepEqual(retryAck.payload, {}, 'the retry is acknowledged');
  const envelope = fake.log.items.find((r): r is SocketFrame => r.kind === 'socket' && r.event === 'envelope' && r.envelopeId === ack.envelopeId)!;
  const payload = envelope.payload as Wire;
  await dropped(service, `slack:event:${payload.event_id as string}`);
  slowStatus.release();

  await fake.waitForCall('files.completeUploadExternal', () => true, RENDER_WAIT_MS);
  await fake.waitForCall('chat.update', updateOf(fake.calls.find((c) => c.method === 'chat.postMessage')!.response.ts as string, /Done/));
  assert.equal(fake.calls.filter((c) => c.method === 'chat.postMessage').length, 1, 'one status message');
  assert.equal(fake.uploads.length, 1, 'one video');
  assert.deepEqual(await jobsAndCharges(service), { jobs: 1, charges: 1 });
});

test('HTTP: a /video command and a Re-roll click each delivered twice (the same trigger_id): one job and one answer each', async (t) => {
  const { fake, service } = await startBot(t);
  const slowStatus = fake.holdNext('chat.postMessage');
  const command = await fake.deliverSlashCommand({ text: `a tram in the rain ${TINY_FLAGS}` });
  await slowStatus.arrived;
  const again = await fake.deliver(command.request.body, command.request.contentType);
  assert.deepEqual([again.status, again.body], [200, ''], 'acknowledged like the first');
  await dropped(service, triggerKey(command));
  slowStatus.release();
  const statusTs = (await fake.waitForCall('chat.postMessage')).response.ts as string;
  const done = await fake.waitForCall('chat.update', updateOf(statusTs, /Done/), RENDER_WAIT_MS);
  assert.deepEqual(await jobsAndCharges(service), { jobs: 1, charges: 1 });

  const reroll = buttons(done.params).find((b) => b.action === 't2v_reroll')!;
  const click = await fake.deliverBlockAction({ actionId: reroll.action, value: reroll.value, userId: fake.user('bob'), message: { channel: fake.channelId, ts: statusTs } });
  const clickAgain = await fake.deliver(click.request.body, click.request.contentType);
  assert.equal(clickAgain.status, 200);
  await dropped(service, triggerKey(click));
  const rerollStatus = await fake.waitForCall('chat.postMessage', (p) => p.thread_ts === statusTs);
  await fake.waitForCall('chat.update', updateOf(rerollStatus.response.ts as string, /Done/), RENDER_WAIT_MS);
  assert.equal(fake.calls.filter((c) => c.method === 'chat.postMessage').length, 2, 'one status message for each');
  assert.equal(fake.uploads.length, 2, 'one video for each');
  assert.deepEqual(await jobsAndCharges(service), { jobs: 2, charges: 2 });
});

test('a delivery that cannot be claimed (the database refuses) is answered with the reason and makes nothing', async (t) => {
  const { fake, service } = await startBot(t);
  await service.running.db.prisma.$executeRawUnsafe('DROP TABLE "Delivery"');
  const delivery = await fake.deliverEvent({ type: 'app_mention', user: fake.user('alice'), text: `<@${fake.botUserId}> a cat ${TINY_FLAGS}`, channel: fake.channelId });
  const answer = await fake.waitForCall('chat.postMessage', (p) => p.thread_ts === delivery.event.ts);
  assert.equal(answer.params.text, `<@${fake.user('alice')}> Something went wrong on our side. The admins can see the details.`);
  const command = await fake.deliverSlashCommand({ text: `a dog ${TINY_FLAGS}` });
  assert.deepEqual((await fake.waitForResponse(command.responseId)).body, { response_type: 'ephemeral', text: 'Something went wrong on our side. The admins can see the details.' });
  assert.equal(fake.calls.filter((c) => c.method === 'chat.postMessage').length, 1, 'no status message');
  assert.deepEqual(await jobsAndCharges(service), { jobs: 0, charges: 0 });
});
