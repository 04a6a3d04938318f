// The Discord adapter: slash commands and buttons in, VideoService calls, job events out as messages. Thin by design
// (style.md §9): options are read by commands.ts, messages are built by render.ts, and every decision about
// validation, quotas, queueing and permissions is the core's. What lives here is Discord's side of the conversation:
// - answer every interaction within Discord's 3 s deadline (defer first, then work);
// - one status message per job (the interaction's reply), edited through the bot's REST token, so updates keep
//   working after the 15-minute interaction token has expired and after a restart (only ids are needed);
// - a public thread on that message for the result, named from the prompt; in DMs, inside threads, or where the bot
//   may not create threads (50013), the result is posted in the channel as a reply to the status message;
// - the upload limit of the guild (re-encode smaller, else a link or a plain explanation).
// The job's reply context stores channel, status message and (intended) thread ids plus the upload limit, which is
// all a restarted process needs to continue a job's conversation. Which job event shows what, and when, is decided
// once for both platforms in ../chat-replier.ts; this file says how on Discord.
// @see https://discord.com/developers/docs/interactions/receiving-and-responding
import { once } from 'node:events';
import {
  ChannelType,
  DiscordAPIError,
  Events,
  MessageFlags,
  PermissionFlagsBits,
  RESTJSONErrorCodes,
  ThreadAutoArchiveDuration,
  type ApplicationCommandManager,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Client,
  type Interaction,
  type Message,
  type RepliableInteraction,
  type SendableChannels,
} from 'discord.js';
import { asVideoBotError, ErrorCode, type VideoBotError } from '../../core/errors.js';
import type { Actor, Job, ReplyContext, Requester } from '../../core/jobs.js';
import { videoBotError } from '../../core/messages.js';
import type { SubmitResult, VideoService } from '../../service/video-service.js';
import type { FfmpegBinary } from '../../video/ffmpeg.js';
import type { Logger } from '../../log.js';
import { JobConversations, type VideoLink } from '../chat-replier.js';
import { mediaFileName } from '../job-text.js';
import { createRedactor } from '../library-log.js';
import { buildCommands, COMMAND_NAMES, readVideoOptions } from './commands.js';
import { discordInviteUrl } from './invite.js';
import {
  cancelAcceptedMessage,
  commandErrorMessage,
  doneMessage,
  parseCustomId,
  queuedMessage,
  queueMessage,
  quotaMessage,
  resultMessage,
  threadName,
  tooLargeMessage,
  type ButtonAction,
  type DiscordMessage,
} from './render.js';
import * as render from './render.js';
import { DEFAULT_UPLOAD_LIMIT, fitToUploadLimit } from './size-cap.js';

export interface DiscordAdapterOptions {
  /** From createDiscordClient (not logged in yet). */
  client: Client;
  service: VideoService;
  logger: Logger;
  /** DISCORD_GUILD_ID: register the commands in this guild only (they appear at once; for development). */
  guildId?: string;
  /** DISCORD_APPLICATION_ID, checked against the id Discord reports at login. */
  applicationId?: string;
  /** A signed public link to a job's video, for videos over the upload limit; absent when the service has no public address. */
  videoLink?: VideoLink;
  /** The ffmpeg used to re-encode videos over the upload limit. */
  ffmpeg: () => Promise<FfmpegBinary>;
  /** Minimum time between two progress edits of one job's message; default 2000 ms. */
  progressIntervalMs?: number;
  /** How long start() waits for the gateway's READY; default 30 s. */
  readyTimeoutMs?: number;
}

/** What the adapter keeps in the job's ReplyContext.extra. */
interface DiscordReplyExtra {
  guildId?: string;
  /** The interaction's attachment_size_limit: the most a message of this channel may carry. */
  uploadLimit?: number;
}

/** Where a job's result goes: its thread, or the channel (as a reply to the status message). */
interface Target {
  channel: SendableChannels;
  inThread: boolean;
}

export class DiscordAdapter {
  readonly #o: DiscordAdapterOptions;
  readonly #client: Client;
  readonly #log: Logger;
  readonly #conversations: JobConversations<DiscordMessage>;
  readonly #redact: (text: string) => string;
  /** Job id -> where its result goes, once known (set up, or looked up after a restart); dropped after its last message. */
  readonly #targets = new Map<string, Target>();

  /** Subscribes to job events at once, so none is missed while connecting; they are sent once connected. */
  constructor(options: DiscordAdapterOptions) {
    this.#o = options;
    this.#client = options.client;
    this.#log = options.logger;
    this.#redact = createRedactor([options.client.token ?? undefined]);
    this.#client.on(Events.InteractionCreate, (interaction) => void this.#onInteraction(interaction));
    this.#conversations = new JobConversations<DiscordMessage>(options, {
      platform: 'discord',
      messages: render,
      editStatus: (job, message) => this.#editStatus(job, message),
      post: async (job, message) => this.#send(await this.#target(job), job, message),
      deliver: (job) => this.#deliver(job),
      forget: (jobId) => this.#targets.delete(jobId),
      describeError: (error) => this.#safeError(error),
    });
  }

  /** Logs in, waits for READY, registers the commands and refreshes the messages of jobs waiting in the queue. */
  async start(): Promise<void> {
    await this.#conversations.start(() => this.#connect());
  }

  async stop(): Promise<void> {
    await this.#conversations.stop(() => this.#client.destroy());
  }

  async #connect(): Promise<void> {
    const client = this.#client;
    try {
      // Listen before login: READY can arrive before login() resolves (docs/chat-fakes.md, gotcha 2).
      const ready = once(client, Events.ClientReady, { signal: AbortSignal.timeout(this.#o.readyTimeoutMs ?? 30_000) });
      await Promise.all([client.login(), ready]);
      const application = client.application!;
      if (this.#o.applicationId !== undefined && this.#o.applicationId !== application.id) {
        this.#log.warn(
          { configured: this.#o.applicationId, actual: application.id },
          'DISCORD_APPLICATION_ID does not match the application of DISCORD_TOKEN; using the token\'s application',
        );
      }
      const commands = buildCommands(await this.#o.service.optionRanges());
      // A bulk overwrite (PUT) is idempotent: the same definitions leave the commands as they are.
      if (this.#o.guildId === undefined) await application.commands.set(commands);
      else {
        await application.commands.set(commands, this.#o.guildId);
        await this.#warnOfGlobalCommands(application.commands);
      }
      this.#log.info(
        { application: application.id, scope: this.#o.guildId === undefined ? 'global' : `guild ${this.#o.guildId}`, commands: commands.map((c) => `/${c.name}`) },
        'Discord connected; slash commands registered',
      );
      this.#log.info({ inviteUrl: discordInviteUrl(application.id) }, 'add the Discord bot to a server with this invite URL');
    } catch (error) {
      await client.destroy().catch(() => undefined);
      const reason = this.#redact(error instanceof Error ? error.message : String(error));
      const hint = /invalid token/i.test(reason)
        ? 'copy a fresh token into DISCORD_TOKEN (Developer Portal → your application → Bot → Reset Token)'
        : 'check DISCORD_TOKEN, DISCORD_API_URL, DISCORD_GATEWAY_URL and the network';
      // No `cause`: the library error says the same, and its stack is discord.js internals.
      throw new Error(`Discord did not start (${reason}): ${hint}, then restart.`);
    }
  }

  /**
   * Global commands left from a start without DISCORD_GUILD_ID show up beside the guild's own, so members see each
   * command twice. They are not removed here: the same application may serve them elsewhere on purpose (another
   * deployment, production beside a development guild), and this process cannot tell. docs/chat-setup.md has the fix.
   */
  async #warnOfGlobalCommands(commands: ApplicationCommandManager): Promise<void> {
    const ours = new Set<string>(Object.values(COMMAND_NAMES));
    const left = [...(await commands.fetch()).values()].filter((c) => ours.has(c.name)).map((c) => `/${c.name}`);
    if (left.length === 0) return;
    this.#log.warn(
      { globalCommands: left, guild: this.#o.guildId },
      'this application also has global commands (from a start without DISCORD_GUILD_ID): members see them twice; ' +
        'if no other deployment needs them, remove them as docs/chat-setup.md shows',
    );
  }

  // ---- interactions ----

  async #onInteraction(interaction: Interaction): Promise<void> {
    try {
      if (!interaction.isChatInputCommand() && !interaction.isButton()) return;
      // The same interaction can arrive twice (a gateway replay); only its first delivery is answered, even while
      // that one is still being handled. Discord accepts one response per interaction anyway.
      if (!(await this.#o.service.claimDelivery(deliveryKey(interaction)))) {
        this.#log.info({ delivery: deliveryKey(interaction) }, 'dropped a Discord interaction that was handled already (delivered twice)');
        return;
      }
      if (interaction.isChatInputCommand()) {
        if (interaction.commandName === COMMAND_NAMES.video) await this.#onVideo(interaction);
        else if (interaction.commandName === COMMAND_NAMES.quota) await this.#onQuota(interaction);
        else if (interaction.commandName === COMMAND_NAMES.queue) await this.#onQueue(interaction);
      } else if (interaction.isButton()) {
        await this.#onButton(interaction);
      }
    } catch (error) {
      // Errors must not escape a listener (they would end the process); the user gets plain words where possible.
      if (isLateAck(error)) {
        this.#log.warn({ interaction: interaction.id }, 'a Discord interaction expired before the bot answered (3 s deadline); the process may be overloaded');
        return;
      }
      this.#log.error({ err: this.#safeError(error), interaction: interaction.id }, 'Discord interaction failed');
      if (interaction.isRepliable()) await this.#showError(interaction, asVideoBotError(error)).catch(() => undefined);
    }
  }

  async #onVideo(interaction: ChatInputCommandInteraction): Promise<void> {
    const options = readVideoOptions(interaction.options);
    await this.#submitFrom(interaction, (requester, reply) => this.#o.service.submit({ requester, options, reply, deliveryKey: deliveryKey(interaction) }));
  }

  async #onQuota(interaction: ChatInputCommandInteraction): Promise<void> {
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const status = await this.#o.service.quotaStatus({
      platform: 'discord',
      platformUserId: interaction.user.id,
      ...(interaction.guildId === null ? {} : { workspaceId: interaction.guildId }),
    });
    await interaction.editReply(quotaMessage(status));
  }

  async #onQueue(interaction: ChatInputCommandInteraction): Promise<void> {
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    await interaction.editReply(queueMessage(interaction.user.id, this.#o.service.listQueue()));
  }

  async #onButton(interaction: ButtonInteraction): Promise<void> {
    const parsed = parseCustomId(interaction.customId);
    if (parsed === null) return;
    const { action, jobId } = parsed;
    if (action === 'cancel') {
      await interaction.deferReply({ flags: MessageFlags.Ephemeral });
      try {
        const job = await this.#o.service.getJob(jobId);
        const after = await this.#o.service.cancel(jobId, this.#actorFor(interaction, job));
        await interaction.editReply(cancelAcceptedMessage(after));
      } catch (error) {
        await interaction.editReply(commandErrorMessage(asVideoBotError(error), action));
      }
      return;
    }
    // Re-roll and Same seed: whoever clicks becomes the requester, under their own quota.
    const kind = action === 'reroll' ? 'reroll' : 'reproduce';
    await this.#submitFrom(interaction, (requester, reply) => this.#o.service[kind](jobId, { requester, reply, deliveryKey: deliveryKey(interaction) }), action);
  }

  /**
   * The common path of /video, Re-roll and Same seed: defer (public) within the deadline, submit with a reply context
   * naming the deferred message, then turn that message into the job's status message and open a thread on it.
   * Rejections replace the public reply with an ephemeral message for the user alone.
   */
  async #submitFrom(
    interaction: ChatInputCommandInteraction | ButtonInteraction,
    submit: (requester: Requester, reply: ReplyContext) => Promise<SubmitResult>,
    action?: ButtonAction,
  ): Promise<void> {
    const deferred = await interaction.deferReply({ withResponse: true });
    const statusMessage = deferred.resource?.message;
    if (statusMessage == null) throw new Error('Discord did not return the deferred reply message');
    const threadPossible = this.#mayOpenThread(interaction);
    const extra: DiscordReplyExtra = { uploadLimit: interaction.attachmentSizeLimit, ...(interaction.guildId === null ? {} : { guildId: interaction.guildId }) };
    const reply: ReplyContext = {
      platform: 'discord',
      channelId: interaction.channelId,
      messageId: statusMessage.id,
      // A thread started from a message takes the message's id; kept as the intended place of the result.
      ...(threadPossible ? { threadId: statusMessage.id } : {}),
      extra: { ...extra },
    };
    const requester: Requester = {
      platform: 'discord',
      platformUserId: interaction.user.id,
      displayName: interaction.user.globalName ?? interaction.user.username,
      ...(interaction.guildId === null ? {} : { workspaceId: interaction.guildId }),
    };

    await this.#conversations.settingUp(statusMessage.id, async () => {
      let result: SubmitResult;
      try {
        result = await submit(requester, reply);
      } catch (error) {
        await this.#showError(interaction, asVideoBotError(error), action);
        return;
      }
      const { job, position, etaSeconds } = result;
      const message = await interaction.editReply(queuedMessage(job, position, etaSeconds));
      this.#targets.set(job.id, await this.#openThread(message, job, threadPossible, interaction));
    });
  }

  /** Threads need a guild text channel (not a DM, not a thread) and the Create Public Threads permission. */
  #mayOpenThread(interaction: RepliableInteraction): boolean {
    const type = interaction.channel?.type;
    const threadable = type === ChannelType.GuildText || type === ChannelType.GuildAnnouncement;
    return interaction.inGuild() && threadable && interaction.appPermissions.has(PermissionFlagsBits.CreatePublicThreads);
  }

  async #openThread(message: Message, job: Job, threadPossible: boolean, interaction: RepliableInteraction): Promise<Target> {
    const inChannel = async (): Promise<Target> => ({ channel: await this.#sendable(interaction.channelId!), inThread: false });
    if (!threadPossible) return inChannel();
    try {
      /** @see https://discord.com/developers/docs/resources/channel#start-thread-from-message */
      const thread = await message.startThread({ name: threadName(job.params.prompt), autoArchiveDuration: ThreadAutoArchiveDuration.OneDay });
      return { channel: thread, inThread: true };
    } catch (error) {
      if (!(error instanceof DiscordAPIError) || error.status >= 500) throw error;
      // 50013 Missing Permissions (a channel override), 160004 thread already exists, and the like: answer in the channel.
      this.#log.info({ jobId: job.id, code: error.code }, 'could not open a thread for a video; replying in the channel instead');
      return inChannel();
    }
  }

  /** Command-time problems: ephemeral, for the user who caused them, replacing the public deferred reply. */
  async #showError(interaction: RepliableInteraction, error: VideoBotError, action?: ButtonAction): Promise<void> {
    const message = commandErrorMessage(error, action);
    if (!interaction.deferred && !interaction.replied) {
      await interaction.reply({ ...message, flags: MessageFlags.Ephemeral });
    } else if (interaction.ephemeral === true) {
      await interaction.editReply(message);
    } else {
      await interaction.deleteReply();
      await interaction.followUp({ ...message, flags: MessageFlags.Ephemeral });
    }
  }

  /**
   * Cancel rights: the requester, or a member allowed to manage this server (Manage Server; Administrator implies it)
   * for jobs asked for in this server, whom the core then sees as an admin (and audits); anyone else is passed on as
   * a user, and the core allows it only for its own admin role.
   */
  #actorFor(interaction: ButtonInteraction, job: Job): Actor {
    const user: Actor = { kind: 'user', platform: 'discord', platformUserId: interaction.user.id };
    const own = job.user.platform === 'discord' && job.user.platformUserId === interaction.user.id;
    const manager =
      interaction.inGuild() && job.workspaceId === interaction.guildId && interaction.memberPermissions.has(PermissionFlagsBits.ManageGuild);
    return !own && manager ? { kind: 'admin', name: `discord:${interaction.user.id} (Manage Server in ${interaction.guildId})` } : user;
  }

  // ---- job messages (JobConversations decides when; these say how, on Discord) ----

  /** The video (or still image) into the thread, within the upload limit; then the status message says where it is. */
  async #deliver(job: Job): Promise<void> {
    const target = await this.#target(job);
    const limit = (job.reply.extra as DiscordReplyExtra | undefined)?.uploadLimit ?? DEFAULT_UPLOAD_LIMIT;
    const fit = await fitToUploadLimit(job, limit, this.#o.ffmpeg);
    if ('tooLarge' in fit) {
      await this.#send(target, job, tooLargeMessage(job, fit.tooLarge, await this.#o.videoLink?.(job.id)));
    } else {
      try {
        await this.#send(target, job, { ...resultMessage(job), files: [{ attachment: fit.media.path, name: mediaFileName(job) }] } as DiscordMessage);
        if (fit.media.reencoded) this.#log.info({ jobId: job.id, bytes: job.output?.bytes, uploaded: fit.media.bytes, limit }, 'video re-encoded to fit the Discord upload limit');
      } catch (error) {
        if (!isUploadTooLarge(error)) throw error;
        // The limit the interaction reported was not the one Discord applied (the guild lost boosts meanwhile).
        const tooLarge = videoBotError(ErrorCode.UploadTooLarge, { bytes: fit.media.bytes, limit });
        await this.#send(target, job, tooLargeMessage(job, tooLarge, await this.#o.videoLink?.(job.id)));
      } finally {
        await fit.media.cleanup();
      }
    }
    await this.#editStatus(job, doneMessage(job, target.inThread ? 'thread' : 'below'));
  }

  async #send(target: Target, job: Job, message: DiscordMessage & { files?: unknown[] }): Promise<void> {
    /** @see https://discord.com/developers/docs/resources/message#create-message */
    await target.channel.send({
      ...message,
      ...(target.inThread ? {} : { reply: { messageReference: job.reply.messageId!, failIfNotExists: false } }),
    } as Parameters<SendableChannels['send']>[0]);
  }

  /** Edits the job's status message by id with the bot token: valid beyond the interaction token's 15 minutes. */
  async #editStatus(job: Job, message: DiscordMessage): Promise<void> {
    const channel = await this.#sendable(job.reply.channelId);
    /** @see https://discord.com/developers/docs/resources/message#edit-message */
    await channel.messages.edit(job.reply.messageId!, message as Parameters<SendableChannels['messages']['edit']>[1]);
  }

  /** The job's thread if it exists (found by id after a restart), else its channel. */
  async #target(job: Job): Promise<Target> {
    const known = this.#targets.get(job.id);
    if (known !== undefined) return known;
    let target: Target | undefined;
    if (job.reply.threadId !== undefined) {
      try {
        target = { channel: await this.#sendable(job.reply.threadId), inThread: true };
      } catch (error) {
        if (!(error instanceof DiscordAPIError) || error.status >= 500) throw error;
      }
    }
    target ??= { channel: await this.#sendable(job.reply.channelId), inThread: false };
    this.#targets.set(job.id, target);
    return target;
  }

  async #sendable(channelId: string): Promise<SendableChannels> {
    const channel = await this.#client.channels.fetch(channelId);
    if (channel === null || !channel.isSendable()) throw new Error(`Discord channel ${channelId} cannot receive messages`);
    return channel;
  }

  /** Errors for the log: Discord errors carry request URLs with interaction tokens; keep only what helps. */
  #safeError(error: unknown): unknown {
    if (error instanceof DiscordAPIError) {
      return { name: 'DiscordAPIError', code: error.code, status: error.status, method: error.method, message: this.#redact(error.message), url: this.#redact(error.url) };
    }
    if (error instanceof Error) return { name: error.name, message: this.#redact(error.message), stack: error.stack === undefined ? undefined : this.#redact(error.stack) };
    return this.#redact(String(error));
  }
}

/** An interaction's id is unique and stays the same when Discord delivers it again. */
function deliveryKey(interaction: Interaction): string {
  return `discord:interaction:${interaction.id}`;
}

function isLateAck(error: unknown): boolean {
  return error instanceof DiscordAPIError && error.code === RESTJSONErrorCodes.UnknownInteraction;
}

function isUploadTooLarge(error: unknown): boolean {
  return error instanceof DiscordAPIError && (error.code === RESTJSONErrorCodes.RequestEntityTooLarge || error.status === 413);
}
