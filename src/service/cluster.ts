// The processes that share one Postgres database (fronts and workers) as one service. Every job event a process
// makes (a submit, a start, progress, an end) is relayed to the others through LISTEN/NOTIFY and emitted on their
// own event bus, as if it had happened there: a chat thread keeps updating and the dashboard's progress bar keeps
// moving whichever worker renders the job. Cancel requests go to the worker that renders the job; a queued job
// wakes every worker. Only job ids and small fields travel (a notification holds under 8000 bytes); the receiver
// reads the job from the database, which stays the source of truth, and catches up from it after a reconnect.
// SQLite deployments are one process and need none of this.
import { randomUUID } from 'node:crypto';
import type { EventBus, JobEvent, ServiceEvent } from '../core/events.js';
import type { Actor, Job } from '../core/jobs.js';
import { notify, NotificationListener } from '../db/notifications.js';
import type { PrismaClient } from '../db/database.js';
import type { Logger } from '../log.js';
import type { JobStore } from '../queue/job-store.js';
import type { LocalMedia } from '../queue/local-media.js';
import type { QueueView } from '../queue/queue-view.js';
import { parseActor, type Worker } from '../queue/worker.js';
import type { ClusterMessages } from './video-service.js';

/** Progress is relayed at most this often per job (every step would be a database round trip); the last step always. */
const PROGRESS_EVERY_MS = 250;

type Message =
  | { origin: string; kind: 'job'; type: JobEvent['type']; jobId: string; fields: Record<string, unknown> }
  | { origin: string; kind: 'cancel'; jobId: string; actor: string }
  | { origin: string; kind: 'queue' };

export interface ClusterOptions {
  prisma: PrismaClient;
  connectionString: string;
  channel: string;
  store: JobStore;
  events: EventBus;
  view: QueueView;
  media: LocalMedia;
  worker: Worker | undefined;
  logger: Logger;
}

export class Cluster implements ClusterMessages {
  readonly #o: ClusterOptions;
  /** This process, as the origin of the messages it sends (its own come back to it and are skipped). */
  readonly #origin = randomUUID();
  readonly #listener: NotificationListener;
  /** Events this process received from others: emitted on its bus, never relayed again. */
  readonly #relayed = new WeakSet<ServiceEvent>();
  readonly #lastProgress = new Map<string, number>();
  /** The last known state of each running job of another process, which progress messages update. */
  readonly #runningJobs = new Map<string, Job>();
  /** Sends and receptions each run one at a time, so that events keep their order. */
  #sending: Promise<void> = Promise.resolve();
  #receiving: Promise<void> = Promise.resolve();
  #unsubscribe: (() => void) | undefined;

  constructor(options: ClusterOptions) {
    this.#o = options;
    this.#listener = new NotificationListener({
      connectionString: options.connectionString,
      channel: options.channel,
      logger: options.logger,
      onMessage: (message) => {
        this.#receiving = this.#receiving.then(() => this.#receive(message as Message)).catch((error: unknown) => {
          options.logger.warn({ err: error }, 'could not handle a notification from another process');
        });
      },
      onConnected: (reconnected) => {
        if (!reconnected) return;
        // Notifications sent while the connection was down are lost: catch up from the database.
        this.#o.view.refresh().catch(() => undefined);
        this.#o.worker?.wake();
      },
    });
  }

  /** Listens for the other processes' messages and relays this process's job events to them. */
  async start(): Promise<void> {
    await this.#listener.start();
    this.#unsubscribe = this.#o.events.subscribe((event) => this.#relay(event));
  }

  async close(): Promise<void> {
    this.#unsubscribe?.();
    await this.#sending;
    await this.#listener.close();
  }

  async cancel(jobId: string, actor: Actor): Promise<void> {
    await this.#send({ origin: this.#origin, kind: 'cancel', jobId, actor: JSON.stringify(actor) });
  }

  async queueChanged(): Promise<void> {
    await this.#send({ origin: this.#origin, kind: 'queue' });
  }

  #relay(event: ServiceEvent): void {
    if (this.#relayed.has(event) || event.type === 'engine' || event.type === 'position') return;
    const jobId = event.job.id;
    if (event.type === 'progress') {
      const now = Date.now();
      if (event.step < event.totalSteps && now - (this.#lastProgress.get(jobId) ?? 0) < PROGRESS_EVERY_MS) return;
      this.#lastProgress.set(jobId, now);
    } else if (event.type !== 'queued' && event.type !== 'started') {
      this.#lastProgress.delete(jobId);
    }
    const { type, job: _job, ...fields } = event;
    void this.#send({ origin: this.#origin, kind: 'job', type, jobId, fields: jsonFields(fields) }).catch((error: unknown) => {
      this.#o.logger.warn({ err: error, jobId, event: type }, 'could not tell the other processes about a job event');
    });
  }

  #send(message: Message): Promise<void> {
    const sent = this.#sending.then(() => notify(this.#o.prisma, this.#o.channel, message));
    this.#sending = sent.catch(() => undefined);
    return sent;
  }

  async #receive(message: Message): Promise<void> {
    if (message.origin === this.#origin) return;
    if (message.kind === 'cancel') {
      this.#o.worker?.cancelLocal(message.jobId, parseActor(message.actor));
      return;
    }
    if (message.kind === 'queue') {
      await this.#o.view.refresh();
      this.#o.worker?.wake();
      return;
    }
    const event = await this.#eventOf(message);
    if (event === undefined) return;
    this.#relayed.add(event);
    this.#o.events.emit(event);
    if (event.type === 'queued' || event.type === 'requeued') this.#o.worker?.wake();
  }

  /** The event another process emitted, rebuilt here with the job as the database has it. */
  async #eventOf(message: Extract<Message, { kind: 'job' }>): Promise<JobEvent | undefined> {
    const { type, jobId, fields } = message;
    if (type === 'progress') {
      const known = this.#runningJobs.get(jobId) ?? (await this.#o.store.get(jobId));
      if (known === null || known.status !== 'running') return undefined;
      const step = Number(fields.step);
      const totalSteps = Number(fields.totalSteps);
      const etaMs = fields.etaMs === null ? null : Number(fields.etaMs);
      const job: Job = { ...known, progress: { step, totalSteps, etaMs } };
      this.#runningJobs.set(jobId, job);
      return { type, job, step, totalSteps, etaMs };
    }
    const stored = await this.#o.store.get(jobId);
    if (stored === null) return undefined;
    if (type === 'started') this.#runningJobs.set(jobId, stored);
    else this.#runningJobs.delete(jobId);
    switch (type) {
      case 'queued': {
        const snapshot = await this.#o.view.refresh();
        const place = snapshot.queued.find((q) => q.job.id === jobId);
        return { type, job: stored, position: place?.position ?? 0, etaSeconds: place?.etaSeconds ?? null };
      }
      case 'started':
        return { type, job: stored };
      case 'succeeded':
        return { type, job: await this.#o.media.withLocalFiles(stored) };
      case 'failed':
        return { type, job: stored, error: stored.error ?? { code: 'unknown', message: '' } };
      case 'cancelled':
        return { type, job: stored, actor: parseActor(JSON.stringify(fields.actor)) };
      case 'requeued':
        return { type, job: stored, reason: fields.reason === 'shutdown' ? 'shutdown' : 'restart' };
      default:
        return undefined;
    }
  }
}

/** An event's own fields (not the job) as JSON values. */
function jsonFields(fields: object): Record<string, unknown> {
  return JSON.parse(JSON.stringify(fields)) as Record<string, unknown>;
}
