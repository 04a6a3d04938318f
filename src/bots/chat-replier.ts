// Job events become chat messages here, once for both platforms. An adapter implements ChatReplier in its platform's
// terms (edit the status message, post in the thread or channel, deliver the file) and renders the messages with
// its pure render functions (StatusMessages); JobConversations owns the policy: which event shows what, which edits
// are throttled (MessageUpdater), the order of the final messages, waiting for a status message that is still being
// set up, and the adapter's life (nothing is sent before it is connected, or after it stopped or failed to start).
// This is style.md §9's ChatReplier seam: the adapters keep parsing and rendering, nothing else.
import type { ServiceEvent } from '../core/events.js';
import type { Actor, Job, Platform } from '../core/jobs.js';
import type { VideoService } from '../service/video-service.js';
import type { Logger } from '../log.js';
import { MessageUpdater } from './message-updater.js';

/** A link chat users can open to a job's video (service/media-links.ts), or undefined when there is none to give. */
export type VideoLink = (jobId: string) => Promise<string | undefined>;

/**
 * A job's status texts as one platform renders them: the pure functions of its render.ts, whose module is passed as
 * it is (the names match).
 */
export interface StatusMessages<M> {
  queuedMessage(job: Job, position: number, etaSeconds: number | null): M;
  runningMessage(job: Job, step: number, totalSteps: number, etaMs: number | null): M;
  requeuedMessage(job: Job, reason: 'restart' | 'shutdown'): M;
  failedMessage(job: Job, text: string): M;
  /** `byUserId` undefined: an admin cancelled it (dashboard, API). */
  cancelledMessage(job: Job, byUserId: string | undefined): M;
  /** A job-time problem, posted where the job's result goes and naming the requester. */
  jobErrorMessage(job: Job, text: string): M;
}

/** What an adapter does for a job, in platform terms. Called only once the adapter is connected and set up. */
export interface ChatReplier<M> {
  readonly platform: Extract<Platform, 'discord' | 'slack'>;
  readonly messages: StatusMessages<M>;
  /** Replaces the job's status message with `message`. */
  editStatus(job: Job, message: M): Promise<void>;
  /** Posts `message` where the job's result goes (its thread, or the channel). */
  post(job: Job, message: M): Promise<void>;
  /** The finished job's file where its result goes; then the status message says where it is. */
  deliver(job: Job): Promise<void>;
  /** The job's last message is out: drop what the adapter keeps for it. */
  forget?(jobId: string): void;
  /** An error as it may be logged: library errors can carry tokens (request URLs, form fields). */
  describeError(error: unknown): unknown;
}

/** What both adapters' options have. */
export interface JobConversationsOptions {
  service: VideoService;
  logger: Logger;
  /** Minimum time between two throttled edits (progress, place in line) of one job's message; default 2000 ms. */
  progressIntervalMs?: number;
}

const DEFAULT_PROGRESS_INTERVAL_MS = 2_000;

export class JobConversations<M> {
  readonly #service: VideoService;
  readonly #replier: ChatReplier<M>;
  /** The platform as users write it, for log lines. */
  readonly #name: string;
  readonly #updater: MessageUpdater;
  readonly #unsubscribe: () => void;
  /** Resolves true once connected; false when the start failed or stop() ran first. */
  readonly #connected: Promise<boolean>;
  #settleConnected!: (value: boolean) => void;
  /** Status message id -> its setup in progress (the first state rendered, a thread opened). */
  readonly #setups = new Map<string, Promise<void>>();
  /** False once the start failed or stop() ran: events are then ignored instead of failing one by one. */
  #online = true;
  #stopped = false;

  /** Subscribes at once, so no event is missed while the adapter connects; sends wait until it is connected. */
  constructor(options: JobConversationsOptions, replier: ChatReplier<M>) {
    this.#service = options.service;
    this.#replier = replier;
    this.#connected = new Promise((resolve) => (this.#settleConnected = resolve));
    this.#name = replier.platform === 'discord' ? 'Discord' : 'Slack';
    this.#updater = new MessageUpdater({
      intervalMs: options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS,
      onError: (jobId, error) => options.logger.warn({ jobId, err: this.#replier.describeError(error) }, `could not update the ${this.#name} message of a job`),
    });
    this.#unsubscribe = options.service.subscribe((event) => this.#onEvent(event));
  }

  /** Runs `connect`; then sends go out, and waiting jobs' messages show their current place (after a restart). */
  async start(connect: () => Promise<void>): Promise<void> {
    try {
      await connect();
    } catch (error) {
      this.#online = false;
      this.#settleConnected(false);
      throw error;
    }
    this.#settleConnected(true);
    for (const { job, position, etaSeconds } of this.#service.listQueue().queued) {
      this.#onEvent({ type: 'queued', job, position, etaSeconds, replay: true });
    }
  }

  /** Stops taking events, lets the sends already queued finish, then runs `disconnect`. Once only. */
  async stop(disconnect: () => Promise<void>): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#online = false;
    this.#unsubscribe();
    // Never connected: queued sends fail at once instead of waiting. Connected: this changes nothing, and the last
    // states (a drain's "back in the queue") still go out before the connection closes.
    this.#settleConnected(false);
    await this.#updater.drain();
    await disconnect();
  }

  /**
   * Runs `setup`, which makes `statusMessageId` a job's status message (submits the job, renders its first state,
   * opens its thread); events of that job wait for it, so nothing overtakes the first state.
   */
  async settingUp(statusMessageId: string, setup: () => Promise<void>): Promise<void> {
    let release!: () => void;
    this.#setups.set(statusMessageId, new Promise<void>((resolve) => (release = resolve)));
    try {
      await setup();
    } finally {
      this.#setups.delete(statusMessageId);
      release();
    }
  }

  #onEvent(event: ServiceEvent): void {
    if (event.type === 'engine' || !this.#online) return;
    const job = event.job;
    if (job.reply.platform !== this.#replier.platform || job.reply.messageId === undefined) return;
    const replier = this.#replier;
    const messages = replier.messages;
    const status = (message: M) => this.#whenReady(job, () => replier.editStatus(job, message));
    switch (event.type) {
      case 'queued':
        // A live `queued` comes from the adapter's own submit, which renders the first state itself.
        if (event.replay === true) this.#updater.update(job.id, status(messages.queuedMessage(job, event.position, event.etaSeconds)));
        break;
      case 'position':
        this.#updater.update(job.id, status(messages.queuedMessage(job, event.position, event.etaSeconds)));
        break;
      case 'started':
        void this.#updater.now(job.id, status(messages.runningMessage(job, job.progress.step, job.params.steps, job.progress.etaMs)));
        break;
      case 'progress':
        this.#updater.update(job.id, status(messages.runningMessage(job, event.step, event.totalSteps, event.etaMs)));
        break;
      case 'requeued':
        void this.#updater.now(job.id, status(messages.requeuedMessage(job, event.reason)));
        break;
      case 'succeeded':
        this.#finish(job, this.#whenReady(job, () => replier.deliver(job)));
        break;
      case 'failed':
        // The status first, so the message in the thread is the newest thing there.
        this.#finish(
          job,
          this.#whenReady(job, async () => {
            await replier.editStatus(job, messages.failedMessage(job, event.error.message));
            await replier.post(job, messages.jobErrorMessage(job, event.error.message));
          }),
        );
        break;
      case 'cancelled':
        this.#finish(job, status(messages.cancelledMessage(job, cancelledBy(event.actor, replier.platform))));
        break;
    }
  }

  /** The job's last message; later events for it are dropped, and the adapter forgets the job once it is out. */
  #finish(job: Job, send: () => Promise<void>): void {
    void this.#updater.finish(job.id, send).then(() => this.#replier.forget?.(job.id));
  }

  /** `send`, once the adapter is connected and the job's status message is set up. */
  #whenReady(job: Job, send: () => Promise<void>): () => Promise<void> {
    return async () => {
      if (!(await this.#connected)) throw new Error(`${this.#name} is not connected`);
      await this.#setups.get(job.reply.messageId!);
      await send();
    };
  }
}

/**
 * Who cancelled, as a user id of this platform: the user, or for an admin action the id the adapter put in the
 * admin's name (`discord:<id> (Manage Server in …)`); undefined for the dashboard and the API.
 */
function cancelledBy(actor: Actor, platform: Platform): string | undefined {
  if (actor.kind === 'user') return actor.platform === platform ? actor.platformUserId : undefined;
  return new RegExp(`^${platform}:(\\w+)`).exec(actor.name)?.[1];
}
