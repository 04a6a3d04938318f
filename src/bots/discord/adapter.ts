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
// all a restarted process needs to continue a job's conversation. An interaction is claimed with what its handling
// needs, the interaction token included (DiscordRequest), and everything after the deferral goes through that token's
// webhook, so a process that starts after a crash finishes what the last one had deferred, within the token's 15
// minutes (../delivery-resumption.ts). Which job event shows what, and when, is decided once for both platforms in
// ../chat-replier.ts; this file says how on Discord.
// @see https://discord.com/developers/docs/interactions/receiving-and-responding
import { once } from 'node:events';
import {
  ChannelType,
  DiscordAPIError,
  Events,
  InteractionWebhook,
  MessageFlags,
  PermissionFlagsBits,
  RESTJSONErrorCodes,
  Routes,
  ThreadAutoArchiveDuration,
  type ApplicationCommandManager,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Client,
  type Interaction,
  type RepliableInteraction,
  type SendableChannels,
} from 'discord.js';
import { asVideoBotError, ErrorCode, type VideoBotError } from '../../core/errors.js';
import type { Actor, Job, ReplyContext, Requester } from '../../core/jobs.js';
import { videoBotError } from '../../core/messages.js';
import type { ClaimedDelivery, SubmitResult, VideoService } from '../../service/video-service.js';
import type { VideoOptions } from '../../core/requests.js';
import type { FfmpegBinary } from '../../video/ffmpeg.js';
import type { Logger } from '../../log.js';
import { awaitsFirstState, JobConversations, type VideoLink } from '../chat-replier.js';
import { resumeDeliveries } from '../delivery-resumption.js';
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

/** What an interaction asks for. */
type Ask = { kind: 'video'; options: VideoOptions } | { kind: 'quota' } | { kind: 'queue' } | { kind: 'button'; action: ButtonAction; jobId: string };

/**
 * An interaction as stored with its claim: everything its handling needs after the deferral, so that a process that
 * never saw it can finish it while the token lasts. Whether a thread may be opened and the member's rights are read
 * from the interaction here, as Discord sent them.
 */
type DiscordRequest = {
  ask: Ask;
  applicationId: string;
  /** The interaction token: its webhook edits the deferred reply and sends follow-ups, for 15 minutes. */
  token: string;
  channelId: string;
  guildId?: string;
  user: { id: string; displayName: string };
  threadPossible: boolean;
  /** The interaction's attachment_size_limit: the most a message of this channel may carry. */
  uploadLimit: number;
  /** The member may manage this server (Manage Server; Administrator implies it): cancel rights over its jobs. */
  managesServer: boolean;
};

/**
 * How long after its claim (made as it arrives) an interaction is resumed: its token lasts 15 minutes from its
 * creation, and the resumed handling needs a moment of it.
 */
const RESUME_WITHIN_MS = 14 * 60_000;

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
      deliver: (job, posted) => this.#deliver(job, posted),
      forget: (jobId) => this.#targets.delete(jobId),
      describeError: (error) => this.#safeError(error),
    });
  }

  /**
   * Logs in, waits for READY, registers the commands and refreshes the messages of jobs waiting in the queue; then
   * finishes the interactions a stopped process had deferred and not handled.
   */
  async start(): Promise<void> {
    const startedAt = new Date();
    await this.#conversations.start(() => this.#connect());
    await resumeDeliveries({
      service: this.#o.service,
      logger: this.#log,
      platform: 'discord',
      claimedBefore: startedAt,
      maxAgeMs: RESUME_WITHIN_MS,
      tooOldReason: 'its interaction token has expired (15 minutes), so its reply can no longer be changed',
      resume: (delivery) => this.#resume(delivery),
      describeError: (error) => this.#safeError(error),
    });
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
      const ask = askOf(interaction);
      if (ask === null) return;
      const key = deliveryKey(interaction);
      const request = this.#requestOf(interaction, ask);
      // The same interaction can arrive twice (a gateway replay); only its first delivery is answered, even while
      // that one is still being handled. Discord accepts one response per interaction anyway.
      if (!(await this.#o.service.claimDelivery(key, request))) {
        this.#log.info({ delivery: key }, 'dropped a Discord interaction that was handled already (delivered twice)');
        return;
      }
      try {
        await this.#handle(key, request, interaction.webhook, await this.#defer(interaction, ask));
      } finally {
        await this.#o.service.deliveryHandled(key).catch((error: unknown) => this.#log.warn({ delivery: key, err: error }, 'could not record that a Discord interaction was handled'));
      }
    } catch (error) {
      // Errors must not escape a listener (they would end the process); the user gets plain words where possible.
      if (isLateAck(error)) {
        this.#log.warn({ interaction: interaction.id }, 'a Discord interaction expired before the bot answered (3 s deadline); the process may be overloaded');
        return;
      }
      this.#log.error({ err: this.#safeError(error), interaction: interaction.id }, 'Discord interaction failed');
      if (!interaction.isRepliable()) return;
      const shown = asVideoBotError(error);
      const answer =
        interaction.deferred || interaction.replied
          ? this.#showError(interaction.webhook, interaction.ephemeral === true, shown)
          : interaction.reply({ ...commandErrorMessage(shown), flags: MessageFlags.Ephemeral });
      await answer.catch(() => undefined);
    }
  }

  /**
   * Acknowledges the interaction within Discord's 3 s. Public answers get the deferred reply's id, which becomes the
   * job's status message; ephemeral ones need none.
   */
  async #defer(interaction: ChatInputCommandInteraction | ButtonInteraction, ask: Ask): Promise<string | undefined> {
    if (answersPrivately(ask)) {
      await interaction.deferReply({ flags: MessageFlags.Ephemeral });
      return undefined;
    }
    const deferred = await interaction.deferReply({ withResponse: true });
    const reply = deferred.resource?.message;
    if (reply == null) throw new Error('Discord did not return the deferred reply message');
    return reply.id;
  }

  /** Resumes an interaction a stopped process claimed: possible once it was deferred (Discord allows 3 s for that). */
  async #resume(delivery: ClaimedDelivery): Promise<void> {
    const request = delivery.request as DiscordRequest;
    // Resumed only once connected: the client is ready.
    const webhook = new InteractionWebhook(this.#client as Client<true>, request.applicationId, request.token);
    let replyId: string;
    try {
      replyId = (await webhook.fetchMessage('@original')).id;
    } catch (error) {
      if (!(error instanceof DiscordAPIError) || error.status >= 500) throw error;
      this.#log.warn({ delivery: delivery.key }, 'left a Discord interaction that a stopped process had not acknowledged: Discord no longer takes an answer to it');
      return;
    }
    await this.#handle(delivery.key, request, webhook, replyId);
  }

  /** What an interaction stores with its claim. */
  #requestOf(interaction: ChatInputCommandInteraction | ButtonInteraction, ask: Ask): DiscordRequest {
    return {
      ask,
      applicationId: interaction.applicationId,
      token: interaction.token,
      channelId: interaction.channelId,
      ...(interaction.guildId === null ? {} : { guildId: interaction.guildId }),
      user: { id: interaction.user.id, displayName: interaction.user.globalName ?? interaction.user.username },
      threadPossible: this.#mayOpenThread(interaction),
      uploadLimit: interaction.attachmentSizeLimit,
      managesServer: interaction.inGuild() && interaction.memberPermissions.has(PermissionFlagsBits.ManageGuild),
    };
  }

  /**
   * Handles a deferred interaction, the first time or resumed by the next process after a crash, through its token's
   * webhook; `replyId` is the deferred reply, which becomes a job's status message (known for public answers).
   */
  async #handle(key: string, request: DiscordRequest, webhook: InteractionWebhook, replyId: string | undefined): Promise<void> {
    const service = this.#o.service;
    const { ask } = request;
    switch (ask.kind) {
      case 'video':
        await this.#submitFrom(request, webhook, replyId, (requester, reply) => service.submit({ requester, options: ask.options, reply, deliveryKey: key }));
        return;
      case 'quota': {
        const status = await service.quotaStatus({ platform: 'discord', platformUserId: request.user.id, ...(request.guildId === undefined ? {} : { workspaceId: request.guildId }) });
        await webhook.editMessage('@original', quotaMessage(status));
        return;
      }
      case 'queue':
        await webhook.editMessage('@original', queueMessage(request.user.id, service.listQueue()));
        return;
      case 'button': {
        const { action, jobId } = ask;
        if (action === 'cancel') {
          try {
            const job = await service.getJob(jobId);
            const after = await service.cancel(jobId, this.#actorFor(request, job));
            await webhook.editMessage('@original', cancelAcceptedMessage(after));
          } catch (error) {
            await webhook.editMessage('@original', commandErrorMessage(asVideoBotError(error), action));
          }
          return;
        }
        // Re-roll and Same seed: whoever clicks becomes the requester, under their own quota.
        const derive = action === 'reroll' ? 'reroll' : 'reproduce';
        await this.#submitFrom(request, webhook, replyId, (requester, reply) => service[derive](jobId, { requester, reply, deliveryKey: key }), action);
      }
    }
  }

  /**
   * The common path of /video, Re-roll and Same seed after the (public) deferral: submit with a reply context naming
   * the deferred reply, then turn that message into the job's status message and open a thread on it. Rejections
   * replace the public reply with an ephemeral message for the user alone.
   */
  async #submitFrom(
    request: DiscordRequest,
    webhook: InteractionWebhook,
    replyId: string | undefined,
    submit: (requester: Requester, reply: ReplyContext) => Promise<SubmitResult>,
    action?: ButtonAction,
  ): Promise<void> {
    if (replyId === undefined) throw new Error('a public answer without its deferred reply');
    const extra: DiscordReplyExtra = { uploadLimit: request.uploadLimit, ...(request.guildId === undefined ? {} : { guildId: request.guildId }) };
    const reply: ReplyContext = {
      platform: 'discord',
      channelId: request.channelId,
      messageId: replyId,
      // A thread started from a message takes the message's id; kept as the intended place of the result.
      ...(request.threadPossible ? { threadId: replyId } : {}),
      extra: { ...extra },
    };
    const requester: Requester = {
      platform: 'discord',
      platformUserId: request.user.id,
      displayName: request.user.displayName,
      ...(request.guildId === undefined ? {} : { workspaceId: request.guildId }),
    };

    await this.#conversations.settingUp(replyId, async () => {
      let result: SubmitResult;
      try {
        result = await submit(requester, reply);
      } catch (error) {
        await this.#showError(webhook, false, asVideoBotError(error), action);
        return;
      }
      const { job, position, etaSeconds } = result;
      if (!awaitsFirstState(job)) return;
      await webhook.editMessage('@original', queuedMessage(job, position, etaSeconds));
      this.#targets.set(job.id, await this.#openThread(request, replyId, job));
    });
  }

  /** Threads need a guild text channel (not a DM, not a thread) and the Create Public Threads permission. */
  #mayOpenThread(interaction: RepliableInteraction): boolean {
    const type = interaction.channel?.type;
    const threadable = type === ChannelType.GuildText || type === ChannelType.GuildAnnouncement;
    return interaction.inGuild() && threadable && interaction.appPermissions.has(PermissionFlagsBits.CreatePublicThreads);
  }

  async #openThread(request: DiscordRequest, messageId: string, job: Job): Promise<Target> {
    const inChannel = async (): Promise<Target> => ({ channel: await this.#sendable(request.channelId), inThread: false });
    if (!request.threadPossible) return inChannel();
    try {
      const channel = await this.#client.channels.fetch(request.channelId);
      if (channel?.type !== ChannelType.GuildText && channel?.type !== ChannelType.GuildAnnouncement) return inChannel();
      /** @see https://discord.com/developers/docs/resources/channel#start-thread-from-message */
      const thread = await channel.threads.create({ startMessage: messageId, name: threadName(job.params.prompt), autoArchiveDuration: ThreadAutoArchiveDuration.OneDay });
      return { channel: thread, inThread: true };
    } catch (error) {
      if (!(error instanceof DiscordAPIError) || error.status >= 500) throw error;
      // Opened before a restart by the process that deferred the interaction: the thread has the message's id.
      if (error.code === RESTJSONErrorCodes.ThreadAlreadyCreatedForMessage) return { channel: await this.#sendable(messageId), inThread: true };
      // 50013 Missing Permissions (a channel override) and the like: answer in the channel.
      this.#log.info({ jobId: job.id, code: error.code }, 'could not open a thread for a video; replying in the channel instead');
      return inChannel();
    }
  }

  /**
   * Command-time problems, for the user who caused them: in the ephemeral deferred reply, or instead of the public
   * one (deleted, then an ephemeral follow-up).
   */
  async #showError(webhook: InteractionWebhook, ephemeral: boolean, error: VideoBotError, action?: ButtonAction): Promise<void> {
    const message = commandErrorMessage(error, action);
    if (ephemeral) {
      await webhook.editMessage('@original', message);
      return;
    }
    // InteractionWebhook has deleteMessage at run time (interaction.deleteReply uses it) but not in its typings.
    await this.#client.rest.delete(Routes.webhookMessage(webhook.id, webhook.token, '@original'), { auth: false });
    await webhook.send({ ...message, flags: MessageFlags.Ephemeral });
  }

  /**
   * Cancel rights: the requester, or a member allowed to manage this server (Manage Server; Administrator implies it)
   * for jobs asked for in this server, whom the core then sees as an admin (and audits); anyone else is passed on as
   * a user, and the core allows it only for its own admin role.
   */
  #actorFor(request: DiscordRequest, job: Job): Actor {
    const user: Actor = { kind: 'user', platform: 'discord', platformUserId: request.user.id };
    const own = job.user.platform === 'discord' && job.user.platformUserId === request.user.id;
    const manager = request.guildId !== undefined && job.workspaceId === request.guildId && request.managesServer;
    return !own && manager ? { kind: 'admin', name: `discord:${request.user.id} (Manage Server in ${request.guildId})` } : user;
  }

  // ---- job messages (JobConversations decides when; these say how, on Discord) ----

  /** The video (or still image) into the thread, within the upload limit; then the status message says where it is. */
  async #deliver(job: Job, posted: () => Promise<void>): Promise<void> {
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
    await posted();
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

/** What the interaction asks for; null for a command or button that is not ours. */
function askOf(interaction: ChatInputCommandInteraction | ButtonInteraction): Ask | null {
  if (interaction.isButton()) {
    const parsed = parseCustomId(interaction.customId);
    return parsed === null ? null : { kind: 'button', ...parsed };
  }
  switch (interaction.commandName) {
    case COMMAND_NAMES.video:
      return { kind: 'video', options: readVideoOptions(interaction.options) };
    case COMMAND_NAMES.quota:
      return { kind: 'quota' };
    case COMMAND_NAMES.queue:
      return { kind: 'queue' };
    default:
      return null;
  }
}

/** /quota, /queue and Cancel answer the user alone; /video, Re-roll and Same seed answer in public. */
function answersPrivately(ask: Ask): boolean {
  return ask.kind === 'quota' || ask.kind === 'queue' || (ask.kind === 'button' && ask.action === 'cancel');
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
