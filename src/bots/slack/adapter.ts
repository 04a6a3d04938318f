// The Slack adapter: app mentions, /video and button clicks in, VideoService calls, job events out as messages. Thin
// by design (style.md §9): parse-mention.ts reads the text, render.ts builds the blocks, the core decides everything
// about validation, quotas, queueing and permissions. Slack's side of the conversation:
// - every request is acknowledged at once (Bolt acks events before listeners run; commands and actions call ack()
//   first), well within Slack's 3 s;
// - one status message per job, in the mention's thread (or, for /video, a new message in the channel whose thread
//   then holds the result), updated with chat.update: throttled progress, final state, Re-roll / Same seed buttons;
// - the MP4 uploaded into that thread with files.uploadV2.
// The job's reply context holds channel, thread ts and status message ts: all chat.update and files.uploadV2 need,
// also after a restart. Which job event shows what, and when, is decided once for both platforms in
// ../chat-replier.ts; this file says how on Slack.
// @see https://docs.slack.dev/tools/bolt-js/concepts/event-listening
import { readFile } from 'node:fs/promises';
import { webApi, type App } from '@slack/bolt';
import { asVideoBotError, ErrorCode, type VideoBotError } from '../../core/errors.js';
import type { Job, ReplyContext, Requester } from '../../core/jobs.js';
import { videoBotError } from '../../core/messages.js';
import type { SubmitResult, VideoService } from '../../service/video-service.js';
import type { Logger } from '../../log.js';
import { JobConversations, type VideoLink } from '../chat-replier.js';
import { cancelAcceptedText, mediaFileName, truncate } from '../job-text.js';
import type { SlackAppHandle } from './app.js';
import { helpText, parseVideoRequest } from './parse-mention.js';
import {
  ACTION_ID_PATTERN,
  doneMessage,
  parseActionId,
  queuedMessage,
  requestErrorText,
  resultComment,
  submittingMessage,
  uploadFailedMessage,
  usageText,
  type SlackMessage,
} from './render.js';
import * as render from './render.js';

export interface SlackAdapterOptions {
  /** From createSlackApp (not started yet). */
  handle: SlackAppHandle;
  service: VideoService;
  logger: Logger;
  /** A signed public link to a job's video, offered when the upload fails; absent when the service has no public address. */
  videoLink?: VideoLink;
  /** Minimum time between two progress updates of one job's message; default 2000 ms (chat.update is Tier 3). */
  progressIntervalMs?: number;
}

/** Where a new job's status message goes. */
interface StatusPlace {
  channel: string;
  /** Thread to post the status message in; undefined: a new message in the channel, whose thread holds the result. */
  threadTs: string | undefined;
}

export class SlackAdapter {
  readonly #o: SlackAdapterOptions;
  readonly #app: App;
  readonly #log: Logger;
  readonly #conversations: JobConversations<SlackMessage>;

  /** Registers the listeners and subscribes to job events at once, so none is missed while connecting. */
  constructor(options: SlackAdapterOptions) {
    this.#o = options;
    this.#app = options.handle.app;
    this.#log = options.logger;
    this.#registerListeners();
    this.#conversations = new JobConversations<SlackMessage>(options, {
      platform: 'slack',
      messages: render,
      editStatus: (job, message) => this.#updateStatus(job, message),
      post: (job, message) => this.#postInThread(job, message),
      deliver: (job) => this.#deliver(job),
      describeError: describeSlackError,
    });
  }

  /** Verifies the token (auth.test), then connects (Socket Mode) or starts taking requests (HTTP). */
  async start(): Promise<void> {
    await this.#conversations.start(async () => {
      await this.#o.handle.start();
      this.#log.info({ mode: this.#o.handle.mode }, 'Slack connected');
    });
  }

  async stop(): Promise<void> {
    await this.#conversations.stop(() => this.#o.handle.stop());
  }

  // ---- requests from Slack ----

  #registerListeners(): void {
    const app = this.#app;
    app.event('app_mention', async ({ event, context, body }) => {
      const channel = event.channel;
      const threadTs = event.thread_ts ?? event.ts;
      const user = event.user;
      if (user === undefined) return;
      const deliveryKey = `slack:event:${body.event_id}`;
      const explain = (error: VideoBotError) => this.#post({ channel, thread_ts: threadTs, text: `<@${user}> ${requestErrorText(error)}` }).then(() => undefined);
      if (!(await this.#firstDelivery(deliveryKey, explain))) return;
      const parsed = parseVideoRequest(event.text, context.botUserId);
      if (parsed.kind !== 'request') {
        const help = helpText(await this.#o.service.optionRanges(), context.botUserId === undefined ? '@t2v-bot' : `<@${context.botUserId}>`);
        await this.#post({ channel, thread_ts: threadTs, text: usageText(parsed.kind === 'error' ? parsed.message : undefined, help) });
        return;
      }
      await this.#submitFrom(
        { channel, threadTs },
        requester(user, body.team_id ?? context.teamId),
        (requester, reply) => this.#o.service.submit({ requester, options: parsed.options, reply, deliveryKey }),
        // In the mention's thread, for everyone to see (style.md §12).
        async (statusTs, error) => {
          await this.#app.client.chat.update({ channel, ts: statusTs, text: `<@${user}> ${requestErrorText(error)}`, blocks: [] });
        },
      );
    });

    app.command('/video', async ({ command, ack, respond, context }) => {
      await ack();
      const deliveryKey = `slack:trigger:${command.trigger_id}`;
      const ephemeral = (text: string) => respond({ response_type: 'ephemeral', text }).then(() => undefined);
      if (!(await this.#firstDelivery(deliveryKey, (error) => ephemeral(requestErrorText(error))))) return;
      const parsed = parseVideoRequest(command.text, context.botUserId);
      if (parsed.kind !== 'request') {
        const help = helpText(await this.#o.service.optionRanges(), '/video');
        await ephemeral(usageText(parsed.kind === 'error' ? parsed.message : undefined, help));
        return;
      }
      await this.#submitFrom(
        { channel: command.channel_id, threadTs: undefined },
        requester(command.user_id, command.team_id),
        (requester, reply) => this.#o.service.submit({ requester, options: parsed.options, reply, deliveryKey }),
        async (statusTs, error) => this.#retractWithEphemeral(command.channel_id, statusTs, requestErrorText(error), respond),
        (error) => ephemeral(requestErrorText(error)),
      );
    });

    app.action(ACTION_ID_PATTERN, async ({ ack, body, action, respond }) => {
      await ack();
      if (body.type !== 'block_actions' || action.type !== 'button' || !('action_id' in action)) return;
      const kind = parseActionId(action.action_id);
      const jobId = action.value;
      if (kind === null || jobId === undefined) return;
      const user = body.user.id;
      const ephemeral = (text: string) => respond({ response_type: 'ephemeral', replace_original: false, text }).then(() => undefined);
      const deliveryKey = `slack:trigger:${body.trigger_id}`;
      if (!(await this.#firstDelivery(deliveryKey, (error) => ephemeral(requestErrorText(error, kind))))) return;
      if (kind === 'cancel') {
        try {
          const job = await this.#o.service.cancel(jobId, { kind: 'user', platform: 'slack', platformUserId: user });
          await ephemeral(cancelAcceptedText(job));
        } catch (error) {
          await ephemeral(requestErrorText(asVideoBotError(error), kind));
        }
        return;
      }
      const message = body.message;
      const channel = body.channel?.id ?? body.container.channel_id;
      if (message === undefined || channel === undefined) return;
      // Into the thread the clicked message belongs to (or starts).
      const threadTs = (message.thread_ts as string | undefined) ?? (message.ts as string);
      const derive = kind === 'reroll' ? 'reroll' : 'reproduce';
      await this.#submitFrom(
        { channel, threadTs },
        requester(user, body.team?.id ?? undefined),
        (requester, reply) => this.#o.service[derive](jobId, { requester, reply, deliveryKey }),
        async (statusTs, error) => this.#retractWithEphemeral(channel, statusTs, requestErrorText(error, kind), respond),
        (error) => ephemeral(requestErrorText(error, kind)),
      );
    });
  }

  /**
   * Whether this is the first delivery of `key` (an `event_id`, or a `trigger_id` for commands and buttons). Slack
   * re-sends an event it thinks was not acknowledged in time; such a retry, or any second delivery, is dropped here
   * unanswered (it is acknowledged already). If the claim cannot be made, `explain` tells the user why, and nothing
   * else happens.
   */
  async #firstDelivery(key: string, explain: (error: VideoBotError) => Promise<void>): Promise<boolean> {
    try {
      if (await this.#o.service.claimDelivery(key)) return true;
    } catch (error) {
      await explain(asVideoBotError(error));
      return false;
    }
    this.#log.info({ delivery: key }, 'dropped a Slack delivery that was handled already (a retry or duplicate)');
    return false;
  }

  /**
   * Posts the job's status message first (its ts goes into the reply context), submits, and renders the first state.
   * `rejected` shows a submit error; `unpostable` handles a status message Slack refused (not in the channel).
   */
  async #submitFrom(
    place: StatusPlace,
    requester: Requester,
    submit: (requester: Requester, reply: ReplyContext) => Promise<SubmitResult>,
    rejected: (statusTs: string, error: VideoBotError) => Promise<void>,
    unpostable?: (error: VideoBotError) => Promise<void>,
  ): Promise<void> {
    let statusTs: string;
    try {
      statusTs = await this.#post({ channel: place.channel, ...(place.threadTs === undefined ? {} : { thread_ts: place.threadTs }), ...submittingMessage() });
    } catch (error) {
      const platformError = toPlatformError(error);
      this.#log.warn({ channel: place.channel, err: describeSlackError(error) }, 'could not post a status message in Slack');
      if (unpostable !== undefined) await unpostable(platformError);
      return;
    }
    const reply: ReplyContext = { platform: 'slack', channelId: place.channel, threadId: place.threadTs ?? statusTs, messageId: statusTs };
    await this.#conversations.settingUp(statusTs, async () => {
      let result: SubmitResult;
      try {
        result = await submit(requester, reply);
      } catch (error) {
        await rejected(statusTs, asVideoBotError(error));
        return;
      }
      await this.#update(place.channel, statusTs, queuedMessage(result.job, result.position, result.etaSeconds));
    });
  }

  /** Removes a status message that will not become a job, and tells only the user why. */
  async #retractWithEphemeral(channel: string, ts: string, text: string, respond: (message: { response_type: 'ephemeral'; text: string }) => Promise<unknown>) {
    /** @see https://docs.slack.dev/reference/methods/chat.delete */
    await this.#app.client.chat.delete({ channel, ts }).catch((error: unknown) => this.#log.warn({ err: describeSlackError(error) }, 'could not delete a Slack status message'));
    await respond({ response_type: 'ephemeral', text });
  }

  // ---- job messages (JobConversations decides when; these say how, on Slack) ----

  /** Uploads the MP4 (or PNG) into the job's thread, then turns the status message into the result card. */
  async #deliver(job: Job): Promise<void> {
    const output = job.output;
    if (output === null) throw new Error(`job ${job.id} succeeded without output`);
    try {
      /** @see https://docs.slack.dev/reference/methods/files.getUploadURLExternal (the flow files.uploadV2 runs) */
      await this.#app.client.files.uploadV2({
        channel_id: job.reply.channelId,
        thread_ts: job.reply.threadId!,
        file: await readFile(output.mediaPath),
        filename: mediaFileName(job),
        title: truncate(job.params.prompt, 250),
        initial_comment: resultComment(job),
      });
    } catch (error) {
      this.#log.warn({ jobId: job.id, err: describeSlackError(error) }, 'could not upload a video to Slack');
      await this.#postInThread(job, uploadFailedMessage(job, toPlatformError(error), await this.#o.videoLink?.(job.id)));
    }
    await this.#updateStatus(job, doneMessage(job));
  }

  async #updateStatus(job: Job, message: SlackMessage): Promise<void> {
    await this.#update(job.reply.channelId, job.reply.messageId!, message);
  }

  async #postInThread(job: Job, message: SlackMessage): Promise<void> {
    await this.#post({ channel: job.reply.channelId, thread_ts: job.reply.threadId!, ...message });
  }

  /** @see https://docs.slack.dev/reference/methods/chat.postMessage */
  async #post(message: { channel: string; thread_ts?: string; text: string; blocks?: SlackMessage['blocks'] }): Promise<string> {
    const posted = await this.#app.client.chat.postMessage(message);
    return posted.ts!;
  }

  /** @see https://docs.slack.dev/reference/methods/chat.update */
  async #update(channel: string, ts: string, message: SlackMessage): Promise<void> {
    await this.#app.client.chat.update({ channel, ts, text: message.text, blocks: message.blocks ?? [] });
  }
}

function requester(userId: string, teamId: string | undefined): Requester {
  return { platform: 'slack', platformUserId: userId, ...(teamId === undefined ? {} : { workspaceId: teamId }) };
}

/** Slack's `{ok: false, error}` answers as the one coded error type (style.md §11). */
function toPlatformError(error: unknown): VideoBotError {
  const coded = error as { code?: string; data?: { error?: string } };
  if (coded.code === webApi.ErrorCode.PlatformError) {
    return videoBotError(ErrorCode.PlatformError, { platform: 'slack', error: coded.data?.error ?? 'unknown_error' }, { cause: error });
  }
  return asVideoBotError(error);
}

/** For logs: Slack's error code, not the request (which can carry tokens in form fields). */
function describeSlackError(error: unknown): unknown {
  const coded = error as { code?: string; data?: { error?: string }; message?: string };
  if (coded.code === webApi.ErrorCode.PlatformError) return { code: coded.code, error: coded.data?.error };
  return { code: coded.code, message: coded.message };
}
