// The Slack adapter: app mentions, /video and button clicks in, VideoService calls, job events out as messages. Thin
// by design (style.md §9): parse-mention.ts reads the text, render.ts builds the blocks, the core decides everything
// about validation, quotas, queueing and permissions. Slack's side of the conversation:
// - every request is acknowledged at once (Bolt acks events before listeners run; commands and actions call ack()
//   first), well within Slack's 3 s;
// - one status message per job, in the mention's thread (or, for /video, a new message in the channel whose thread
//   then holds the result), updated with chat.update: throttled progress, final state, Re-roll / Same seed buttons;
// - the MP4 uploaded into that thread with files.uploadV2.
// The job's reply context holds channel, thread ts and status message ts: all chat.update and files.uploadV2 need,
// also after a restart. Slack never sends an acknowledged request again, so each one is claimed with what its handling
// needs (SlackRequest) and its status message is recorded once posted: a process that starts after a crash finishes
// what the last one had accepted (../delivery-resumption.ts). Which job event shows what, and when, is decided once
// for both platforms in ../chat-replier.ts; this file says how on Slack.
// @see https://docs.slack.dev/tools/bolt-js/concepts/event-listening
import { readFile } from 'node:fs/promises';
import { webApi, type App } from '@slack/bolt';
import { asVideoBotError, ErrorCode, type VideoBotError } from '../../core/errors.js';
import type { Job, ReplyContext, Requester } from '../../core/jobs.js';
import { videoBotError } from '../../core/messages.js';
import type { SubmitResult, VideoService } from '../../service/video-service.js';
import type { Logger } from '../../log.js';
import { awaitsFirstState, JobConversations, type VideoLink } from '../chat-replier.js';
import { resumeDeliveries } from '../delivery-resumption.js';
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
  type SlackAction,
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

/** Who asks: a Slack user and their workspace. */
interface SlackUser {
  user: string;
  teamId?: string;
}

/**
 * A request as stored with its claim: everything its handling needs, so that a process that never saw the event can
 * finish it. `responseUrl` answers /video and buttons (for 30 minutes, five times); `botUserId` is the mention to strip.
 */
type SlackRequest =
  | ({ kind: 'mention'; channel: string; threadTs: string; text: string; botUserId?: string } & SlackUser)
  | ({ kind: 'command'; channel: string; text: string; botUserId?: string; responseUrl: string } & SlackUser)
  | ({ kind: 'button'; action: SlackAction; jobId: string; responseUrl: string; place?: StatusPlace & { threadTs: string } } & SlackUser);

/** Requests whose problems and answers go to the user alone, through their response_url. */
type AnsweredPrivately = Extract<SlackRequest, { kind: 'command' | 'button' }>;

/**
 * How long after its claim a request is resumed: a response_url works for 30 minutes, and a mention answered later
 * than that has most likely been asked again.
 */
const RESUME_WITHIN_MS = 30 * 60_000;

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
      deliver: (job, posted) => this.#deliver(job, posted),
      describeError: describeSlackError,
    });
  }

  /**
   * Verifies the token (auth.test), then connects (Socket Mode) or starts taking requests (HTTP); then finishes the
   * requests a stopped process had accepted and not handled.
   */
  async start(): Promise<void> {
    const startedAt = new Date();
    await this.#conversations.start(async () => {
      await this.#o.handle.start();
      this.#log.info({ mode: this.#o.handle.mode }, 'Slack connected');
    });
    await resumeDeliveries({
      service: this.#o.service,
      logger: this.#log,
      platform: 'slack',
      claimedBefore: startedAt,
      maxAgeMs: RESUME_WITHIN_MS,
      tooOldReason: 'it is more than 30 minutes old, and its answer would come too late',
      resume: (delivery) => this.#handle(delivery.key, delivery.request as SlackRequest, delivery.statusMessageId ?? undefined),
      describeError: describeSlackError,
    });
  }

  async stop(): Promise<void> {
    await this.#conversations.stop(() => this.#o.handle.stop());
  }

  // ---- requests from Slack ----

  #registerListeners(): void {
    const app = this.#app;
    app.event('app_mention', async ({ event, context, body }) => {
      if (event.user === undefined) return;
      const request: SlackRequest = {
        kind: 'mention',
        channel: event.channel,
        threadTs: event.thread_ts ?? event.ts,
        text: event.text,
        ...(context.botUserId === undefined ? {} : { botUserId: context.botUserId }),
        ...slackUser(event.user, body.team_id ?? context.teamId),
      };
      await this.#accept(`slack:event:${body.event_id}`, request, (error) => this.#explainInThread(request, error));
    });

    app.command('/video', async ({ command, ack, context }) => {
      await ack();
      const request: SlackRequest = {
        kind: 'command',
        channel: command.channel_id,
        text: command.text,
        responseUrl: command.response_url,
        ...(context.botUserId === undefined ? {} : { botUserId: context.botUserId }),
        ...slackUser(command.user_id, command.team_id),
      };
      await this.#accept(`slack:trigger:${command.trigger_id}`, request, (error) => this.#ephemeral(request, requestErrorText(error)));
    });

    app.action(ACTION_ID_PATTERN, async ({ ack, body, action }) => {
      await ack();
      if (body.type !== 'block_actions' || action.type !== 'button' || !('action_id' in action)) return;
      const kind = parseActionId(action.action_id);
      const jobId = action.value;
      if (kind === null || jobId === undefined) return;
      const message = body.message;
      const channel = body.channel?.id ?? body.container.channel_id;
      const request: SlackRequest = {
        kind: 'button',
        action: kind,
        jobId,
        responseUrl: body.response_url,
        // Into the thread the clicked message belongs to (or starts).
        ...(message === undefined || channel === undefined ? {} : { place: { channel, threadTs: (message.thread_ts as string | undefined) ?? (message.ts as string) } }),
        ...slackUser(body.user.id, body.team?.id ?? undefined),
      };
      await this.#accept(`slack:trigger:${body.trigger_id}`, request, (error) => this.#ephemeral(request, requestErrorText(error, kind)));
    });
  }

  /**
   * Handles the first delivery of `key` (an `event_id`, or a `trigger_id` for commands and buttons). Slack re-sends an
   * event it thinks was not acknowledged in time; such a retry, or any second delivery, is dropped here unanswered (it
   * is acknowledged already). If the claim cannot be made, `explain` tells the user why, and nothing else happens.
   */
  async #accept(key: string, request: SlackRequest, explain: (error: VideoBotError) => Promise<void>): Promise<void> {
    try {
      if (!(await this.#o.service.claimDelivery(key, request))) {
        this.#log.info({ delivery: key }, 'dropped a Slack delivery that was handled already (a retry or duplicate)');
        return;
      }
    } catch (error) {
      await explain(asVideoBotError(error));
      return;
    }
    try {
      await this.#handle(key, request, undefined);
    } finally {
      await this.#o.service.deliveryHandled(key).catch((error: unknown) => this.#log.warn({ delivery: key, err: error }, 'could not record that a Slack request was handled'));
    }
  }

  /**
   * Handles a claimed request, the first time or resumed by the next process after a crash; `statusTs` is its status
   * message when one was posted and recorded already.
   */
  async #handle(key: string, request: SlackRequest, statusTs: string | undefined): Promise<void> {
    const service = this.#o.service;
    const requester = slackRequester(request);
    if (request.kind === 'button') {
      const kind = request.action;
      if (kind === 'cancel') {
        try {
          const job = await service.cancel(request.jobId, { kind: 'user', platform: 'slack', platformUserId: request.user });
          await this.#ephemeral(request, cancelAcceptedText(job));
        } catch (error) {
          await this.#ephemeral(request, requestErrorText(asVideoBotError(error), kind));
        }
        return;
      }
      const place = request.place;
      if (place === undefined) return;
      const derive = kind === 'reroll' ? 'reroll' : 'reproduce';
      await this.#submitFrom(
        key,
        place,
        statusTs,
        (reply) => service[derive](request.jobId, { requester, reply, deliveryKey: key }),
        async (ts, error) => this.#retractWithEphemeral(request, place.channel, ts, requestErrorText(error, kind)),
        (error) => this.#ephemeral(request, requestErrorText(error, kind)),
      );
      return;
    }
    const parsed = parseVideoRequest(request.text, request.botUserId);
    if (parsed.kind !== 'request') {
      const mention = request.kind === 'command' ? '/video' : request.botUserId === undefined ? '@t2v-bot' : `<@${request.botUserId}>`;
      const text = usageText(parsed.kind === 'error' ? parsed.message : undefined, helpText(await service.optionRanges(), mention));
      if (request.kind === 'command') await this.#ephemeral(request, text);
      else await this.#post({ channel: request.channel, thread_ts: request.threadTs, text });
      return;
    }
    const submit = (reply: ReplyContext) => service.submit({ requester, options: parsed.options, reply, deliveryKey: key });
    if (request.kind === 'mention') {
      await this.#submitFrom(
        key,
        { channel: request.channel, threadTs: request.threadTs },
        statusTs,
        submit,
        // In the mention's thread, for everyone to see (style.md §12).
        async (ts, error) => {
          await this.#app.client.chat.update({ channel: request.channel, ts, text: `<@${request.user}> ${requestErrorText(error)}`, blocks: [] });
        },
      );
      return;
    }
    await this.#submitFrom(
      key,
      { channel: request.channel, threadTs: undefined },
      statusTs,
      submit,
      async (ts, error) => this.#retractWithEphemeral(request, request.channel, ts, requestErrorText(error)),
      (error) => this.#ephemeral(request, requestErrorText(error)),
    );
  }

  /**
   * Posts the job's status message first (its ts goes into the reply context), unless `statusTs` names one posted
   * before a restart; records it with the delivery, submits, and renders the first state. `rejected` shows a submit
   * error; `unpostable` handles a status message Slack refused (not in the channel).
   */
  async #submitFrom(
    key: string,
    place: StatusPlace,
    statusTs: string | undefined,
    submit: (reply: ReplyContext) => Promise<SubmitResult>,
    rejected: (statusTs: string, error: VideoBotError) => Promise<void>,
    unpostable?: (error: VideoBotError) => Promise<void>,
  ): Promise<void> {
    let ts = statusTs;
    if (ts === undefined) {
      try {
        ts = await this.#post({ channel: place.channel, ...(place.threadTs === undefined ? {} : { thread_ts: place.threadTs }), ...submittingMessage() });
      } catch (error) {
        const platformError = toPlatformError(error);
        this.#log.warn({ channel: place.channel, err: describeSlackError(error) }, 'could not post a status message in Slack');
        if (unpostable !== undefined) await unpostable(platformError);
        return;
      }
      // A crash before this is recorded means one more status message when the next process resumes the request.
      await this.#o.service
        .recordDeliveryStatusMessage(key, ts)
        .catch((error: unknown) => this.#log.warn({ delivery: key, err: error }, 'could not record the status message of a Slack request'));
    }
    const statusMessage = ts;
    const reply: ReplyContext = { platform: 'slack', channelId: place.channel, threadId: place.threadTs ?? statusMessage, messageId: statusMessage };
    await this.#conversations.settingUp(statusMessage, async () => {
      let result: SubmitResult;
      try {
        result = await submit(reply);
      } catch (error) {
        await rejected(statusMessage, asVideoBotError(error));
        return;
      }
      if (!awaitsFirstState(result.job)) return;
      await this.#update(place.channel, statusMessage, queuedMessage(result.job, result.position, result.etaSeconds));
    });
  }

  /** A mention's problem in its thread, naming the user. */
  async #explainInThread(request: Extract<SlackRequest, { kind: 'mention' }>, error: VideoBotError): Promise<void> {
    await this.#post({ channel: request.channel, thread_ts: request.threadTs, text: `<@${request.user}> ${requestErrorText(error)}` });
  }

  /** Removes a status message that will not become a job, and tells only the user why. */
  async #retractWithEphemeral(request: AnsweredPrivately, channel: string, ts: string, text: string): Promise<void> {
    /** @see https://docs.slack.dev/reference/methods/chat.delete */
    await this.#app.client.chat.delete({ channel, ts }).catch((error: unknown) => this.#log.warn({ err: describeSlackError(error) }, 'could not delete a Slack status message'));
    await this.#ephemeral(request, text);
  }

  /**
   * An answer for the user alone, through the request's response_url, as Bolt's respond() posts it (Bolt does not
   * export it, and a resumed request has no Bolt listener); a button's answer never replaces the clicked message.
   */
  async #ephemeral(request: AnsweredPrivately, text: string): Promise<void> {
    const body = { response_type: 'ephemeral', ...(request.kind === 'button' ? { replace_original: false } : {}), text };
    const response = await fetch(request.responseUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    // The URL is a credential for 30 minutes: it stays out of the error.
    if (!response.ok) throw new Error(`Slack refused an answer to a response_url (HTTP ${response.status})`);
  }

  // ---- job messages (JobConversations decides when; these say how, on Slack) ----

  /** Uploads the MP4 (or PNG) into the job's thread, then turns the status message into the result card. */
  async #deliver(job: Job, posted: () => Promise<void>): Promise<void> {
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
    await posted();
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

function slackUser(user: string, teamId: string | undefined): SlackUser {
  return { user, ...(teamId === undefined ? {} : { teamId }) };
}

function slackRequester(request: SlackUser): Requester {
  return { platform: 'slack', platformUserId: request.user, ...(request.teamId === undefined ? {} : { workspaceId: request.teamId }) };
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
