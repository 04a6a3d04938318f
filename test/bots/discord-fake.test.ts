// Proves the Discord harness with the real discord.js client built by our production factory, without our adapters:
// every REST call and gateway frame below is what discord.js itself sends to the fake on 127.0.0.1.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { test, type TestContext } from 'node:test';
import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  ChannelType,
  DiscordAPIError,
  Events,
  GatewayIntentBits,
  MessageFlags,
  PermissionFlagsBits,
  SlashCommandBuilder,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Client,
  type Interaction,
} from 'discord.js';
import { createDiscordClient, type DiscordClientOptions } from '../../src/bots/discord/client.js';
import {
  isRequest,
  startFakeDiscord,
  type FakeDiscord,
  type FakeDiscordOptions,
  type FakeInteraction,
  type SlashCommandInput,
} from '../fakes/discord.js';
import { captureLogs } from './captured-logs.js';

const WAIT_MS = 5_000;

const videoCommand = new SlashCommandBuilder()
  .setName('video')
  .setDescription('Generate a short video from a prompt')
  .addStringOption((o) => o.setName('prompt').setDescription('What to show').setRequired(true).setMaxLength(500))
  .addIntegerOption((o) => o.setName('frames').setDescription('Number of frames').setMinValue(1).setMaxValue(64))
  .toJSON();

interface Bot {
  fake: FakeDiscord;
  client: Client<true>;
  logs: string[];
}

async function startBot(
  t: TestContext,
  fakeOptions: FakeDiscordOptions = {},
  clientOptions: (fake: FakeDiscord) => Partial<DiscordClientOptions> = () => ({}),
): Promise<Bot> {
  const fake = await startFakeDiscord(fakeOptions);
  const { logger, lines } = captureLogs();
  const client = createDiscordClient({
    token: fake.token,
    restApi: fake.restApi,
    retries: 0,
    timeout: 5_000,
    logger,
    ...clientOptions(fake),
  });
  t.after(async () => {
    await client.destroy();
    await fake.close();
  });
  // Listen before login: clientReady can fire before login() resolves (chat-fakes.md gotcha 2).
  const ready = once(client, Events.ClientReady, { signal: AbortSignal.timeout(WAIT_MS) });
  await Promise.all([client.login(), ready]).catch((error: unknown) => {
    // A shard that never reached a gateway keeps reconnecting after client.destroy() (measured with discord.js
    // 14.28 / @discordjs/ws 1.2.3), which would keep this process alive forever: end it once the failure is reported.
    setTimeout(() => process.exit(1), 1_000).unref();
    throw error;
  });
  assert.ok(client.isReady());
  return { fake, client, logs: lines.items };
}

async function nextInteraction(client: Client): Promise<Interaction> {
  const [interaction] = (await once(client, Events.InteractionCreate, { signal: AbortSignal.timeout(WAIT_MS) })) as [
    Interaction,
  ];
  return interaction;
}

/** Sends a slash command through the fake and resolves with what discord.js hands the bot for it. */
async function receiveCommand(
  fake: FakeDiscord,
  client: Client,
  input: SlashCommandInput,
): Promise<{ sent: FakeInteraction; interaction: ChatInputCommandInteraction }> {
  const incoming = nextInteraction(client);
  const sent = fake.sendSlashCommand(input);
  const interaction = await incoming;
  assert.ok(interaction.isChatInputCommand(), `expected a slash command, got interaction type ${interaction.type}`);
  return { sent, interaction };
}

async function nextButton(client: Client): Promise<ButtonInteraction> {
  const interaction = await nextInteraction(client);
  assert.ok(interaction.isButton(), `expected a button, got interaction type ${interaction.type}`);
  return interaction;
}

const fakeMp4 = (bytes: number): Buffer => Buffer.concat([Buffer.from('\0\0\0\x18ftypmp42'), randomBytes(bytes - 12)]);

test('ready, command registration, deferred slash command, @original with a file, thread, post in thread', async (t) => {
  const { fake, client, logs } = await startBot(t);

  const connect = await fake.waitForGateway((e) => e.kind === 'connect');
  assert.deepEqual(connect.query, { v: '10', encoding: 'json' });
  const identify = await fake.waitForGateway((e) => e.kind === 'identify');
  assert.equal(identify.payload?.intents, GatewayIntentBits.Guilds);
  assert.equal(identify.payload?.compress, false);
  assert.equal(client.user.id, fake.applicationId);
  assert.equal(client.channels.cache.get(fake.textChannelId)?.type, ChannelType.GuildText);

  await client.application.commands.set([videoCommand]);
  const put = await fake.waitFor(isRequest('PUT', `/applications/${fake.applicationId}/commands`));
  assert.equal(put.auth, `Bot ${fake.token}`);
  assert.equal((put.json as { name: string }[])[0]?.name, 'video');

  const { sent, interaction } = await receiveCommand(fake, client, {
    name: 'video',
    options: { prompt: 'a cat surfing', frames: 16 },
  });
  assert.equal(interaction.id, sent.id);
  assert.equal(interaction.options.getString('prompt', true), 'a cat surfing');
  assert.equal(interaction.options.getInteger('frames'), 16);
  assert.equal(interaction.user.id, fake.user('alice').id);
  assert.equal(interaction.guildId, fake.guildId);
  assert.ok(interaction.appPermissions.has(PermissionFlagsBits.CreatePublicThreads));

  await interaction.deferReply();
  const callback = await fake.waitFor(isRequest('POST', `/interactions/${sent.id}/${sent.token}/callback`));
  assert.equal(callback.auth, null, 'interaction callbacks are sent without the bot token');
  assert.deepEqual(callback.json, { type: 5, data: { flags: 0 } });
  assert.equal(callback.status, 204);

  const mp4 = fakeMp4(4096);
  const reply = await interaction.editReply({ content: 'done', files: [{ attachment: mp4, name: 'video.mp4' }] });
  const edit = await fake.waitFor(
    isRequest('PATCH', `/webhooks/${fake.applicationId}/${sent.token}/messages/@original`),
  );
  assert.equal(edit.auth, null, 'webhook edits are sent without the bot token');
  assert.ok(edit.fields !== null && 'payload_json' in edit.fields);
  assert.equal((edit.json as { content: string }).content, 'done');
  assert.equal(edit.files.length, 1);
  assert.equal(edit.files[0]?.field, 'files[0]');
  assert.equal(edit.files[0]?.filename, 'video.mp4');
  assert.ok(edit.files[0]?.bytes.equals(mp4), 'uploaded bytes arrive intact');
  assert.equal(reply.id, fake.interactions.get(sent.id)?.originalMessageId);
  assert.equal(reply.attachments.first()?.size, mp4.length);
  assert.equal(reply.flags.has(MessageFlags.Loading), false);

  const thread = await reply.startThread({ name: 'video: a cat surfing' });
  const create = await fake.waitFor(isRequest('POST', `/channels/${fake.textChannelId}/messages/${reply.id}/threads`));
  assert.equal(create.auth, `Bot ${fake.token}`);
  assert.equal((create.json as { name: string }).name, 'video: a cat surfing');
  assert.equal(thread.id, reply.id, 'Discord gives a thread started from a message that message id');
  assert.equal(thread.parentId, fake.textChannelId);

  const second = fakeMp4(2048);
  const posted = await thread.send({ content: 'seed 7', files: [{ attachment: second, name: 'again.mp4' }] });
  const post = await fake.waitFor(isRequest('POST', `/channels/${thread.id}/messages`));
  assert.equal(post.auth, `Bot ${fake.token}`);
  assert.equal(post.files[0]?.field, 'files[0]');
  assert.ok(post.files[0]?.bytes.equals(second));
  assert.equal((post.json as { content: string }).content, 'seed 7');
  assert.ok(fake.attachment(posted.attachments.first()!.id)?.bytes.equals(second));

  await posted.edit('seed 7 (2.1 s)');
  const patch = await fake.waitFor(isRequest('PATCH', `/channels/${thread.id}/messages/${posted.id}`));
  assert.equal(patch.auth, `Bot ${fake.token}`);
  assert.equal(fake.messages.get(posted.id)?.content, 'seed 7 (2.1 s)');
  assert.equal((fake.messages.get(posted.id)?.attachments as unknown[]).length, 1, 'an edit keeps the attachment');

  assert.deepEqual(
    fake.requests.items.filter((r) => r.status >= 400),
    [],
    'no request failed',
  );
  const everything = logs.join('\n');
  const provided = logs
    .map((l) => JSON.parse(l) as { msg: string; lib: string; level: number })
    .find((l) => l.msg.startsWith('Provided token'));
  assert.deepEqual(
    provided && { msg: provided.msg, lib: provided.lib, level: provided.level },
    {
      msg: 'Provided token: [redacted]',
      lib: 'discord.js',
      level: 20,
    },
    'discord.js debug output reaches the logger, redacted',
  );
  assert.ok(!everything.includes(fake.token), 'the bot token never reaches the log');
  assert.ok(!everything.includes(fake.token.split('.')[0]!), 'not even the first part discord.js leaves uncensored');
  assert.ok(!everything.includes(sent.token), 'interaction tokens never reach the log');
});

test('buttons: an ephemeral refusal for another user, update() for the requester', async (t) => {
  const { fake, client } = await startBot(t);
  await client.application.commands.set([videoCommand], fake.guildId);
  const guildPut = await fake.waitFor(
    isRequest('PUT', `/applications/${fake.applicationId}/guilds/${fake.guildId}/commands`),
  );
  assert.equal(guildPut.auth, `Bot ${fake.token}`);

  const requester = fake.user('alice');
  const { interaction: command } = await receiveCommand(fake, client, {
    name: 'video',
    options: { prompt: 'a panda' },
    user: requester,
  });
  const cancel = new ButtonBuilder().setCustomId('cancel:job1').setLabel('Cancel').setStyle(ButtonStyle.Danger);
  await command.reply({
    content: 'queued #1',
    components: [new ActionRowBuilder<ButtonBuilder>().addComponents(cancel)],
  });
  const reply = await command.fetchReply();
  assert.throws(() => fake.sendButton({ customId: 'reroll:job1', message: reply.id }), /has no button reroll:job1/);

  const bob = fake.user('bob');
  const byBob = nextButton(client);
  fake.sendButton({ customId: 'cancel:job1', message: reply.id, user: bob });
  const click = await byBob;
  assert.equal(click.customId, 'cancel:job1');
  assert.equal(click.user.id, bob.id);
  assert.equal(click.message.id, reply.id);
  assert.equal(click.message.interactionMetadata?.user.id, requester.id, 'the requester is known from the message');
  await click.reply({ content: 'Only the requester can cancel.', flags: MessageFlags.Ephemeral });
  const refusal = await fake.waitFor(isRequest('POST', `/interactions/${click.id}/${click.token}/callback`));
  assert.equal((refusal.json as { type: number }).type, 4);
  assert.equal((refusal.json as { data: { flags: number } }).data.flags, MessageFlags.Ephemeral);
  assert.equal(refusal.auth, null);

  const byRequester = nextButton(client);
  fake.sendButton({ customId: 'cancel:job1', message: reply.id, user: requester });
  const own = await byRequester;
  await own.update({ content: 'cancelled', components: [] });
  await fake.waitFor(
    (r) => r.path === `/interactions/${own.id}/${own.token}/callback` && (r.json as { type: number }).type === 7,
  );
  assert.equal(fake.messages.get(reply.id)?.content, 'cancelled');
  assert.deepEqual(fake.messages.get(reply.id)?.components, []);
  assert.throws(() => fake.sendButton({ customId: 'cancel:job1', message: reply.id }), /has no button/);
});

test('an upload above the limit fails with DiscordAPIError 40005 (HTTP 413)', async (t) => {
  const { fake, client } = await startBot(t, { maxUploadBytes: 1000 });
  await client.application.commands.set([videoCommand]);
  const { interaction } = await receiveCommand(fake, client, { name: 'video', options: { prompt: 'too big' } });
  assert.equal(interaction.attachmentSizeLimit, 1000, 'the upload limit is known before uploading');
  await interaction.deferReply();
  const error = await interaction.editReply({ files: [{ attachment: fakeMp4(2000), name: 'video.mp4' }] }).then(
    () => assert.fail('the upload should have been refused'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof DiscordAPIError, `expected DiscordAPIError, got ${String(error)}`);
  assert.equal(error.code, 40005);
  assert.equal(error.status, 413);
  assert.equal(error.method, 'PATCH');
  assert.match(error.url, /\/messages\/%40original$/);
  // A small enough file still goes through on the same interaction.
  await interaction.editReply({ files: [{ attachment: fakeMp4(900), name: 'video.mp4' }] });
});

test('threads refused with 50013 Missing Permissions; app_permissions says so; follow-ups still work', async (t) => {
  const { fake, client } = await startBot(t, { allowThreads: false });
  await client.application.commands.set([videoCommand]);
  const { sent, interaction } = await receiveCommand(fake, client, {
    name: 'video',
    options: { prompt: 'no threads here' },
  });
  assert.equal(interaction.appPermissions.has(PermissionFlagsBits.CreatePublicThreads), false);
  await interaction.deferReply();
  const reply = await interaction.editReply('queued');
  await assert.rejects(reply.startThread({ name: 'video: no threads here' }), (e: unknown) => {
    assert.ok(e instanceof DiscordAPIError);
    assert.equal(e.code, 50013);
    assert.equal(e.status, 403);
    return true;
  });
  const followUp = await interaction.followUp('posting here instead');
  const post = await fake.waitFor(isRequest('POST', `/webhooks/${fake.applicationId}/${sent.token}`));
  assert.equal(post.auth, null);
  assert.equal(post.status, 200);
  await interaction.webhook.editMessage(followUp, 'progress 50%');
  const edit = await fake.waitFor(
    isRequest('PATCH', `/webhooks/${fake.applicationId}/${sent.token}/messages/${followUp.id}`),
  );
  assert.equal(edit.auth, null);
  assert.equal(fake.messages.get(followUp.id)?.content, 'progress 50%');
});

test('a callback after the deadline gets 10062 Unknown interaction', async (t) => {
  const { fake, client } = await startBot(t, { deadlineMs: 0 });
  await client.application.commands.set([videoCommand]);
  const { interaction } = await receiveCommand(fake, client, { name: 'video', options: { prompt: 'late' } });
  await assert.rejects(interaction.deferReply(), (e: unknown) => {
    assert.ok(e instanceof DiscordAPIError);
    assert.equal(e.code, 10062);
    assert.equal(e.status, 404);
    return true;
  });
});

test('a slash command in a DM: no guild, DM channel resolved, reply works', async (t) => {
  const { fake, client } = await startBot(t);
  await client.application.commands.set([videoCommand]);
  const user = fake.user('carol');
  const { sent, interaction } = await receiveCommand(fake, client, {
    name: 'video',
    options: { prompt: 'in private' },
    user,
    dm: true,
  });
  assert.equal(interaction.inGuild(), false);
  assert.equal(interaction.guildId, null);
  assert.equal(interaction.channel?.type, ChannelType.DM);
  assert.equal(interaction.channelId, fake.dmChannel(user).id);
  assert.equal(interaction.user.id, user.id);
  const callback = await interaction.deferReply({ withResponse: true });
  assert.equal(callback.interaction.responseMessageLoading, true);
  const reply = await interaction.editReply('queued');
  assert.equal(reply.id, callback.interaction.responseMessageId);
  assert.equal(reply.channelId, fake.dmChannel(user).id);
  assert.equal(fake.interactions.get(sent.id)?.originalMessageId, reply.id);
});

test('DISCORD_GATEWAY_URL: the client connects to the override while Discord advertises a dead URL', async (t) => {
  const { fake, client } = await startBot(t, { advertisedGatewayUrl: 'ws://127.0.0.1:9/dead' }, (f) => ({
    gatewayUrl: f.gatewayUrl,
  }));
  const gatewayBot = await fake.waitFor(isRequest('GET', '/gateway/bot'));
  assert.equal((gatewayBot.response as { url: string }).url, 'ws://127.0.0.1:9/dead');
  assert.equal(gatewayBot.auth, `Bot ${fake.token}`);
  assert.ok(client.isReady());
});

test('heartbeats are acknowledged, so the client keeps its one connection', async (t) => {
  const { fake } = await startBot(t, { heartbeatIntervalMs: 25 });
  await fake.waitForGateway(
    (e) => e.kind === 'heartbeat' && fake.gateway.items.filter((x) => x.kind === 'heartbeat').length >= 3,
  );
  // Without an ACK between beats discord.js would call the connection a zombie and reconnect.
  assert.equal(fake.gateway.items.filter((e) => e.kind === 'connect').length, 1);
});

test('a dropped gateway connection resumes through resume_gateway_url and keeps delivering interactions', async (t) => {
  const { fake, client } = await startBot(t);
  await client.application.commands.set([videoCommand]);
  const identify = await fake.waitForGateway((e) => e.kind === 'identify');
  fake.dropGatewayConnection(4000);
  const resume = await fake.waitForGateway((e) => e.kind === 'resume');
  assert.equal(resume.connection, identify.connection + 1);
  const ready = fake.gateway.items.find((e) => e.kind === 'dispatch' && e.payload?.t === 'READY');
  assert.equal(resume.payload?.session_id, (ready?.payload?.d as { session_id: string }).session_id);
  await fake.waitForGateway((e) => e.kind === 'dispatch' && e.payload?.t === 'RESUMED');
  const { interaction } = await receiveCommand(fake, client, { name: 'video', options: { prompt: 'after resume' } });
  assert.equal(interaction.options.getString('prompt'), 'after resume');
});

test('the fake refuses slash commands Discord would never send', async (t) => {
  const { fake, client } = await startBot(t);
  assert.throws(() => fake.sendSlashCommand({ name: 'video', options: { prompt: 'x' } }), /not registered/);
  await client.application.commands.set([videoCommand]);
  assert.throws(() => fake.sendSlashCommand({ name: 'video', options: {} }), /requires option prompt/);
  assert.throws(() => fake.sendSlashCommand({ name: 'video', options: { prompt: 'x', frames: 1.5 } }), /type 4/);
  assert.throws(
    () => fake.sendSlashCommand({ name: 'video', options: { prompt: 'x', frames: 65 } }),
    /refuse frames=65/,
  );
  assert.throws(() => fake.sendSlashCommand({ name: 'video', options: { prompt: 'x', steps: 5 } }), /no option steps/);
});

test('a command definition Discord rejects fails registration with 50035', async (t) => {
  const { client } = await startBot(t);
  const badOrder = {
    name: 'video',
    description: 'x',
    options: [
      { type: 4, name: 'frames', description: 'frames' },
      { type: 3, name: 'prompt', description: 'prompt', required: true },
    ],
  };
  await assert.rejects(client.application.commands.set([badOrder]), (e: unknown) => {
    assert.ok(e instanceof DiscordAPIError);
    assert.equal(e.code, 50035);
    return true;
  });
});

test('createDiscordClient explains bad settings', () => {
  const { logger } = captureLogs();
  assert.throws(() => createDiscordClient({ token: '  ', logger }), /DISCORD_TOKEN\) is empty.*Developer Portal/);
  assert.throws(
    () => createDiscordClient({ token: 'abc', restApi: 'https://proxy.example/api/v10', logger }),
    /must not include the API version.*Use https:\/\/proxy\.example\/api instead/,
  );
  assert.throws(() => createDiscordClient({ token: 'abc', restApi: 'proxy:8080', logger }), /http or https/);
  assert.throws(
    () => createDiscordClient({ token: 'abc', gatewayUrl: 'https://gateway.example', logger }),
    /ws or wss/,
  );
  assert.throws(() => createDiscordClient({ token: 'abc', retries: -1, logger }), /retries must be a whole number/);
  const client = createDiscordClient({ token: 'Bot abc.def.ghi', logger });
  assert.equal(client.token, 'abc.def.ghi');
  assert.equal(client.options.rest?.api, 'https://discord.com/api');
});
