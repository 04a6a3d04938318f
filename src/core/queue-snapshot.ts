// What the queue looks like from outside: running jobs, waiting jobs in run order with positions and ETAs, the
// engine's state and the pool of processes that render. Plain data, made by the queue's view and shown by every
// adapter.
import type { Job } from './jobs.js';
import type { EngineStatus } from './ports.js';

export interface QueuedPosition {
  job: Job;
  /** 1 = runs next. */
  position: number;
  /** Seconds until the video should be done; null while the engine is not ready. */
  etaSeconds: number | null;
}

export interface RunningJob {
  job: Job;
  etaSeconds: number | null;
}

/** One process that renders (`t2v serve` with an engine, or `t2v worker`), as it last reported itself. */
export interface WorkerStatus {
  id: string;
  /** WORKER_NAME, by default host:pid. */
  name: string;
  host: string;
  pid: number;
  slots: number;
  model: string;
  demo: boolean;
  device: string;
  executionProvider: string;
  ready: boolean;
  message: string | null;
  /** Measured seconds per cost unit (see the cost model); null before its first job. */
  secondsPerUnit: number | null;
  runningJobIds: string[];
  startedAt: Date;
  heartbeatAt: Date;
}

export interface QueueSnapshot {
  running: RunningJob[];
  queued: QueuedPosition[];
  /** The pool's engine: ready when a live worker is; what the first ready (else the first) worker runs. */
  engine: EngineStatus;
  /** Live workers, by start. */
  workers: WorkerStatus[];
}

export interface QueueCounts {
  queued: number;
  running: number;
}
