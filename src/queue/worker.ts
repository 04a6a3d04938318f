// Runs queued jobs on the renderer: p-queue (concurrency = engine slots) fed by the fair-share scheduler, one
// store transition per state change, progress and lifecycle events, and positions/ETAs for waiting jobs.
// While the engine is missing or not ready the queue is paused: jobs wait, nothing fails.
import { mkdir, rm, stat } from 'node:fs/promises';
import { join, relative, isAbsolute } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import PQueue from 'p-queue';
import { ErrorCode, VideoBotError } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import type { Actor, Job, JobOutput, Role } from '../core/jobs.js';
import { videoBotError } from '../core/messages.js';
import type { EngineStatus, RenderOutput, Renderer } from '../core/ports.js';
import type { QueueCounts, QueueSnapshot } from '../core/queue-snapshot.js';
import type { Logger } from '../log.js';
import type { CostModel } from './cost-model.js';
import { fairShareQueueClass, type FairShareAddOptions, type FairShareEntry, type FairShareQueue } from './fair-share-queue.js';
import type { JobStore, UsageCharge } from './job-store.js';
import { saveRenderResult, type RenderResult } from './render-result.js';
import { FairShareScheduler } from './scheduler.js';

export interface WorkerOptions {
  store: JobStore;
  renderer: Renderer | undefined;
  events: EventBus;
  costModel: CostModel;
  logger: Logger;
  outputsDir: string;
  slots: number;
  halfLifeMinutes: number;
  roleWeights: Record<Role, number>;
  /** How often the renderer's readiness is polled (Renderer has no ready event). Default 2000 ms. */
  enginePollMs?: number;
  /** Minimum interval between progress writes to the database. Default 1000 ms. */
  progressSaveMs?: number;
  clock?: () => Date;
}

/** Why a running render was aborted. */
type AbortReason = { kind: 'cancel'; actor: Actor } | { kind: 'shutdown' };

interface ActiveJob {
  job: Job;
  controller: AbortController;
  startedAt: Date;
  /** Resolves when the render and its final transition are done. */
  finished: Promise<void>;
}

/** Pause before retrying a job whose start could not be recorded. */
const RETRY_START_MS = 5_000;
/** How long shutdown waits for aborted renders to stop. */
const ABORT_GRACE_MS = 30_000;
/** Pauses between attempts to record a job's end while the database is unavailable: doubling from the first. */
const RECORD_RETRY_FIRST_MS = 250;
const RECORD_RETRY_MAX_MS = 5_000;

const NO_ENGINE: EngineStatus = {
  ready: false,
  model: 'none',
  demo: false,
  device: 'cpu',
  executionProvider: 'none',
  message: 'No engine is installed; jobs stay queued until one is available.',
};

export class Worker {
  readonly #options: WorkerOptions;
  readonly #scheduler: FairShareScheduler<FairShareEntry>;
  readonly #queue: PQueue<FairShareQueue, FairShareAddOptions>;
  readonly #queued = new Map<string, Job>();
  readonly #running = new Map<string, ActiveJob>();
  readonly #userWeights = new Map<string, number>();
  readonly #lastPositions = new Map<string, number>();
  readonly #clock: () => Date;
  #engine: EngineStatus;
  #poll: NodeJS.Timeout | undefined;
  #draining = false;
  /** Aborted when shutdown stops waiting for running jobs: retries to record a job's end stop. */
  readonly #shutdown = new AbortController();

  constructor(options: WorkerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? (() => new Date());
    this.#scheduler = new FairShareScheduler<FairShareEntry>({
      halfLifeMs: options.halfLifeMinutes * 60_000,
      weightOf: (userId) => this.#userWeights.get(userId) ?? 1,
    });
    this.#queue = new PQueue<FairShareQueue, FairShareAddOptions>({
      concurrency: options.slots,
      autoStart: false,
      queueClass: fairShareQueueClass(this.#scheduler, () => this.#clock().getTime()),
    });
    this.#engine = this.#readEngineStatus();
  }

  /** Restores fair-share usage from history, queues the waiting jobs and starts dispatching when the engine is ready. */
  start(history: UsageCharge[], queued: Job[]): void {
    for (const charge of history) {
      this.#scheduler.charge(charge.userId, charge.seconds, charge.startedAt.getTime());
      this.#scheduler.markServed(charge.userId, charge.startedAt.getTime());
    }
    for (const job of queued) this.#add(job);
    this.#applyEngineStatus(this.#readEngineStatus(), true);
    this.#poll = setInterval(() => this.#applyEngineStatus(this.#readEngineStatus(), false), this.#options.enginePollMs ?? 2000);
    this.#poll.unref();
    this.#publishPositions();
  }

  get engineStatus(): EngineStatus {
    return this.#engine;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Returns the snapshot made to publish positions, so the caller can read the job's place without ordering again. */
  enqueue(job: Job): QueueSnapshot {
    this.#add(job);
    return this.#publishPositions();
  }

  /** A role change takes effect for the next pick. */
  setUserRole(userId: string, role: Role): void {
    this.#userWeights.set(userId, this.#options.roleWeights[role]);
  }

  /**
   * Moves a waiting job to the front of the queue. Returns the snapshot made to publish positions (as enqueue does),
   * or undefined when the job is not waiting here.
   */
  promote(jobId: string, at: Date): QueueSnapshot | undefined {
    if (!this.#scheduler.promote(jobId, at.getTime())) return undefined;
    const job = this.#queued.get(jobId);
    if (job !== undefined) this.#queued.set(jobId, { ...job, promotedAt: at });
    return this.#publishPositions();
  }

  /**
   * Cancels a waiting job at once, or aborts a running one at its next denoising step and waits up to `waitMs`
   * for it to stop. Returns the job as stored afterwards, or null when this worker does not have it.
   */
  async cancel(jobId: string, actor: Actor, waitMs: number): Promise<Job | null> {
    if (this.#scheduler.remove(jobId) !== undefined) {
      this.#queued.delete(jobId);
      const job = await this.#options.store.markCancelled(jobId, 'queued', null, this.#clock());
      if (job !== null) this.#options.events.emit({ type: 'cancelled', job, actor });
      this.#publishPositions();
      return job ?? (await this.#options.store.get(jobId));
    }
    const active = this.#running.get(jobId);
    if (active === undefined) return null;
    active.controller.abort({ kind: 'cancel', actor } satisfies AbortReason);
    await Promise.race([active.finished, delay(waitMs)]);
    return this.#options.store.get(jobId);
  }

  /** The sizes of snapshot()'s lists without working out the order and ETAs (for health checks and metrics). */
  counts(): QueueCounts {
    return { queued: this.#scheduler.size, running: this.#running.size };
  }

  snapshot(): QueueSnapshot {
    const now = this.#clock().getTime();
    const ready = this.#engine.ready;
    const slotFree = [...this.#running.values()].map((active) => this.#remainingSeconds(active, now));
    const running = [...this.#running.values()].map((active, i) => ({
      job: active.job,
      etaSeconds: ready ? round(slotFree[i]!) : null,
    }));
    while (slotFree.length < this.#options.slots) slotFree.push(0);
    slotFree.sort((a, b) => a - b);
    const queued = this.#scheduler.order(now).map((entry, index) => {
      const job = this.#queued.get(entry.id)!;
      // Each waiting job takes the slot that frees first; its ETA is when it would finish there.
      const start = slotFree.shift() ?? 0;
      const end = start + this.#options.costModel.estimateSeconds(job.params);
      slotFree.push(end);
      slotFree.sort((a, b) => a - b);
      return { job, position: index + 1, etaSeconds: ready ? round(end) : null };
    });
    return { running, queued, engine: this.#engine, workers: [] };
  }

  /**
   * Stops dispatching and lets running renders finish for up to `timeoutMs`; renders still going then are aborted
   * and put back in the queue (without counting the attempt), to run again after the restart.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#draining = true;
    this.#queue.pause();
    if (this.#poll !== undefined) clearInterval(this.#poll);
    const all = () => Promise.all([...this.#running.values()].map((a) => a.finished));
    await Promise.race([all(), delay(timeoutMs)]);
    this.#shutdown.abort();
    for (const active of this.#running.values()) active.controller.abort({ kind: 'shutdown' } satisfies AbortReason);
    // A renderer that ignores the abort must not block shutdown; its job stays `running` and is recovered at start.
    await Promise.race([all(), delay(ABORT_GRACE_MS)]);
  }

  #add(job: Job): void {
    this.#queued.set(job.id, job);
    this.#userWeights.set(job.user.id, this.#options.roleWeights[job.user.role]);
    const pending = {
      id: job.id,
      userId: job.user.id,
      seq: job.seq,
      cost: job.estimatedSeconds,
      promotedAt: job.promotedAt?.getTime() ?? null,
    };
    // The promise settles when the task ran; a task removed by cancel never settles, which is fine: nothing awaits it.
    this.#queue.add(() => this.#run(job.id), { id: job.id, job: pending }).catch((error: unknown) => {
      this.#options.logger.error({ err: error, jobId: job.id }, 'queue task failed');
    });
  }

  async #run(jobId: string): Promise<void> {
    const { store, renderer, events, logger } = this.#options;
    const queuedJob = this.#queued.get(jobId)!;
    this.#queued.delete(jobId);
    const startedAt = this.#clock();
    const controller = new AbortController();
    let finish!: () => void;
    const active: ActiveJob = { job: queuedJob, controller, startedAt, finished: new Promise((r) => (finish = r)) };
    this.#running.set(jobId, active);
    let started: Job | null = null;
    try {
      started = await store.markRunning(jobId, startedAt);
      if (started === null) {
        // Cancelled between the pick and the start: undo the charge the pick made.
        this.#scheduler.charge(queuedJob.user.id, -queuedJob.estimatedSeconds, startedAt.getTime());
        return;
      }
      active.job = started;
      events.emit({ type: 'started', job: started });
      this.#publishPositions();
      // The queue only runs while the engine reports ready, which needs a renderer; this narrows the type.
      if (renderer === undefined) throw new Error('the engine is not available');
      controller.signal.throwIfAborted();
      const outputDir = join(this.#options.outputsDir, jobId);
      // A previous, interrupted attempt may have left partial files.
      await rm(outputDir, { recursive: true, force: true });
      await mkdir(outputDir, { recursive: true });
      let lastSave = 0;
      const output = await renderer.render(started.params, {
        outputDir,
        signal: controller.signal,
        onProgress: (progress) => {
          active.job = { ...active.job, progress: { step: progress.step, totalSteps: progress.totalSteps, etaMs: progress.etaMs } };
          events.emit({ type: 'progress', job: active.job, step: progress.step, totalSteps: progress.totalSteps, etaMs: progress.etaMs });
          const now = Date.now();
          if (now - lastSave >= (this.#options.progressSaveMs ?? 1000) || progress.step === progress.totalSteps) {
            lastSave = now;
            store.saveProgress(jobId, progress.step, progress.totalSteps, progress.etaMs).catch((error: unknown) => {
              logger.warn({ err: error, jobId }, 'could not save progress');
            });
          }
        },
      });
      logger.info({ jobId }, 'render finished');
      const checked = await checkOutput(output, outputDir);
      const gpuSeconds = output.gpuSeconds > 0 ? output.gpuSeconds : this.#elapsedSeconds(startedAt);
      await this.#settleSuccess(started, startedAt, { output: checked, gpuSeconds, finishedAt: this.#clock() });
    } catch (error) {
      if (started !== null) await this.#settleFailure(started, startedAt, controller.signal, error);
      else this.#retryLater(queuedJob, startedAt, error);
    } finally {
      this.#running.delete(jobId);
      finish();
      this.#publishPositions();
    }
  }

  /**
   * The job could not be marked running (the database failed): it is still `queued` in the database, so put it
   * back in the queue after a pause instead of losing it until the next restart.
   */
  #retryLater(job: Job, pickedAt: Date, error: unknown): void {
    this.#scheduler.charge(job.user.id, -job.estimatedSeconds, pickedAt.getTime());
    this.#options.logger.error({ err: error, jobId: job.id }, `could not start a job; retrying in ${RETRY_START_MS / 1000} s`);
    setTimeout(() => {
      if (!this.#draining && !this.#scheduler.has(job.id) && !this.#running.has(job.id)) this.enqueue(job);
    }, RETRY_START_MS).unref();
  }

  /**
   * Records a finished render. Its result is kept beside its files first, so that recovery at the next start records
   * it if this process stops before the database has (render-result.ts). Never throws: a recording problem must not
   * turn a finished render into a failed one, which would delete its files.
   */
  async #settleSuccess(job: Job, startedAt: Date, result: RenderResult): Promise<void> {
    const { store, events, logger } = this.#options;
    this.#options.costModel.observe(job.params, result.gpuSeconds);
    this.#scheduler.charge(job.user.id, result.gpuSeconds - job.estimatedSeconds, startedAt.getTime());
    await saveRenderResult(this.#options.outputsDir, job.id, result).catch((error: unknown) => {
      logger.warn({ err: error, jobId: job.id }, 'could not keep the render result beside its files');
    });
    try {
      const done = await this.#recordEnd(job.id, () => store.markSucceeded(job.id, result.output, result.gpuSeconds, result.finishedAt));
      if (done === null) return;
      events.emit({ type: 'succeeded', job: done });
      logger.info({ jobId: job.id, gpuSeconds: round(result.gpuSeconds), bytes: result.output.bytes }, 'job succeeded');
    } catch (error) {
      logger.error({ err: error, jobId: job.id }, 'could not record the end of a job; recovery at the next start records it');
    }
  }

  /**
   * Runs `write`, which records a job's end, again with growing pauses while the database is unavailable (a restart,
   * a lock), so that a job that ended meanwhile is recorded once, when the database is back. Returns null (as a write
   * does when the job was no longer running) when shutdown stops the retries: the job stays `running` for recovery.
   */
  async #recordEnd(jobId: string, write: () => Promise<Job | null>): Promise<Job | null> {
    for (let pauseMs = RECORD_RETRY_FIRST_MS; ; pauseMs = Math.min(pauseMs * 2, RECORD_RETRY_MAX_MS)) {
      try {
        return await write();
      } catch (error) {
        if (!(error instanceof VideoBotError && error.is(ErrorCode.Unavailable))) throw error;
        if (this.#shutdown.signal.aborted) {
          this.#options.logger.warn({ jobId }, 'stopping while the database is unavailable; the job stays running and recovery at the next start settles it');
          return null;
        }
        this.#options.logger.warn({ jobId, retryInMs: pauseMs }, 'the database is unavailable; retrying to record the end of a job');
        await sleep(pauseMs, undefined, { signal: this.#shutdown.signal }).catch(() => undefined);
      }
    }
  }

  async #settleFailure(job: Job, startedAt: Date, signal: AbortSignal, error: unknown): Promise<void> {
    const { store, events, logger } = this.#options;
    const elapsed = this.#elapsedSeconds(startedAt);
    this.#scheduler.charge(job.user.id, elapsed - job.estimatedSeconds, startedAt.getTime());
    // Partial files of a stopped render are useless; a retry starts from an empty folder anyway.
    await rm(join(this.#options.outputsDir, job.id), { recursive: true, force: true }).catch(() => undefined);
    const reason = signal.aborted ? (signal.reason as AbortReason) : undefined;
    try {
      if (reason?.kind === 'cancel') {
        const done = await this.#recordEnd(job.id, () => store.markCancelled(job.id, 'running', elapsed, this.#clock()));
        if (done !== null) events.emit({ type: 'cancelled', job: done, actor: reason.actor });
        logger.info({ jobId: job.id }, 'running job cancelled');
      } else if (reason?.kind === 'shutdown') {
        const done = await this.#recordEnd(job.id, () => store.requeue(job.id));
        if (done !== null) events.emit({ type: 'requeued', job: done, reason: 'shutdown' });
        logger.info({ jobId: job.id }, 'running job put back in the queue for the restart');
      } else {
        // A renderer's VideoBotError already speaks to the requester; anything else is told as it is.
        const message = error instanceof Error ? error.message : String(error);
        const failure = error instanceof VideoBotError ? error : videoBotError(ErrorCode.EngineFailed, { reason: message }, { cause: error });
        const done = await this.#recordEnd(job.id, () =>
          store.markFailed(job.id, { code: failure.code, message: failure.message }, elapsed, this.#clock()),
        );
        if (done !== null) events.emit({ type: 'failed', job: done, error: { code: failure.code, message: failure.message } });
        // The cause is what the operator must fix (which binary, which folder); the message is the requester's.
        logger.error({ err: failure.cause ?? failure, jobId: job.id }, 'job failed');
      }
    } catch (storeError) {
      // The job stays `running` in the database; recovery at the next start requeues or fails it.
      logger.error({ err: storeError, jobId: job.id }, 'could not record the end of a job');
    }
  }

  #readEngineStatus(): EngineStatus {
    const renderer = this.#options.renderer;
    if (renderer === undefined) return NO_ENGINE;
    try {
      return renderer.status();
    } catch (error) {
      return { ...NO_ENGINE, model: 'unknown', message: `The engine's status failed: ${String(error)}` };
    }
  }

  #applyEngineStatus(status: EngineStatus, initial: boolean): void {
    const changed = initial || status.ready !== this.#engine.ready || status.message !== this.#engine.message;
    this.#engine = status;
    if (!changed) return;
    if (status.ready && !this.#draining) this.#queue.start();
    else this.#queue.pause();
    this.#options.events.emit({ type: 'engine', status });
    const log = { engine: { ready: status.ready, model: status.model, device: status.device, message: status.message } };
    if (status.ready) this.#options.logger.info(log, 'engine ready');
    else this.#options.logger.warn(log, 'engine unavailable; jobs stay queued');
    this.#publishPositions();
  }

  #remainingSeconds(active: ActiveJob, now: number): number {
    if (active.job.progress.etaMs !== null && active.job.progress.step > 0) return active.job.progress.etaMs / 1000;
    const estimate = this.#options.costModel.estimateSeconds(active.job.params);
    return Math.max(0, estimate - (now - active.startedAt.getTime()) / 1000);
  }

  #elapsedSeconds(since: Date): number {
    return Math.max(0, (this.#clock().getTime() - since.getTime()) / 1000);
  }

  /** Emits `position` for every waiting job whose place in line changed; returns the snapshot it compared. */
  #publishPositions(): QueueSnapshot {
    const snapshot = this.snapshot();
    const { queued } = snapshot;
    const seen = new Set<string>();
    for (const entry of queued) {
      seen.add(entry.job.id);
      if (this.#lastPositions.get(entry.job.id) === entry.position) continue;
      const isNew = !this.#lastPositions.has(entry.job.id);
      this.#lastPositions.set(entry.job.id, entry.position);
      // A new job's first position goes out with its `queued` event (sent by the service).
      if (!isNew) {
        this.#options.events.emit({ type: 'position', job: entry.job, position: entry.position, etaSeconds: entry.etaSeconds });
      }
    }
    for (const id of this.#lastPositions.keys()) if (!seen.has(id)) this.#lastPositions.delete(id);
    return snapshot;
  }
}

async function checkOutput(output: RenderOutput, outputDir: string): Promise<JobOutput> {
  const inside = (path: string) => {
    const rel = relative(outputDir, path);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  };
  if (!inside(output.mediaPath)) throw new Error(`the renderer wrote its media outside the job folder (${output.mediaPath})`);
  const media = await stat(output.mediaPath);
  const poster = inside(output.posterPath) ? await stat(output.posterPath).then(() => output.posterPath, () => null) : null;
  return { mediaPath: output.mediaPath, mediaType: output.mediaType, bytes: media.size, posterPath: poster };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function round(seconds: number): number {
  return Math.round(seconds * 10) / 10;
}
