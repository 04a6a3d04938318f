// Renders jobs on this process's engine. Each free slot claims the next job from the shared queue: the fair-share
// pick, made in the database under the claim lock (JobStore.claimNext), so the order is the single queue's whichever
// worker asks. The worker holds a job with a lease that it renews while rendering, and records the job's end only
// while the lease still holds: a worker that hung or lost the database past its lease stops that render and can no
// longer post or charge it, because another worker has taken it over. p-queue runs the claims and renders in the
// engine's slots (concurrency = ENGINE_SLOTS) and stops taking new ones while the engine is not ready or the process
// drains; jobs then simply wait in the database. A submit wakes the worker (this process's directly, other
// processes' through a notification); a poll every few seconds catches what a lost notification would miss.
import { mkdir, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import PQueue from 'p-queue';
import { ErrorCode, VideoBotError } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import type { Actor, Job, JobOutput, Role } from '../core/jobs.js';
import { videoBotError } from '../core/messages.js';
import type { EngineStatus, RenderOutput, Renderer } from '../core/ports.js';
import type { Logger } from '../log.js';
import type { CostModel } from './cost-model.js';
import type { JobStore, Lease } from './job-store.js';
import type { MediaStore } from './media-store.js';
import { HISTORY_HALF_LIVES } from './queue-view.js';
import { saveRenderResult, type RenderResult } from './render-result.js';
import type { WorkerIdentity, WorkerRegistry, WorkerReport } from './worker-registry.js';

export interface WorkerOptions {
  store: JobStore;
  registry: WorkerRegistry;
  renderer: Renderer | undefined;
  events: EventBus;
  costModel: CostModel;
  logger: Logger;
  outputsDir: string;
  identity: WorkerIdentity;
  halfLifeMinutes: number;
  roleWeights: Record<Role, number>;
  /** How long a claim holds without a renewal; renewed every third of it. */
  leaseMs: number;
  /** Where a finished job's files go with its success, for fronts on other hosts (MEDIA_STORE). */
  mediaStore: MediaStore;
  /** False: the local copy is removed once the success recorded the files (a worker with no front to serve them). */
  keepLocalFiles: boolean;
  /**
   * Called when this worker's model differs from the live workers' (a pool renders with one model); the worker then
   * takes no jobs. Default: logged.
   */
  onModelMismatch?: (message: string) => void;
  /** How often the renderer's readiness is polled (Renderer has no ready event). Default 2000 ms. */
  enginePollMs?: number;
  /** How often the worker looks for work without being woken. Default 2000 ms. */
  claimPollMs?: number;
  /** Minimum interval between progress writes to the database. Default 1000 ms. */
  progressSaveMs?: number;
  clock?: () => Date;
}

/** Why a running render was aborted. */
type AbortReason = { kind: 'cancel'; actor: Actor } | { kind: 'shutdown' } | { kind: 'lease-lost' };

interface ActiveJob {
  job: Job;
  lease: Lease;
  controller: AbortController;
  /** Resolves when the render and its final transition are done. */
  finished: Promise<void>;
}

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
  readonly #o: WorkerOptions;
  readonly #queue: PQueue;
  readonly #running = new Map<string, ActiveJob>();
  readonly #clock: () => Date;
  readonly #timers: NodeJS.Timeout[] = [];
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #engine: EngineStatus;
  #draining = false;
  /** Set when the model differs from the pool's: the worker then takes no jobs. */
  #refusal: string | undefined;
  /** The model fingerprint last compared with the pool's. */
  #checkedFingerprint: string | undefined;
  /** Aborted when shutdown stops waiting for running jobs: retries to record a job's end stop. */
  readonly #shutdown = new AbortController();

  constructor(options: WorkerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? (() => new Date());
    this.#queue = new PQueue({ concurrency: options.identity.slots, autoStart: false });
    this.#engine = this.#readEngineStatus();
  }

  get id(): string {
    return this.#o.identity.id;
  }

  get engineStatus(): EngineStatus {
    return this.#refusal === undefined ? this.#engine : { ...this.#engine, ready: false, message: this.#refusal };
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Writes this worker's row, then takes jobs whenever the engine is ready and a slot is free. */
  async start(): Promise<void> {
    await this.#o.registry.register(this.#o.identity, this.#report(), this.#clock());
    this.#applyEngineStatus(this.#readEngineStatus(), true);
    this.#every(this.#o.enginePollMs ?? 2_000, () => this.#applyEngineStatus(this.#readEngineStatus(), false));
    this.#every(this.#o.claimPollMs ?? 2_000, () => this.wake());
    this.#heartbeatTimer = setInterval(() => void this.#heartbeat(), Math.max(50, Math.floor(this.#o.leaseMs / 3)));
    this.#heartbeatTimer.unref();
  }

  /** There may be work: fills the free slots with claims. */
  wake(): void {
    if (!this.#engine.ready || this.#draining || this.#refusal !== undefined) return;
    while (this.#queue.size + this.#queue.pending < this.#o.identity.slots) {
      this.#queue.add(() => this.#claimAndRender()).then(
        // A slot that rendered a job is free again once its task has ended: there may be more work.
        (rendered) => {
          if (rendered === true) this.wake();
        },
        (error: unknown) => this.#o.logger.error({ err: error }, 'a worker slot failed'),
      );
    }
  }

  /** Jobs this worker renders now. */
  runningJobs(): Job[] {
    return [...this.#running.values()].map((active) => active.job);
  }

  /** Stops a job this worker renders at its next denoising step; false when it does not render it. */
  cancelLocal(jobId: string, actor: Actor): boolean {
    const active = this.#running.get(jobId);
    if (active === undefined) return false;
    active.controller.abort({ kind: 'cancel', actor } satisfies AbortReason);
    return true;
  }

  /**
   * Stops taking jobs and lets running renders finish for up to `timeoutMs`; renders still going then are aborted
   * and put back in the queue (without counting the attempt), to run again on any worker.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#draining = true;
    this.#queue.pause();
    this.#queue.clear();
    for (const timer of this.#timers) clearInterval(timer);
    const all = () => Promise.all([...this.#running.values()].map((a) => a.finished));
    await Promise.race([all(), sleep(timeoutMs, undefined, { ref: false })]);
    this.#shutdown.abort();
    for (const active of this.#running.values()) active.controller.abort({ kind: 'shutdown' } satisfies AbortReason);
    // A renderer that ignores the abort must not block shutdown; its lease then runs out and another worker (or the
    // next start) takes the job back.
    await Promise.race([all(), sleep(ABORT_GRACE_MS, undefined, { ref: false })]);
    clearInterval(this.#heartbeatTimer);
    await this.#o.registry.stopped(this.id, this.#clock()).catch((error: unknown) => this.#o.logger.warn({ err: error }, 'could not mark the worker stopped'));
  }

  /** Claims the next job and renders it; false when there was none to take. */
  async #claimAndRender(): Promise<boolean> {
    const { store, halfLifeMinutes, roleWeights, leaseMs, logger } = this.#o;
    if (!this.#engine.ready || this.#draining || this.#refusal !== undefined) return false;
    const now = this.#clock();
    let job: Job | null;
    try {
      job = await store.claimNext({
        workerId: this.id,
        leaseMs,
        halfLifeMs: halfLifeMinutes * 60_000,
        roleWeights,
        historySince: new Date(now.getTime() - HISTORY_HALF_LIVES * halfLifeMinutes * 60_000),
        clock: this.#clock,
      });
    } catch (error) {
      // The jobs stay queued in the database; the next poll tries again.
      logger.warn({ err: error }, 'could not claim a job; trying again at the next poll');
      return false;
    }
    if (job === null) return false;
    await this.#render(job);
    return true;
  }

  async #render(claimed: Job): Promise<void> {
    const { renderer, events, logger } = this.#o;
    const earlier = this.#running.get(claimed.id);
    if (earlier !== undefined) {
      // This process lost the job's lease (it was stopped or cut off) and got the job again: the old render must end
      // before the new one uses the job's folder.
      earlier.controller.abort({ kind: 'lease-lost' } satisfies AbortReason);
      await earlier.finished;
    }
    const lease: Lease = { workerId: this.id, attempt: claimed.attempts };
    const controller = new AbortController();
    let finish!: () => void;
    const active: ActiveJob = { job: claimed, lease, controller, finished: new Promise((resolve) => (finish = resolve)) };
    this.#running.set(claimed.id, active);
    const startedAt = claimed.startedAt ?? this.#clock();
    events.emit({ type: 'started', job: claimed });
    // A cancel that came between the claim and now found no render here to stop; it is stored on the job.
    await this.#renew(active, new Date(this.#clock().getTime() + this.#o.leaseMs));
    try {
      // Claims only happen while the engine reports ready, which needs a renderer; this narrows the type.
      if (renderer === undefined) throw new Error('the engine is not available');
      controller.signal.throwIfAborted();
      const outputDir = join(this.#o.outputsDir, claimed.id);
      // A previous, interrupted attempt may have left partial files.
      await rm(outputDir, { recursive: true, force: true });
      await mkdir(outputDir, { recursive: true });
      let lastSave = 0;
      const output = await renderer.render(claimed.params, {
        outputDir,
        signal: controller.signal,
        onProgress: (progress) => {
          active.job = { ...active.job, progress: { step: progress.step, totalSteps: progress.totalSteps, etaMs: progress.etaMs } };
          events.emit({ type: 'progress', job: active.job, step: progress.step, totalSteps: progress.totalSteps, etaMs: progress.etaMs });
          const now = Date.now();
          if (now - lastSave >= (this.#o.progressSaveMs ?? 1000) || progress.step === progress.totalSteps) {
            lastSave = now;
            this.#o.store.saveProgress(claimed.id, progress.step, progress.totalSteps, progress.etaMs).catch((error: unknown) => {
              logger.warn({ err: error, jobId: claimed.id }, 'could not save progress');
            });
          }
        },
      });
      logger.info({ jobId: claimed.id, attempt: lease.attempt }, 'render finished');
      const checked = await checkOutput(output, outputDir);
      const gpuSeconds = output.gpuSeconds > 0 ? output.gpuSeconds : this.#elapsedSeconds(startedAt);
      await this.#settleSuccess(active, { output: checked, gpuSeconds, finishedAt: this.#clock() });
    } catch (error) {
      await this.#settleFailure(active, startedAt, error);
    } finally {
      if (this.#running.get(claimed.id) === active) this.#running.delete(claimed.id);
      finish();
    }
  }

  /**
   * Records a finished render. Its result is kept beside its files first, so that recovery at the next start records
   * it if this process stops before the database has (render-result.ts). Never throws: a recording problem must not
   * turn a finished render into a failed one, which would delete its files.
   */
  async #settleSuccess(active: ActiveJob, result: RenderResult): Promise<void> {
    const { store, events, logger } = this.#o;
    const { job, lease } = active;
    this.#o.costModel.observe(job.params, result.gpuSeconds);
    await saveRenderResult(this.#o.outputsDir, job.id, result).catch((error: unknown) => {
      logger.warn({ err: error, jobId: job.id }, 'could not keep the render result beside its files');
    });
    try {
      const files = await this.#recordEnd(job.id, () => this.#o.mediaStore.keep(job.id, result.output));
      const done = files === null ? null : await this.#recordEnd(job.id, () => store.markSucceeded(job.id, result.output, result.gpuSeconds, result.finishedAt, lease, files));
      if (done === null) {
        if (!this.#shutdown.signal.aborted) logger.warn({ jobId: job.id }, 'the job was taken over by another worker (this one lost its lease); its render is dropped');
        return;
      }
      if (this.#o.mediaStore.recordsFiles && !this.#o.keepLocalFiles) {
        await rm(join(this.#o.outputsDir, job.id), { recursive: true, force: true }).catch(() => undefined);
      }
      events.emit({ type: 'succeeded', job: done });
      logger.info({ jobId: job.id, gpuSeconds: round(result.gpuSeconds), bytes: result.output.bytes }, 'job succeeded');
    } catch (error) {
      logger.error({ err: error, jobId: job.id }, 'could not record the end of a job; recovery at the next start records it');
    }
  }

  /**
   * Runs `write`, a step of recording a job's end, again with growing pauses while the database or the bucket is
   * unavailable (a restart, a lock, a network cut), so that a job that ended meanwhile is recorded once, when it is
   * back. Returns null (as a write does when the job was no longer this worker's) when shutdown stops the retries:
   * the job stays `running`, and recovery at the next start, or another worker once the lease has run out, settles it.
   */
  async #recordEnd<T>(jobId: string, write: () => Promise<T | null>): Promise<T | null> {
    for (let pauseMs = RECORD_RETRY_FIRST_MS; ; pauseMs = Math.min(pauseMs * 2, RECORD_RETRY_MAX_MS)) {
      try {
        return await write();
      } catch (error) {
        if (!(error instanceof VideoBotError && error.is(ErrorCode.Unavailable))) throw error;
        const reason = error.cause instanceof Error ? error.cause.message : error.message;
        if (this.#shutdown.signal.aborted) {
          this.#o.logger.warn({ jobId, reason }, 'stopping while the end of a job cannot be recorded; the job stays running and recovery at the next start settles it');
          return null;
        }
        this.#o.logger.warn({ jobId, retryInMs: pauseMs, reason }, 'retrying to record the end of a job');
        await sleep(pauseMs, undefined, { signal: this.#shutdown.signal }).catch(() => undefined);
      }
    }
  }

  async #settleFailure(active: ActiveJob, startedAt: Date, error: unknown): Promise<void> {
    const { store, events, logger } = this.#o;
    const { job, lease, controller } = active;
    const reason = controller.signal.aborted ? (controller.signal.reason as AbortReason) : undefined;
    if (reason?.kind === 'lease-lost') {
      // Another worker owns the job now (or will): its files and its end are that worker's to write.
      logger.warn({ jobId: job.id }, 'stopped a render whose lease ran out: another worker takes the job over');
      return;
    }
    const elapsed = this.#elapsedSeconds(startedAt);
    // Partial files of a stopped render are useless; a retry starts from an empty folder anyway.
    await rm(join(this.#o.outputsDir, job.id), { recursive: true, force: true }).catch(() => undefined);
    try {
      if (reason?.kind === 'cancel') {
        const done = await this.#recordEnd(job.id, () => store.markCancelled(job.id, 'running', elapsed, this.#clock(), lease));
        if (done !== null) events.emit({ type: 'cancelled', job: done, actor: reason.actor });
        logger.info({ jobId: job.id }, 'running job cancelled');
      } else if (reason?.kind === 'shutdown') {
        const done = await this.#recordEnd(job.id, () => store.requeue(job.id, lease));
        if (done !== null) events.emit({ type: 'requeued', job: done, reason: 'shutdown' });
        logger.info({ jobId: job.id }, 'running job put back in the queue for the restart');
      } else {
        // A renderer's VideoBotError already speaks to the requester; anything else is told as it is.
        const message = error instanceof Error ? error.message : String(error);
        const failure = error instanceof VideoBotError ? error : videoBotError(ErrorCode.EngineFailed, { reason: message }, { cause: error });
        const done = await this.#recordEnd(job.id, () =>
          store.markFailed(job.id, { code: failure.code, message: failure.message }, elapsed, this.#clock(), lease),
        );
        if (done !== null) events.emit({ type: 'failed', job: done, error: { code: failure.code, message: failure.message } });
        // The cause is what the operator must fix (which binary, which folder); the message is the requester's.
        logger.error({ err: failure.cause ?? failure, jobId: job.id }, 'job failed');
      }
    } catch (storeError) {
      // The job stays `running` in the database; its lease runs out and it is taken back like a crashed worker's.
      logger.error({ err: storeError, jobId: job.id }, 'could not record the end of a job');
    }
  }

  /**
   * Renews the leases of the jobs rendering here (stopping those it lost, and those someone asked to cancel from
   * another process), and reports this worker's state to its row. A database outage is ridden out: the renders go
   * on, and if a lease runs out meanwhile its job belongs to another worker, which the next renewal notices.
   */
  async #heartbeat(): Promise<void> {
    const now = this.#clock();
    const until = new Date(now.getTime() + this.#o.leaseMs);
    for (const active of [...this.#running.values()]) await this.#renew(active, until);
    await this.#o.registry.heartbeat(this.id, this.#report(), now).catch((error: unknown) => {
      this.#o.logger.warn({ err: error }, "could not update this worker's row");
    });
  }

  /** Renews one job's lease: stops the render when the lease is lost, or when someone asked to cancel the job. */
  async #renew(active: ActiveJob, until: Date): Promise<void> {
    if (active.controller.signal.aborted) return;
    try {
      const renewal = await this.#o.store.renewLease(active.job.id, active.lease, until);
      if (!renewal.held) active.controller.abort({ kind: 'lease-lost' } satisfies AbortReason);
      else if (renewal.cancelRequestedBy !== null) active.controller.abort({ kind: 'cancel', actor: parseActor(renewal.cancelRequestedBy) } satisfies AbortReason);
    } catch (error) {
      this.#o.logger.warn({ err: error, jobId: active.job.id }, 'could not renew the lease of a job');
    }
  }

  #report(): WorkerReport {
    return {
      engine: this.engineStatus,
      modelFingerprint: this.#engine.fingerprint ?? null,
      secondsPerUnit: this.#o.costModel.measured ? this.#o.costModel.secondsPerUnit : null,
      runningJobIds: [...this.#running.keys()],
    };
  }

  #readEngineStatus(): EngineStatus {
    const renderer = this.#o.renderer;
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
    if (status.fingerprint !== undefined && status.fingerprint !== this.#checkedFingerprint) {
      this.#checkedFingerprint = status.fingerprint;
      void this.#checkModel(status);
    }
    if (!changed) return;
    if (status.ready && !this.#draining) this.#queue.start();
    else this.#queue.pause();
    this.#o.events.emit({ type: 'engine', status: this.engineStatus });
    const log = { engine: { ready: status.ready, model: status.model, device: status.device, message: status.message } };
    if (status.ready) this.#o.logger.info(log, 'engine ready');
    else this.#o.logger.warn(log, 'engine unavailable; jobs stay queued');
    void this.#heartbeat();
    this.wake();
  }

  /** A pool renders with one model: a worker whose model differs from the live workers' takes no jobs. */
  async #checkModel(status: EngineStatus): Promise<void> {
    const since = new Date(this.#clock().getTime() - this.#o.leaseMs);
    const others = await this.#o.registry.liveFingerprints(since, this.id).catch(() => []);
    const other = others.find((w) => w.fingerprint !== status.fingerprint);
    if (other === undefined) return;
    this.#refusal =
      `This worker loads the model ${status.model}, but worker ${other.name} of the same pool renders with ${other.model}, ` +
      'a different model (its configs differ). Every worker of a pool must load the same model: set MODEL_DIR to that ' +
      'model here (for example `./t2v model pull` the same repository), or stop the other workers first.';
    this.#queue.pause();
    this.#o.logger.error(this.#refusal);
    this.#o.onModelMismatch?.(this.#refusal);
    this.#o.events.emit({ type: 'engine', status: this.engineStatus });
  }

  #every(ms: number, run: () => void): void {
    const timer = setInterval(run, ms);
    timer.unref();
    this.#timers.push(timer);
  }

  #elapsedSeconds(since: Date): number {
    return Math.max(0, (this.#clock().getTime() - since.getTime()) / 1000);
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

/** The actor a cancel request stored (service.cancel writes it); an unreadable one is an admin's. */
export function parseActor(text: string): Actor {
  try {
    const value = JSON.parse(text) as Actor;
    if (value.kind === 'admin' && typeof value.name === 'string') return value;
    if (value.kind === 'user' && typeof value.platform === 'string' && typeof value.platformUserId === 'string') return value;
  } catch {
    // fall through
  }
  return { kind: 'admin', name: 'unknown' };
}

function round(seconds: number): number {
  return Math.round(seconds * 10) / 10;
}
