// The queue as people see it: running jobs, waiting jobs in the order they will run with their places and ETAs, and
// the pool of processes that render. Made from the database, which every process shares (the front that serves a
// chat thread and the worker that renders its job may be different processes), with the same fair-share policy the
// workers' claims use (scheduler.ts), so the order shown is the order jobs will be taken. Refreshed after every
// change this process makes or hears of, and every few seconds as a safety net; snapshot() is synchronous and
// cheap, because adapters call it for every message they render. Emits `position` when a waiting job's place
// changes, for this process's listeners only (every front works out its own).
import type { EventBus, JobEvent } from '../core/events.js';
import type { Job, Role } from '../core/jobs.js';
import type { EngineStatus } from '../core/ports.js';
import type { QueueCounts, QueueSnapshot, RunningJob, WorkerStatus } from '../core/queue-snapshot.js';
import type { Logger } from '../log.js';
import { costUnits, type CostModel } from './cost-model.js';
import { pendingOf, restoreScheduler, type PastCharge } from './scheduler.js';

/** What the view reads; JobStore implements it. */
export interface QueueSource {
  listQueued(): Promise<Job[]>;
  listRunning(): Promise<Job[]>;
  usageHistory(since: Date): Promise<PastCharge[]>;
  listWorkers(heartbeatSince: Date): Promise<WorkerStatus[]>;
}

export interface QueueViewOptions {
  source: QueueSource;
  events: EventBus;
  /** The speed assumed for a worker that has not measured its own yet. */
  costModel: CostModel;
  halfLifeMinutes: number;
  roleWeights: Record<Role, number>;
  /** A worker whose last heartbeat is older than this is not counted (it stopped or died). */
  workerTimeoutMs: number;
  logger: Logger;
  /** Safety-net refresh interval; default 5000 ms. */
  refreshMs?: number;
  clock?: () => Date;
}

/** Fair-share history older than this many half-lives weighs under 0.1 % and is not loaded. */
export const HISTORY_HALF_LIVES = 10;

const NO_WORKER: EngineStatus = {
  ready: false,
  model: 'none',
  demo: false,
  device: 'cpu',
  executionProvider: 'none',
  message: 'No engine is running; jobs stay queued until a worker with an engine starts.',
};

interface State {
  /** Waiting jobs in the order they will run. */
  queued: Job[];
  running: Job[];
  workers: WorkerStatus[];
}

export class QueueView {
  readonly #o: QueueViewOptions;
  readonly #clock: () => Date;
  #state: State = { queued: [], running: [], workers: [] };
  /** Live progress of running jobs, newer than the database's (which is saved at most once a second). */
  readonly #progress = new Map<string, Job['progress']>();
  readonly #lastPositions = new Map<string, number>();
  #current: Promise<QueueSnapshot | undefined> | undefined;
  #next: Promise<QueueSnapshot> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  /** Counts the events applied to the state, to recognise a read that an event overtook. */
  #changes = 0;
  /** This process's engine, when it has one: reported at once, before its heartbeat reaches the database. */
  #localEngine: (() => EngineStatus) | undefined;

  constructor(options: QueueViewOptions) {
    this.#o = options;
    this.#clock = options.clock ?? (() => new Date());
  }

  /**
   * Loads the first state, then follows the job events of the bus (this process's, and those relayed from others):
   * progress in place, a refresh after every change of the queue; and refreshes every few seconds as a safety net.
   */
  async start(localEngine?: () => EngineStatus): Promise<void> {
    this.#localEngine = localEngine;
    await this.refresh();
    this.#unsubscribe = this.#o.events.subscribe((event) => {
      if (event.type === 'progress') this.applyProgress(event.job);
      else if (event.type !== 'position' && event.type !== 'engine') {
        this.#apply(event);
        this.refresh().catch((error: unknown) => this.#o.logger.warn({ err: error }, 'could not refresh the queue view'));
      }
    });
    this.#timer = setInterval(() => {
      this.refresh().catch((error: unknown) => this.#o.logger.warn({ err: error }, 'could not refresh the queue view'));
    }, this.#o.refreshMs ?? 5_000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#unsubscribe?.();
  }

  /**
   * Reads the database again and publishes changed places. A call while a read runs gets the next read, which
   * starts when that one ends and is shared by every call that arrived meanwhile: a burst of changes costs two
   * reads, and every caller sees a state read after its call.
   */
  refresh(): Promise<QueueSnapshot> {
    if (this.#next !== undefined) return this.#next;
    if (this.#current === undefined) return this.#read();
    this.#next = this.#current.catch(() => undefined).then(() => {
      this.#next = undefined;
      return this.#read();
    });
    return this.#next;
  }

  #read(): Promise<QueueSnapshot> {
    const read = this.#load().finally(() => {
      if (this.#current === read) this.#current = undefined;
    });
    this.#current = read;
    // A read that an event overtook is dropped; the caller gets the next one, which the event has asked for.
    return read.then((snapshot) => snapshot ?? this.refresh());
  }

  /** A running job's progress, straight from its progress event. */
  applyProgress(job: Job): void {
    this.#progress.set(job.id, job.progress);
  }

  /** The sizes of snapshot()'s lists without working out ETAs (health checks, metrics). */
  counts(): QueueCounts {
    return { queued: this.#state.queued.length, running: this.#state.running.length };
  }

  get engine(): EngineStatus {
    return this.#engineStatus(this.#state.workers);
  }

  /**
   * Seconds per cost unit of the pool: the mean of the live workers' measured speeds weighted by their slots, the
   * cost model's where none has measured yet. Quota reservations and ETAs use it.
   */
  get secondsPerUnit(): number {
    let slots = 0;
    let weighted = 0;
    for (const worker of this.#state.workers) {
      if (worker.secondsPerUnit === null) continue;
      slots += worker.slots;
      weighted += worker.slots * worker.secondsPerUnit;
    }
    return slots > 0 ? weighted / slots : this.#o.costModel.secondsPerUnit;
  }

  estimateSeconds(params: Parameters<typeof costUnits>[0]): number {
    return costUnits(params) * this.secondsPerUnit;
  }

  snapshot(): QueueSnapshot {
    const now = this.#clock().getTime();
    const { workers } = this.#state;
    const engine = this.#engineStatus(workers);
    const ready = engine.ready;
    // Each slot of each ready worker, as the seconds until it is free, and the speed of its worker.
    const slots: { free: number; speed: number }[] = [];
    const byWorker = new Map(workers.map((worker) => [worker.id, worker]));
    const running: RunningJob[] = this.#state.running.map((stored) => {
      const job = this.#withProgress(stored);
      const worker = job.workerId === null ? undefined : byWorker.get(job.workerId);
      const remaining = this.#remainingSeconds(job, worker?.secondsPerUnit ?? this.secondsPerUnit, now);
      if (worker?.ready === true) slots.push({ free: remaining, speed: worker.secondsPerUnit ?? this.secondsPerUnit });
      return { job, etaSeconds: ready ? round(remaining) : null };
    });
    for (const worker of workers) {
      if (!worker.ready) continue;
      const busy = this.#state.running.filter((job) => job.workerId === worker.id).length;
      for (let i = busy; i < worker.slots; i++) slots.push({ free: 0, speed: worker.secondsPerUnit ?? this.secondsPerUnit });
    }
    const queued = this.#state.queued.map((job, index) => {
      // Each waiting job takes the slot that frees first; its ETA is when it would finish there.
      slots.sort((a, b) => a.free - b.free);
      const slot = slots[0];
      let etaSeconds: number | null = null;
      if (ready && slot !== undefined) {
        slot.free += costUnits(job.params) * slot.speed;
        etaSeconds = round(slot.free);
      }
      return { job, position: index + 1, etaSeconds };
    });
    return { running, queued, engine, workers };
  }

  /**
   * What an event says for sure, at once: a started job runs, an ended one is gone. Snapshots taken before the
   * refresh it triggers already show it; the refresh then brings the order and the rest.
   */
  #apply(event: JobEvent): void {
    this.#changes++;
    if (event.type === 'queued' || event.type === 'requeued') return;
    const { id } = event.job;
    const queued = this.#state.queued.filter((job) => job.id !== id);
    const running = this.#state.running.filter((job) => job.id !== id);
    if (event.type === 'started') running.push(event.job);
    this.#state = { ...this.#state, queued, running };
  }

  async #load(): Promise<QueueSnapshot | undefined> {
    const changesBefore = this.#changes;
    const now = this.#clock();
    const { source, halfLifeMinutes, roleWeights, workerTimeoutMs } = this.#o;
    const [queued, running, history, workers] = await Promise.all([
      source.listQueued(),
      source.listRunning(),
      source.usageHistory(new Date(now.getTime() - HISTORY_HALF_LIVES * halfLifeMinutes * 60_000)),
      source.listWorkers(new Date(now.getTime() - workerTimeoutMs)),
    ]);
    const byId = new Map(queued.map((job) => [job.id, job]));
    const roles = new Map(queued.map((job) => [job.user.id, job.user.role]));
    const scheduler = restoreScheduler(
      { halfLifeMs: halfLifeMinutes * 60_000, weightOf: (userId) => roleWeights[roles.get(userId) ?? 'user'] },
      history,
      queued.map((job) => pendingOf(job)),
    );
    // An event applied while this read ran is newer than what it read; the refresh that event asked for follows.
    if (this.#changes !== changesBefore) return undefined;
    for (const id of this.#progress.keys()) if (!running.some((job) => job.id === id)) this.#progress.delete(id);
    this.#state = { queued: scheduler.order(now.getTime()).map((entry) => byId.get(entry.id)!), running, workers };
    return this.#publishPositions();
  }

  /** Emits `position` for every waiting job whose place changed since the last refresh. */
  #publishPositions(): QueueSnapshot {
    const snapshot = this.snapshot();
    const seen = new Set<string>();
    for (const entry of snapshot.queued) {
      seen.add(entry.job.id);
      const before = this.#lastPositions.get(entry.job.id);
      this.#lastPositions.set(entry.job.id, entry.position);
      // A new job's first place goes out with its `queued` event.
      if (before !== undefined && before !== entry.position) {
        this.#o.events.emit({ type: 'position', job: entry.job, position: entry.position, etaSeconds: entry.etaSeconds });
      }
    }
    for (const id of this.#lastPositions.keys()) if (!seen.has(id)) this.#lastPositions.delete(id);
    return snapshot;
  }

  #engineStatus(workers: WorkerStatus[]): EngineStatus {
    const local = this.#localEngine?.();
    if (local?.ready === true) return local;
    const worker = workers.find((w) => w.ready) ?? workers[0];
    if (worker === undefined) return local ?? NO_WORKER;
    if (!worker.ready && local !== undefined) return local;
    return {
      ready: worker.ready,
      model: worker.model,
      demo: worker.demo,
      device: worker.device === 'cuda' ? 'cuda' : 'cpu',
      executionProvider: worker.executionProvider,
      ...(worker.message === null ? {} : { message: worker.message }),
    };
  }

  #withProgress(job: Job): Job {
    const progress = this.#progress.get(job.id);
    return progress === undefined ? job : { ...job, progress };
  }

  #remainingSeconds(job: Job, secondsPerUnit: number, now: number): number {
    if (job.progress.etaMs !== null && job.progress.step > 0) return job.progress.etaMs / 1000;
    const estimate = costUnits(job.params) * secondsPerUnit;
    return Math.max(0, estimate - (now - (job.startedAt ?? new Date(now)).getTime()) / 1000);
  }
}

function round(seconds: number): number {
  return Math.round(seconds * 10) / 10;
}
