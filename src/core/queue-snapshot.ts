// What the queue looks like from outside: running jobs, waiting jobs in run order with positions and ETAs, and the
// engine's state. Plain data, made by the queue's worker and shown by every adapter.
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

export interface QueueSnapshot {
  running: RunningJob[];
  queued: QueuedPosition[];
  engine: EngineStatus;
}

export interface QueueCounts {
  queued: number;
  running: number;
}
