// Job events become chat messages here, once for both platforms. An adapter implements ChatReplier in its platform's
// terms (edit the status message, post in the thread or channel, deliver the file) and renders the messages with
// its pure render functions (StatusMessages); JobConversations owns the policy: which event shows what, which edits
// are throttled (MessageUpdater), the order of the final messages, waiting for a status message that is still being
// set up, and the adapter's life (nothing is sent before it is connected, or after it stopped or failed to start).
// It also makes a job's last message survive a crash: once out, it is recorded (Job.repliedAt), and each start sends
// the last messages of this platform's jobs that finished without one being recorded (the process stopped first).
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
  /** `byUserId` undefined: an admin cancelled it (dashboard, API); null: not known (sent after a restart). */
  cancelledMessage(job: Job, byUserId: string | undefined | null): M;
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
  /**
   * The finished job's file where its result goes; then the status message says where it is. Calls `posted` as soon
   * as the file (or the explanation in its place) is out, before that edit: the job is recorded as answered there, so
   * that a crash repeats the post only if it comes within that moment.
   */
  deliver(job: Job, posted: () => Promise<void>): Promise<void>;
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

/** How a job ended, as its last message shows it. */
type Ending = { status: 'succeeded' } | { status: 'failed'; text: string } | { status: 'cancelled'; byUserId: string | undefined | null };

export class JobConversations<M> {
  readonly #service: VideoService;
  readonly #replier: ChatReplier<M>;
  readonly #log: Logger;
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
    this.#log = options.logger;
    this.#connected = new Promise((resolve) => (this.#settleConnected = resolve));
    this.#name = replier.platform === 'discord' ? 'Discord' : 'Slack';
    this.#updater = new MessageUpdater({
      intervalMs: options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS,
      onError: (jobId, error) => options.logger.warn({ jobId, err: this.#replier.describeError(error) }, `could not update the ${this.#name} message of a job`),
    });
    this.#unsubscribe = options.service.subscribe((event) => this.#onEvent(event));
  }

  /**
   * Runs `connect`; then sends go out, waiting jobs' messages show their current place (after a restart), and jobs
   * that finished without their last message being recorded as sent get it.
   */
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
    await this.#answerUnrepliedJobs();
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
        this.#finish(job, { status: 'succeeded' });
        break;
      case 'failed':
        this.#finish(job, { status: 'failed', text: event.error.message });
        break;
      case 'cancelled':
        this.#finish(job, { status: 'cancelled', byUserId: cancelledBy(event.actor, replier.platform) });
        break;
    }
  }

  /**
   * The last messages of jobs whose end came when this process (or one before it) could no longer send them. Who
   * cancelled a job is not kept, so such a cancel does not say.
   */
  async #answerUnrepliedJobs(): Promise<void> {
    let jobs: Job[];
    try {
      jobs = await this.#service.unrepliedJobs(this.#replier.platform);
    } catch (error) {
      this.#log.error({ err: error }, `could not look for ${this.#name} jobs that finished without their last message`);
      return;
    }
    if (jobs.length === 0) return;
    this.#log.info({ jobs: jobs.map((job) => job.id) }, `sending the last messages of ${this.#name} jobs that finished while no process could send them`);
    for (const job of jobs) {
      if (job.status === 'succeeded') this.#finish(job, { status: 'succeeded' });
      else if (job.status === 'failed') this.#finish(job, { status: 'failed', text: job.error?.message ?? '' });
      else this.#finish(job, { status: 'cancelled', byUserId: null });
    }
  }

  /**
   * The job's last message; later events for it are dropped, and the adapter forgets the job once it is out. It is
   * recorded as sent right after the post users would see twice (the video, the failure in the thread), or once
   * sending it failed (logged; not sent again after a restart either); a send that never started, because the adapter
   * is not connected, is not recorded, so the next start sends it.
   */
  #finish(job: Job, ending: Ending): void {
    const replier = this.#replier;
    const messages = replier.messages;
    let recorded = false;
    const recordReplied = async () => {
      if (recorded) return;
      recorded = true;
      await this.#service.markReplied(job.id).catch((error: unknown) =>
        this.#log.warn({ jobId: job.id, err: error }, `could not record that the last ${this.#name} message of a job was sent; it is sent again after a restart`),
      );
    };
    const send = this.#whenReady(job, async () => {
      try {
        if (ending.status === 'succeeded') await replier.deliver(job, recordReplied);
        else if (ending.status === 'failed') {
          // The status first, so the message in the thread is the newest thing there.
          await replier.editStatus(job, messages.failedMessage(job, ending.text));
          await replier.post(job, messages.jobErrorMessage(job, ending.text));
        } else await replier.editStatus(job, messages.cancelledMessage(job, ending.byUserId));
      } finally {
        await recordReplied();
      }
    });
    void this.#updater.finish(job.id, send).then(() => replier.forget?.(job.id));
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
 * Whether a submit's answer becomes the first state of the job's status message: not for a job that has ended
 * already (a request resumed after its job ran), whose last message is sent as for every job, above.
 */
export function awaitsFirstState(job: Job): boolean {
  return job.status === 'queued' || job.status === 'running';
}

/**
 * Who cancelled, as a user id of this platform: the user, or for an admin action the id the adapter put in the
 * admin's name (`discord:<id> (Manage Server in …)`); undefined for the dashboard and the API.
 */
function cancelledBy(actor: Actor, platform: Platform): string | undefined {
  if (actor.kind === 'user') return actor.platform === platform ? actor.platformUserId : undefined;
  return new RegExp(`^${platform}:(\\w+)`).exec(actor.name)?.[1];
}
