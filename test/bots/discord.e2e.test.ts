// The Discord adapter end to end: the real service (turned on by DISCORD_TOKEN alone) with the real discord.js client
// against the fake Discord on 127.0.0.1, and the demo model rendering every video for real at a tiny size.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { ChannelType, PermissionFlagsBits } from 'discord.js';
import { isRequest as is, startFakeDiscord, type DiscordRequest, type FakeDiscord, type FakeDiscordOptions, type FakeInteraction, type Wire } from '../fakes/discord.js';
import { closeAfterServices, dropped, ffprobe, jobsAndCharges, RENDER_WAIT_MS, startChatService, TINY, type ChatService } from './chat-service.js';

interface Bot {
  fake: FakeDiscord;
  service: ChatService;
}

async function startBot(t: TestContext, fakeOptions: FakeDiscordOptions = {}, env: Record<string, string> = {}): Promise<Bot> {
  const fake = closeAfterServices(t, await startFakeDiscord(fakeOptions));
  const service = await startChatService(t, {
    env: { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.restApi, DISCORD_GUILD_ID: fake.guildId, DISCORD_APPLICATION_ID: fake.applicationId, ...env },
  });
  return { fake, service };
}

function embedOf(request: DiscordRequest): Wire {
  return ((request.json as Wire).embeds as Wire[])[0]!;
}

function buttonIds(request: DiscordRequest): string[] {
  const rows = ((request.json as Wire).components ?? []) as Wire[];
  return rows.flatMap((row) => (row.components as Wire[]).map((b) => String(b.custom_id)));
}

/** Edits of a job's status message (bot token, by channel and message id), in order. */
function statusEdits(fake: FakeDiscord, channelId: string, messageId: string): DiscordRequest[] {
  return fake.requests.items.filter(is('PATCH', `/channels/${channelId}/messages/${messageId}`));
}

async function videoCommand(bot: Bot, options: Record<string, string | number>, user = bot.fake.user('alice')): Promise<{ sent: FakeInteraction; statusId: string }> {
  const sent = bot.fake.sendSlashCommand({ name: 'video', options: { prompt: 'a panda playing guitar on a boat', ...TINY, ...options }, user });
  const callback = await bot.fake.waitFor(is('POST', `/interactions/${sent.id}/${sent.token}/callback`));
  assert.equal(callback.auth, null, 'interaction callbacks carry no bot token');
  assert.equal((callback.json as Wire).type, 5, 'deferred within the deadline');
  return { sent, statusId: bot.fake.interactions.get(sent.id)!.originalMessageId! };
}

test('ready, commands registered from the core ranges, /video deferred, thread, progress edits, MP4 in the thread, done', async (t) => {
  const bot = await startBot(t);
  const { fake, service } = bot;

  const put = await fake.waitFor(is('PUT', `/applications/${fake.applicationId}/guilds/${fake.guildId}/commands`));
  assert.equal(put.auth, `Bot ${fake.token}`);
  const commands = put.json as Wire[];
  assert.deepEqual(commands.map((c) => c.name), ['video', 'quota', 'queue']);
  const options = Object.fromEntries(((commands[0]!.options ?? []) as Wire[]).map((o) => [o.name, o]));
  const ranges = await service.running.service.optionRanges();
  assert.equal(options.prompt!.required, true);
  assert.equal(options.prompt!.max_length, ranges.prompt.maxLength);
  assert.deepEqual([options.frames!.min_value, options.frames!.max_value], [ranges.frames.min, ranges.frames.max]);
  assert.deepEqual([options.steps!.min_value, options.steps!.max_value], [ranges.steps.min, ranges.steps.max]);
  assert.deepEqual([options.guidance!.min_value, options.guidance!.max_value], [ranges.guidance.min, ranges.guidance.max]);
  assert.ok(((options.size!.choices ?? []) as Wire[]).some((c) => c.value === '64x64'));
  assert.ok(service.logs.items.some((l) => l.includes('discord.com/oauth2/authorize') && l.includes(`client_id=${fake.applicationId}`)), 'invite URL printed at start');

  const alice = fake.user('alice');
  const { sent, statusId } = await videoCommand(bot, { seed: 7, negative: 'blurry' });

  const first = await fake.waitFor(is('PATCH', `/webhooks/${fake.applicationId}/${sent.token}/messages/@original`));
  assert.equal(first.auth, null);
  assert.match(String(embedOf(first).description), /(Next in line|Starting now|#\d+ in line)/);
  assert.equal(embedOf(first).title, 'a panda playing guitar on a boat');
  assert.deepEqual(buttonIds(first).map((id) => id.split(':')[1]), ['cancel']);

  const thread = await fake.waitFor(is('POST', `/channels/${fake.textChannelId}/messages/${statusId}/threads`));
  assert.equal(thread.auth, `Bot ${fake.token}`);
  assert.equal((thread.json as Wire).name, '🎬 a panda playing guitar on a boat');
  const threadId = statusId;

  const upload = await fake.waitFor((r) => is('POST', `/channels/${threadId}/messages`)(r) && r.files.length > 0, RENDER_WAIT_MS);
  assert.equal(upload.auth, `Bot ${fake.token}`);
  assert.ok(upload.fields !== null && 'payload_json' in upload.fields);
  assert.equal(upload.files[0]!.field, 'files[0]');
  assert.match(upload.files[0]!.filename, /^t2v-[0-9a-f-]+\.mp4$/);
  assert.deepEqual(ffprobe(upload.files[0]!.bytes), { codec_name: 'h264', width: 64, height: 64, nb_read_frames: '4' });
  const result = upload.json as Wire;
  assert.equal(result.content, `<@${alice.id}> your video is ready.`);
  assert.deepEqual(result.allowed_mentions, { users: [alice.id] }, 'only the requester is pinged');
  const fields = Object.fromEntries(((embedOf(upload).fields ?? []) as Wire[]).map((f) => [f.name, f.value]));
  assert.equal(fields.Seed, '7');
  assert.equal(fields.Size, '64x64');
  assert.equal(fields.Steps, '2');
  assert.equal(fields.Negative, 'blurry');
  assert.equal(fields.Duration, '0.5 s');
  assert.match(String(fields['Render time']), /^\d+\.\d s$/);
  assert.deepEqual(buttonIds(upload).map((id) => id.split(':')[1]), ['reroll', 'reproduce']);

  const done = await fake.waitFor((r) => is('PATCH', `/channels/${fake.textChannelId}/messages/${statusId}`)(r) && String(embedOf(r).description).startsWith('Done'));
  assert.equal(done.auth, `Bot ${fake.token}`, 'later edits use the bot token, valid beyond the interaction token');
  assert.deepEqual(buttonIds(done), [], 'no Cancel once done');
  const edits = statusEdits(fake, fake.textChannelId, statusId).map((r) => String(embedOf(r).description).split('\n')[0]);
  assert.ok(edits.some((d) => /^Rendering: .*step 1\/2/.test(d!)), `progress edits, got: ${edits.join(' | ')}`);
  assert.ok(edits.indexOf(edits.find((d) => d!.startsWith('Done'))!) === edits.length - 1, 'Done is the last state');
  assert.ok(done.seq > upload.seq, 'the status says done only after the video is in the thread');

  // Tokens never reach the logs, whatever the level (debug here).
  const logText = service.logs.items.join('\n');
  assert.ok(!logText.includes(fake.token), 'bot token not logged');
  assert.ok(!logText.includes(sent.token), 'interaction token not logged');
  assert.equal(fake.channels.get(threadId)?.type, ChannelType.PublicThread);
});

test('a render that outlives the interaction token (15 min on Discord) still updates its status and posts its video', async (t) => {
  const bot = await startBot(t);
  const { fake } = bot;
  const { sent, statusId } = await videoCommand(bot, { seed: 3 });
  const first = await fake.waitFor(is('PATCH', `/webhooks/${fake.applicationId}/${sent.token}/messages/@original`));
  fake.settings.interactionTokenLifetimeMs = 0;
  const threadId = statusId;
  const upload = await fake.waitFor((r) => is('POST', `/channels/${threadId}/messages`)(r) && r.files.length > 0, RENDER_WAIT_MS);
  assert.ok(upload.seq > first.seq, 'the video was posted after the token expired');
  const done = await fake.waitFor((r) => is('PATCH', `/channels/${fake.textChannelId}/messages/${statusId}`)(r) && String(embedOf(r).description).startsWith('Done'));
  assert.equal(done.status, 200);
  const refused = fake.requests.items.filter((r) => r.seq > first.seq && r.status >= 400);
  assert.deepEqual(refused.map((r) => `${r.method} ${r.path} ${r.status}`), [], 'nothing after the expiry needed the interaction token');
});

/** The ephemeral answer to a button click or command: deferred with flags 64, then the @original edit. */
async function ephemeralAnswer(fake: FakeDiscord, interaction: FakeInteraction): Promise<string> {
  const callback = await fake.waitFor(is('POST', `/interactions/${interaction.id}/${interaction.token}/callback`));
  assert.deepEqual(callback.json, { type: 5, data: { flags: 64 } }, 'deferred as ephemeral');
  const edit = await fake.waitFor(is('PATCH', `/webhooks/${fake.applicationId}/${interaction.token}/messages/@original`), RENDER_WAIT_MS);
  return String((edit.json as Wire).content);
}

function latestStatus(fake: FakeDiscord, channelId: string, messageId: string): string {
  const message = fake.messages.get(messageId)!;
  assert.equal(message.channel_id, channelId);
  return String(((message.embeds as Wire[])[0] ?? {}).description ?? '');
}

test('Cancel: refused for another user (who may is named), allowed for a Manage Server member and for the requester', async (t) => {
  const bot = await startBot(t);
  const { fake } = bot;
  const [alice, bob] = [fake.user('alice'), fake.user('bob')];
  const carol = fake.user('carol', { permissions: PermissionFlagsBits.ViewChannel | PermissionFlagsBits.ManageGuild });

  // Alice's long render keeps the engine busy; Bob's tiny one waits behind it.
  const long = await videoCommand(bot, { frames: 16, size: '128x128', steps: 50 }, alice);
  await fake.waitFor((r) => is('PATCH', `/channels/${fake.textChannelId}/messages/${long.statusId}`)(r) && String(embedOf(r).description).startsWith('Rendering'), RENDER_WAIT_MS);
  const waiting = await videoCommand(bot, {}, bob);
  const bobFirst = await fake.waitFor(is('PATCH', `/webhooks/${fake.applicationId}/${waiting.sent.token}/messages/@original`));
  assert.match(String(embedOf(bobFirst).description), /^Next in line/);
  const [bobCancel] = buttonIds(bobFirst);

  const refused = fake.sendButton({ customId: bobCancel!, message: waiting.statusId, user: alice });
  assert.equal(
    await ephemeralAnswer(fake, refused),
    "You are not allowed to cancel another user's video. Only the person who asked for it, a member with the Manage Server permission, or a t2v admin can cancel it.",
  );
  assert.match(latestStatus(fake, fake.textChannelId, waiting.statusId), /^Next in line/, 'still waiting');

  const byManager = fake.sendButton({ customId: bobCancel!, message: waiting.statusId, user: carol });
  assert.equal(await ephemeralAnswer(fake, byManager), 'Cancelled.');
  const cancelled = await fake.waitFor((r) => is('PATCH', `/channels/${fake.textChannelId}/messages/${waiting.statusId}`)(r) && String(embedOf(r).description).startsWith('Cancelled'));
  assert.match(String(embedOf(cancelled).description), new RegExp(`^Cancelled by <@${carol.id}>\\.`));
  assert.deepEqual(buttonIds(cancelled), []);

  const [aliceCancel] = buttonIds(await fake.waitFor(is('PATCH', `/webhooks/${fake.applicationId}/${long.sent.token}/messages/@original`)));
  const own = fake.sendButton({ customId: aliceCancel!, message: long.statusId, user: alice });
  assert.match(await ephemeralAnswer(fake, own), /^(Cancelled\.|Cancelling: the render stops at its next step\.)$/);
  const stopped = await fake.waitFor((r) => is('PATCH', `/channels/${fake.textChannelId}/messages/${long.statusId}`)(r) && String(embedOf(r).description).startsWith('Cancelled'), RENDER_WAIT_MS);
  assert.match(String(embedOf(stopped).description), new RegExp(`^Cancelled by <@${alice.id}>\\.`));
  assert.ok(!fake.requests.items.some((r) => r.path === `/channels/${long.statusId}/messages` && r.files.length > 0), 'no video for a cancelled job');
});

test('Re-roll and Same seed from the result: new jobs for whoever clicks, in the same thread, new seed vs same seed', async (t) => {
  const bot = await startBot(t);
  const { fake } = bot;
  const bob = fake.user('bob');
  const { statusId } = await videoCommand(bot, { seed: 1234 });
  const threadId = statusId;
  const result = await fake.waitFor((r) => is('POST', `/channels/${threadId}/messages`)(r) && r.files.length > 0, RENDER_WAIT_MS);
  const resultId = (result.response as Wire).id as string;
  const [reroll, reproduce] = buttonIds(result);

  const click = fake.sendButton({ customId: reroll!, message: resultId, user: bob });
  const callback = await fake.waitFor(is('POST', `/interactions/${click.id}/${click.token}/callback`));
  assert.equal((callback.json as Wire).type, 5, 'a public deferred reply in the thread');
  const rerollStatus = fake.interactions.get(click.id)!.originalMessageId!;
  assert.equal(fake.messages.get(rerollStatus)?.channel_id, threadId);
  const rerolled = await fake.waitFor((r) => r.seq > result.seq && is('POST', `/channels/${threadId}/messages`)(r) && r.files.length > 0, RENDER_WAIT_MS);
  assert.equal((rerolled.json as Wire).content, `<@${bob.id}> your video is ready.`, 'the clicker is the requester');
  assert.deepEqual((rerolled.json as Wire).message_reference, { message_id: rerollStatus, fail_if_not_exists: false }, 'answers the re-roll status message');
  const seedOf = (r: DiscordRequest) => ((embedOf(r).fields as Wire[]).find((f) => f.name === 'Seed')!).value;
  assert.notEqual(seedOf(rerolled), '1234', 'a new seed');
  assert.ok(!fake.requests.items.some(is('POST', new RegExp(`/messages/${rerollStatus}/threads$`))), 'no thread inside a thread');
  assert.equal(ffprobe(rerolled.files[0]!.bytes).nb_read_frames, '4');

  const again = fake.sendButton({ customId: reproduce!, message: resultId, user: bob });
  await fake.waitFor(is('POST', `/interactions/${again.id}/${again.token}/callback`));
  const reproduced = await fake.waitFor((r) => r.seq > rerolled.seq && is('POST', `/channels/${threadId}/messages`)(r) && r.files.length > 0, RENDER_WAIT_MS);
  assert.equal(seedOf(reproduced), '1234', 'the same seed');
  assert.ok(reproduced.files[0]!.bytes.equals(result.files[0]!.bytes), 'the same seed and options give the same video');
});

test('quota exceeded: the deferred reply is replaced by an ephemeral message in plain words; /quota and /queue', async (t) => {
  const bot = await startBot(t, {}, { QUOTA_VIDEOS_PER_DAY: '1' });
  const { fake } = bot;
  const first = await videoCommand(bot, {});
  await fake.waitFor((r) => is('POST', `/channels/${first.statusId}/messages`)(r) && r.files.length > 0, RENDER_WAIT_MS);

  const { sent } = await videoCommand(bot, {});
  const deleted = await fake.waitFor(is('DELETE', `/webhooks/${fake.applicationId}/${sent.token}/messages/@original`));
  assert.equal(deleted.auth, null);
  const followUp = await fake.waitFor(is('POST', `/webhooks/${fake.applicationId}/${sent.token}`));
  const body = followUp.json as Wire;
  assert.equal(body.flags, 64, 'ephemeral');
  assert.match(String(body.content), /^You have used 1 of your 1 video today\. It resets in \d+ h \d+ min \(00:00 UTC\)\.$/);
  assert.doesNotMatch(String(body.content), /Error|at \w+ \(/, 'no stack trace');
  assert.ok(!fake.requests.items.some(is('POST', new RegExp(`/messages/${fake.interactions.get(sent.id)!.originalMessageId}/threads$`))));

  const quota = fake.sendSlashCommand({ name: 'quota' });
  const quotaText = await ephemeralAnswer(fake, quota);
  assert.match(quotaText, /\*\*Videos today:\*\* 1 of 1 used, 0 left/);
  assert.match(quotaText, /Resets in \d+ h \d+ min \(00:00 UTC\)\./);

  const queue = fake.sendSlashCommand({ name: 'queue' });
  assert.match(await ephemeralAnswer(fake, queue), /^You have no videos in the queue\. The queue has 0 rendering and 0 waiting\./);
});

test('errors in plain words: a banned word at command time (ephemeral), an engine failure at job time (in the thread) with Try again', async (t) => {
  // An ffmpeg that does not exist makes the engine's MP4 export fail after denoising: a real job-time failure.
  const bot = await startBot(t, {}, { BANNED_WORDS: 'gore', FFMPEG_PATH: '/nonexistent/ffmpeg' });
  const { fake } = bot;
  const banned = await videoCommand(bot, { prompt: 'a gore scene' });
  const followUp = await fake.waitFor(is('POST', `/webhooks/${fake.applicationId}/${banned.sent.token}`));
  assert.deepEqual([(followUp.json as Wire).flags, (followUp.json as Wire).content], [64, 'That prompt contains a blocked word ("gore"). Please rephrase it.']);
  assert.ok(fake.requests.items.some(is('DELETE', `/webhooks/${fake.applicationId}/${banned.sent.token}/messages/@original`)));

  const alice = fake.user('alice');
  const { statusId } = await videoCommand(bot, {});
  const posted = await fake.waitFor(is('POST', `/channels/${statusId}/messages`), RENDER_WAIT_MS);
  const content = String((posted.json as Wire).content);
  assert.match(content, new RegExp(`^<@${alice.id}> Rendering failed: .*ffmpeg.*\\. Your quota for it was refunded\\. Please try again later\\. \\(job [0-9a-f-]+\\)$`));
  assert.doesNotMatch(content, /\n\s+at |Error:/, 'no stack trace');
  const failed = await fake.waitFor((r) => is('PATCH', `/channels/${fake.textChannelId}/messages/${statusId}`)(r) && String(embedOf(r).description).startsWith('Failed: Rendering failed'));
  const [tryAgain, ...others] = buttonIds(failed);
  assert.deepEqual([tryAgain?.split(':')[1], others], ['reroll', []], 'Try again (a Re-roll), nothing else');
  assert.equal((((failed.json as Wire).components as Wire[])[0]!.components as Wire[])[0]!.label, 'Try again with a new seed');

  // Whoever presses it asks anew, under their own name: Bob's retry fails the same way and the thread says so to him.
  const bob = fake.user('bob');
  const click = fake.sendButton({ customId: tryAgain!, message: statusId, user: bob });
  const deferred = await fake.waitFor(is('POST', `/interactions/${click.id}/${click.token}/callback`));
  assert.equal((deferred.json as Wire).type, 5);
  const retryStatus = fake.interactions.get(click.id)!.originalMessageId!;
  const retried = await fake.waitFor(is('POST', `/channels/${retryStatus}/messages`), RENDER_WAIT_MS);
  assert.match(String((retried.json as Wire).content), new RegExp(`^<@${bob.id}> Rendering failed: `));
  const jobs = await bot.service.running.service.listJobs();
  assert.equal(jobs[0]!.parentJobId, jobs[1]!.id, 'the retry is a Re-roll of the failed job');
  assert.notEqual(jobs[0]!.params.seed, jobs[1]!.params.seed);
});

test('threads refused: no thread without Create Public Threads, and a 50013 at creation falls back to the channel', async (t) => {
  const bot = await startBot(t, { allowThreads: false });
  const { fake } = bot;
  const { statusId } = await videoCommand(bot, {});
  const result = await fake.waitFor((r) => is('POST', `/channels/${fake.textChannelId}/messages`)(r) && r.files.length > 0, RENDER_WAIT_MS);
  assert.deepEqual((result.json as Wire).message_reference, { message_id: statusId, fail_if_not_exists: false });
  assert.ok(!fake.requests.items.some(is('POST', /\/threads$/)), 'no thread attempt without the permission');
  await fake.waitFor((r) => is('PATCH', `/channels/${fake.textChannelId}/messages/${statusId}`)(r) && String(embedOf(r).description).startsWith('Done. Rendered in') && String(embedOf(r).description).includes('the video is below'));

  // The permission says yes, but a channel override refuses: 403 {code: 50013}.
  fake.settings.allowThreads = true;
  const sent = fake.sendSlashCommand({ name: 'video', options: { prompt: 'a cat surfing', ...TINY } });
  fake.settings.allowThreads = false;
  const refused = await fake.waitFor(is('POST', /\/threads$/));
  assert.equal((refused.response as Wire).code, 50013);
  const second = fake.interactions.get(sent.id)!.originalMessageId!;
  const fallback = await fake.waitFor((r) => r.seq > refused.seq && is('POST', `/channels/${fake.textChannelId}/messages`)(r) && r.files.length > 0, RENDER_WAIT_MS);
  assert.deepEqual((fallback.json as Wire).message_reference, { message_id: second, fail_if_not_exists: false });
});

test('DMs: global commands, no thread, the video answers the status message in the DM', async (t) => {
  const fake = closeAfterServices(t, await startFakeDiscord());
  await startChatService(t, { env: { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.restApi } });
  const put = await fake.waitFor(is('PUT', `/applications/${fake.applicationId}/commands`));
  assert.deepEqual(((put.json as Wire[])[0]!.contexts as number[]).sort(), [0, 1], 'usable in servers and in DMs with the bot');
  const alice = fake.user('alice');
  const sent = fake.sendSlashCommand({ name: 'video', dm: true, user: alice, options: { prompt: 'a lighthouse at night', ...TINY } });
  const dm = fake.dmChannel(alice).id as string;
  await fake.waitFor(is('POST', `/interactions/${sent.id}/${sent.token}/callback`));
  const result = await fake.waitFor((r) => is('POST', `/channels/${dm}/messages`)(r) && r.files.length > 0, RENDER_WAIT_MS);
  assert.equal(ffprobe(result.files[0]!.bytes).codec_name, 'h264');
  assert.ok(!fake.requests.items.some(is('POST', /\/threads$/)));
});

test('global commands left from a start without DISCORD_GUILD_ID: a guild start warns and removes nothing', async (t) => {
  const fake = closeAfterServices(t, await startFakeDiscord());
  const env = { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.restApi };
  const globally = await startChatService(t, { env });
  await fake.waitFor(is('PUT', `/applications/${fake.applicationId}/commands`));
  assert.ok(!globally.logs.items.some((l) => l.includes('also has global commands')), 'no warning for global registration');
  await globally.stop();

  const inGuild = await startChatService(t, { env: { ...env, DISCORD_GUILD_ID: fake.guildId } });
  await fake.waitFor(is('PUT', `/applications/${fake.applicationId}/guilds/${fake.guildId}/commands`));
  const warning = await inGuild.logs.waitFor((l) => l.includes('also has global commands'));
  assert.match(warning, /"globalCommands":\["\/video","\/quota","\/queue"\]/);
  assert.deepEqual(fake.commands.global.map((c) => c.name), ['video', 'quota', 'queue'], 'left in place');
  assert.ok(!fake.requests.items.some((r) => r.method === 'DELETE' || (r.method === 'PUT' && r.path === `/applications/${fake.applicationId}/commands` && (r.json as Wire[]).length === 0)));
});

test('upload limit: re-encoded to fit; a signed link that opens without a token when it cannot fit; a 413 from Discord is explained', async (t) => {
  const bot = await startBot(t, { maxUploadBytes: 12_000 }, { PUBLIC_URL: 'https://t2v.example.com' });
  const { fake, service } = bot;
  const jobIdOf = async (sent: FakeInteraction) =>
    String((embedOf(await fake.waitFor(is('PATCH', `/webhooks/${fake.applicationId}/${sent.token}/messages/@original`))).footer as Wire).text).replace('Job ', '');

  // 8 frames of the demo model's noise make a ~18 kB MP4: over the limit, but it fits at a lower bitrate.
  const fits = await videoCommand(bot, { seed: 3, frames: 8 });
  const shrunk = await fake.waitFor((r) => is('POST', `/channels/${fits.statusId}/messages`)(r) && r.status === 200, RENDER_WAIT_MS);
  const original = (await service.running.service.getJob(await jobIdOf(fits.sent))).output!;
  assert.ok(original.bytes > 12_000, `the rendered file (${original.bytes} bytes) is over the limit`);
  assert.equal(shrunk.files.length, 1);
  assert.ok(shrunk.files[0]!.bytes.length <= 12_000, `re-encoded under the limit (${shrunk.files[0]!.bytes.length} bytes)`);
  assert.deepEqual(ffprobe(shrunk.files[0]!.bytes), { codec_name: 'h264', width: 64, height: 64, nb_read_frames: '8' });

  // Below what H.264 can reach for this clip: a link to the service's copy instead.
  fake.settings.maxUploadBytes = 500;
  const tiny = await videoCommand(bot, { seed: 4 });
  const linked = await fake.waitFor((r) => is('POST', `/channels/${tiny.statusId}/messages`)(r), RENDER_WAIT_MS);
  assert.equal(linked.files.length, 0);
  const jobId = await jobIdOf(tiny.sent);
  const content = String((linked.json as Wire).content);
  const link = new RegExp(`The video \\(0\\.0 MB\\) is too large to upload here\\. Download it here: (https://t2v\\.example\\.com/media/${jobId}/video\\?exp=\\d+&sig=[\\w-]+)$`).exec(content)?.[1];
  assert.ok(link !== undefined, content);
  // PUBLIC_URL stands for the reverse proxy in front of the service: open the same path and query on the service itself.
  const served = new URL(link);
  const opened = await fetch(`${service.running.url}${served.pathname}${served.search}`);
  assert.equal(opened.status, 200, 'no token needed');
  assert.equal(opened.headers.get('content-type'), 'video/mp4');
  assert.deepEqual(ffprobe(Buffer.from(await opened.arrayBuffer())), { codec_name: 'h264', width: 64, height: 64, nb_read_frames: '4' });
  const expiresAt = Number(served.searchParams.get('exp')) * 1000;
  const retentionEnd = (await service.running.service.getJob(jobId)).finishedAt!.getTime() + 7 * 86_400_000;
  assert.ok(Math.abs(expiresAt - retentionEnd) < 1_000, 'the link lasts as long as the file is kept (OUTPUT_RETENTION_DAYS=7)');

  // The interaction promised 6000 bytes, but Discord refuses the upload (413 {code: 40005}).
  fake.settings.maxUploadBytes = 12_000;
  const promised = await videoCommand(bot, { seed: 5 });
  fake.settings.maxUploadBytes = 1_000;
  const refused = await fake.waitFor((r) => is('POST', `/channels/${promised.statusId}/messages`)(r) && r.status === 413, RENDER_WAIT_MS);
  assert.equal((refused.response as Wire).code, 40005);
  const explained = await fake.waitFor((r) => r.seq > refused.seq && is('POST', `/channels/${promised.statusId}/messages`)(r), RENDER_WAIT_MS);
  assert.match(String((explained.json as Wire).content), /is too large to upload here\. Download it here: https:\/\/t2v\.example\.com\/media\/[\w-]+\/video\?exp=\d+&sig=[\w-]+$/);
  await fake.waitFor((r) => is('PATCH', `/channels/${fake.textChannelId}/messages/${promised.statusId}`)(r) && String(embedOf(r).description).startsWith('Done'));
});

test('restart: a job queued with a Discord reply context still gets its thread updated and its video by the new process', async (t) => {
  const fake = closeAfterServices(t, await startFakeDiscord());
  const env = { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.restApi, DISCORD_GUILD_ID: fake.guildId };
  // The first process has no engine: the job waits in the queue.
  const first = await startChatService(t, { env, engine: false });
  const sent = fake.sendSlashCommand({ name: 'video', options: { prompt: 'a red fox in the snow', ...TINY } });
  const statusId = await fake.waitFor(is('POST', `/interactions/${sent.id}/${sent.token}/callback`)).then(() => fake.interactions.get(sent.id)!.originalMessageId!);
  const queued = await fake.waitFor(is('PATCH', `/webhooks/${fake.applicationId}/${sent.token}/messages/@original`));
  assert.match(String(embedOf(queued).description), /^Next in line, waiting for the engine to be ready/);
  await fake.waitFor(is('POST', `/channels/${fake.textChannelId}/messages/${statusId}/threads`));
  await first.stop();
  await fake.waitForGateway((e) => e.kind === 'close' && e.connection === 1);
  const beforeRestart = fake.requests.items.length;
  const commandsBefore = JSON.stringify(fake.commands.guild.get(fake.guildId)?.map(({ version: _v, ...c }) => c));

  const second = await startChatService(t, { env, databaseUrl: first.databaseUrl });
  await fake.waitForGateway((e) => e.kind === 'identify' && e.connection === 2);
  const after = (r: DiscordRequest) => r.seq > beforeRestart;
  await fake.waitFor((r) => after(r) && r.method === 'PUT');
  assert.equal(JSON.stringify(fake.commands.guild.get(fake.guildId)?.map(({ version: _v, ...c }) => c)), commandsBefore, 'registering again changes nothing');
  const result = await fake.waitFor((r) => after(r) && is('POST', `/channels/${statusId}/messages`)(r) && r.files.length > 0, RENDER_WAIT_MS);
  assert.equal(result.auth, `Bot ${fake.token}`);
  assert.equal(ffprobe(result.files[0]!.bytes).nb_read_frames, '4');
  const done = await fake.waitFor((r) => after(r) && is('PATCH', `/channels/${fake.textChannelId}/messages/${statusId}`)(r) && String(embedOf(r).description).startsWith('Done'));
  assert.equal(done.auth, `Bot ${fake.token}`);
  const edits = fake.requests.items.filter((r) => after(r) && is('PATCH', `/channels/${fake.textChannelId}/messages/${statusId}`)(r));
  assert.ok(edits.some((r) => String(embedOf(r).description).startsWith('Rendering')), 'progress after the restart');
  assert.equal(edits.at(-1), done, 'Done is the last state');
  assert.ok(!fake.requests.items.some((r) => after(r) && r.path.startsWith('/webhooks/')), 'the new process needs no interaction token');
  await second.stop();
});

test('a wrong token: the error is logged without the token, Discord stays off and the rest of the service runs', async (t) => {
  const fake = closeAfterServices(t, await startFakeDiscord());
  const wrongToken = `${fake.token.slice(0, -6)}AAAAAA`;
  const service = await startChatService(t, { env: { DISCORD_TOKEN: wrongToken, DISCORD_API_URL: fake.restApi } });
  const gateway = await fake.waitFor(is('GET', '/gateway/bot'));
  assert.equal(gateway.status, 401);
  const line = service.logs.items.find((l) => l.includes('Discord is off'));
  assert.ok(line !== undefined, 'the failure is logged');
  assert.match(line, /Discord did not start \(An invalid token was provided\.\): copy a fresh token into DISCORD_TOKEN .*, then restart\./);
  assert.ok(!service.logs.items.join('\n').includes(wrongToken), 'the token is not');
  const health = await service.running.app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(health.statusCode, 200);
  assert.ok(!fake.requests.items.some((r) => r.method === 'PUT'), 'no commands registered');
});

test('an interaction answered too late (10062) is logged, nothing is queued and the bot keeps working', async (t) => {
  const bot = await startBot(t, { deadlineMs: 0 });
  const { fake, service } = bot;
  const sent = fake.sendSlashCommand({ name: 'video', options: { prompt: 'a cat', ...TINY } });
  const late = await fake.waitFor(is('POST', `/interactions/${sent.id}/${sent.token}/callback`));
  assert.equal((late.response as Wire).code, 10062);
  await service.logs.waitFor((line) => line.includes('expired before the bot answered'));
  assert.deepEqual(await service.running.service.listJobs(), [], 'no job without an answer to the user');

  fake.settings.deadlineMs = 3_000;
  const { statusId } = await videoCommand(bot, {});
  await fake.waitFor((r) => is('POST', `/channels/${statusId}/messages`)(r) && r.files.length > 0, RENDER_WAIT_MS);
});

// ---- interactions seen twice ----

/** The interaction callbacks the bot sent for `interaction` (Discord accepts the first one only). */
function callbacks(fake: FakeDiscord, interaction: FakeInteraction): DiscordRequest[] {
  return fake.requests.items.filter(is('POST', `/interactions/${interaction.id}/${interaction.token}/callback`));
}

test('/video and a Re-roll click each delivered twice, the second while the first is being handled: one reply, one job, one charge, one video each', async (t) => {
  const bot = await startBot(t);
  const { fake, service } = bot;
  const sent = fake.sendSlashCommand({ name: 'video', options: { prompt: 'a lighthouse in fog', ...TINY } });
  fake.redeliver(sent);
  await dropped(service, `discord:interaction:${sent.id}`);
  await fake.waitFor(is('POST', `/interactions/${sent.id}/${sent.token}/callback`));
  const statusId = fake.interactions.get(sent.id)!.originalMessageId!;
  const result = await fake.waitFor((r) => is('POST', `/channels/${statusId}/messages`)(r) && r.files.length > 0, RENDER_WAIT_MS);
  await fake.waitFor((r) => is('PATCH', `/channels/${fake.textChannelId}/messages/${statusId}`)(r) && String(embedOf(r).description).startsWith('Done'));
  assert.equal(callbacks(fake, sent).length, 1, 'one answer to the interaction');
  assert.deepEqual(await jobsAndCharges(service), { jobs: 1, charges: 1 });

  const [reroll] = buttonIds(result);
  const click = fake.sendButton({ customId: reroll!, message: (result.response as Wire).id as string, user: fake.user('bob') });
  fake.redeliver(click);
  await dropped(service, `discord:interaction:${click.id}`);
  const rerolled = await fake.waitFor((r) => r.seq > result.seq && is('POST', `/channels/${statusId}/messages`)(r) && r.files.length > 0, RENDER_WAIT_MS);
  assert.equal((rerolled.json as Wire).content, `<@${fake.user('bob').id}> your video is ready.`);
  assert.equal(callbacks(fake, click).length, 1, 'one answer to the click');
  const videos = fake.requests.items.filter((r) => is('POST', `/channels/${statusId}/messages`)(r) && r.files.length > 0);
  assert.equal(videos.length, 2, 'one video for each');
  assert.deepEqual(await jobsAndCharges(service), { jobs: 2, charges: 2 });
  assert.ok(!service.logs.items.some((l) => l.includes('Discord interaction failed')), 'nothing failed');
});

test('an interaction delivered again to the next process after a restart is dropped; that process finishes the one job', async (t) => {
  const fake = closeAfterServices(t, await startFakeDiscord());
  const env = { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.restApi, DISCORD_GUILD_ID: fake.guildId };
  const first = await startChatService(t, { env, engine: false });
  const sent = fake.sendSlashCommand({ name: 'video', options: { prompt: 'a heron at dawn', ...TINY } });
  const queued = await fake.waitFor(is('PATCH', `/webhooks/${fake.applicationId}/${sent.token}/messages/@original`));
  assert.match(String(embedOf(queued).description), /^Next in line/);
  const statusId = fake.interactions.get(sent.id)!.originalMessageId!;
  await fake.waitFor(is('POST', `/channels/${fake.textChannelId}/messages/${statusId}/threads`));
  await first.stop();
  await fake.waitForGateway((e) => e.kind === 'close' && e.connection === 1);

  const second = await startChatService(t, { env, databaseUrl: first.databaseUrl });
  await fake.waitForGateway((e) => e.kind === 'identify' && e.connection === 2);
  fake.redeliver(sent);
  await dropped(second, `discord:interaction:${sent.id}`);
  await fake.waitFor((r) => is('POST', `/channels/${statusId}/messages`)(r) && r.files.length > 0, RENDER_WAIT_MS);
  await fake.waitFor((r) => is('PATCH', `/channels/${fake.textChannelId}/messages/${statusId}`)(r) && String(embedOf(r).description).startsWith('Done'));
  assert.equal(callbacks(fake, sent).length, 1, 'one answer to the interaction');
  assert.deepEqual(await jobsAndCharges(second), { jobs: 1, charges: 1 });
});

test('an interaction that cannot be claimed (the database refuses) gets the reason, for the user alone, and makes nothing', async (t) => {
  const bot = await startBot(t);
  const { fake, service } = bot;
  await service.running.db.prisma.$executeRawUnsafe('DROP TABLE "Delivery"');
  const sent = fake.sendSlashCommand({ name: 'video', options: { prompt: 'a cat', ...TINY } });
  const answer = await fake.waitFor(is('POST', `/interactions/${sent.id}/${sent.token}/callback`));
  const { type, data } = answer.json as { type: number; data: Wire };
  assert.deepEqual([type, data.flags, data.content], [4, 64, 'Something went wrong on our side. The admins can see the details.'], 'an ephemeral reply');
  assert.deepEqual(await jobsAndCharges(service), { jobs: 0, charges: 0 });
});
