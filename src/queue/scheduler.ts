// The fair-share policy, as a pure unit over in-memory snapshots (no I/O, time passed in).
//
// Among users with waiting jobs, the next job goes to the user with the least recent usage: GPU-seconds charged
// when a job starts (its estimate, corrected to the actual time when it ends), decayed exponentially with a
// configurable half-life and divided by the user's role weight. Ties go to the user served least recently, then
// to the earlier submit. Within a user, jobs run in submit order. A job an admin moved to the front runs before
// all others (the latest promotion first).
//
// Consequence: a newcomer (no recent usage) always runs next, so a user with ten queued jobs delays them by at
// most the job already running. Uniform decay preserves the order between users, which is why the order can be
// rebuilt after a restart from the jobs' start times and costs alone (see JobStore.usageHistory).

import type { Job } from '../core/jobs.js';

export interface PendingJob {
  id: string;
  userId: string;
  /** Submit order (FIFO within a user, and the final tie-break). */
  seq: number;
  /** Estimated GPU-seconds; charged to the user when the job is picked. */
  cost: number;
  /** Epoch ms of the admin's move-to-front, or null. */
  promotedAt: number | null;
}

interface UsageState {
  /** Decayed GPU-seconds as of `at`. */
  value: number;
  at: number;
  /** Epoch ms of the last pick; -Infinity for never. */
  lastServedAt: number;
  /** Order of the last pick among all picks: breaks ties between picks within the same millisecond. */
  lastServedRank: number;
}

interface Candidate {
  share: number;
  lastServedAt: number;
  lastServedRank: number;
  seq: number;
}

export interface FairShareOptions {
  halfLifeMs: number;
  /** A user's weight (role-based); usage is divided by it. Default 1 for everyone. */
  weightOf?: (userId: string) => number;
}

const TIE_TOLERANCE = 1e-9;

export class FairShareScheduler<T extends PendingJob = PendingJob> {
  readonly #pending = new Map<string, T>();
  readonly #usage = new Map<string, UsageState>();
  readonly #halfLifeMs: number;
  readonly #weightOf: (userId: string) => number;
  #servedCount = 0;

  constructor(options: FairShareOptions) {
    if (!(options.halfLifeMs > 0)) throw new RangeError(`halfLifeMs must be > 0 (got ${options.halfLifeMs})`);
    this.#halfLifeMs = options.halfLifeMs;
    this.#weightOf = options.weightOf ?? (() => 1);
  }

  get size(): number {
    return this.#pending.size;
  }

  has(id: string): boolean {
    return this.#pending.has(id);
  }

  get(id: string): T | undefined {
    return this.#pending.get(id);
  }

  enqueue(job: T): void {
    if (this.#pending.has(job.id)) throw new Error(`job ${job.id} is already queued`);
    this.#pending.set(job.id, job);
  }

  remove(id: string): T | undefined {
    const job = this.#pending.get(id);
    this.#pending.delete(id);
    return job;
  }

  /** Moves a waiting job to the front; returns false when it is not waiting. */
  promote(id: string, at: number): boolean {
    const job = this.#pending.get(id);
    if (job === undefined) return false;
    job.promotedAt = at;
    return true;
  }

  /**
   * Adds GPU-seconds to a user's usage as of time `at` (which may lie in the past: a job's actual-minus-estimate
   * correction is charged at its start time). Negative amounts correct an overestimate.
   */
  charge(userId: string, seconds: number, at: number): void {
    const state = this.#usage.get(userId) ?? newState(at);
    if (at >= state.at) {
      state.value = this.#decay(state.value, at - state.at) + seconds;
      state.at = at;
    } else {
      state.value += this.#decay(seconds, state.at - at);
    }
    state.value = Math.max(0, state.value);
    this.#usage.set(userId, state);
  }

  /** Records that a user was served at `at` (restored from history after a restart). */
  markServed(userId: string, at: number): void {
    const state = this.#usage.get(userId) ?? newState(at);
    state.lastServedAt = Math.max(state.lastServedAt, at);
    state.lastServedRank = ++this.#servedCount;
    this.#usage.set(userId, state);
  }

  /** A user's decayed usage at `now`, before weighting. */
  usageOf(userId: string, now: number): number {
    const state = this.#usage.get(userId);
    return state === undefined ? 0 : this.#decay(state.value, Math.max(0, now - state.at));
  }

  /** Picks the next job, removes it and charges its estimated cost to its user. */
  next(now: number): T | undefined {
    const job = this.#pick(now, this.#usage, this.#pending.values());
    if (job === undefined) return undefined;
    this.#pending.delete(job.id);
    this.charge(job.userId, job.cost, now);
    this.markServed(job.userId, now);
    return job;
  }

  /** The order in which the waiting jobs would run if nothing changed, without changing any state. */
  order(now: number): T[] {
    const usage = new Map([...this.#usage].map(([user, state]) => [user, { ...state }]));
    const remaining = new Map(this.#pending);
    const order: T[] = [];
    let rank = this.#servedCount;
    while (remaining.size > 0) {
      const job = this.#pick(now, usage, remaining.values())!;
      remaining.delete(job.id);
      const state = usage.get(job.userId) ?? newState(now);
      usage.set(job.userId, {
        value: this.#decay(state.value, Math.max(0, now - state.at)) + job.cost,
        at: now,
        lastServedAt: now,
        lastServedRank: ++rank,
      });
      order.push(job);
    }
    return order;
  }

  #decay(value: number, elapsedMs: number): number {
    return value * 2 ** (-elapsedMs / this.#halfLifeMs);
  }

  #pick(now: number, usage: Map<string, UsageState>, jobs: Iterable<T>): T | undefined {
    let promoted: T | undefined;
    const heads = new Map<string, T>();
    for (const job of jobs) {
      if (job.promotedAt !== null && (promoted === undefined || job.promotedAt > promoted.promotedAt!)) promoted = job;
      const head = heads.get(job.userId);
      if (head === undefined || job.seq < head.seq) heads.set(job.userId, job);
    }
    if (promoted !== undefined) return promoted;

    let best: { job: T; candidate: Candidate } | undefined;
    for (const [userId, job] of heads) {
      const state = usage.get(userId) ?? newState(now);
      const candidate: Candidate = {
        share: this.#decay(state.value, Math.max(0, now - state.at)) / Math.max(this.#weightOf(userId), Number.MIN_VALUE),
        lastServedAt: state.lastServedAt,
        lastServedRank: state.lastServedRank,
        seq: job.seq,
      };
      if (best === undefined || before(candidate, best.candidate)) best = { job, candidate };
    }
    return best?.job;
  }
}

/** A GPU-time charge from the past: what a job started at `startedAt` cost (actual seconds, or the estimate while running). */
export interface PastCharge {
  userId: string;
  startedAt: Date;
  seconds: number;
}

/**
 * The scheduler in the state the queue is in: the charges of the jobs started so far (in start order), then the
 * waiting jobs. Picks start as charges at the estimate and are corrected to the actual time at their start time, so
 * charging each started job once at its start with its final cost gives the same usage: the state can be rebuilt
 * from the database alone, by any process (restart recovery, every worker's claim, every front's view).
 */
export function restoreScheduler<T extends PendingJob>(options: FairShareOptions, history: readonly PastCharge[], pending: readonly T[]): FairShareScheduler<T> {
  const scheduler = new FairShareScheduler<T>(options);
  for (const charge of history) {
    scheduler.charge(charge.userId, charge.seconds, charge.startedAt.getTime());
    scheduler.markServed(charge.userId, charge.startedAt.getTime());
  }
  for (const job of pending) scheduler.enqueue(job);
  return scheduler;
}

/** A job as the policy sees it. */
export function pendingOf(job: Job): PendingJob {
  return { id: job.id, userId: job.user.id, seq: job.seq, cost: job.estimatedSeconds, promotedAt: job.promotedAt?.getTime() ?? null };
}

function newState(at: number): UsageState {
  return { value: 0, at, lastServedAt: Number.NEGATIVE_INFINITY, lastServedRank: 0 };
}

/** Less usage first; on a tie the user served least recently, then the earlier submit. */
function before(a: Candidate, b: Candidate): boolean {
  const scale = Math.max(Math.abs(a.share), Math.abs(b.share), 1);
  if (Math.abs(a.share - b.share) > TIE_TOLERANCE * scale) return a.share < b.share;
  if (a.lastServedAt !== b.lastServedAt) return a.lastServedAt < b.lastServedAt;
  if (a.lastServedRank !== b.lastServedRank) return a.lastServedRank < b.lastServedRank;
  return a.seq < b.seq;
}
