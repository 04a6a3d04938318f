// The only Prisma access for users, jobs, quota overrides, the usage ledger and delivery records. Every state change
// is one transaction with an explicit from-state (queued -> running -> succeeded | failed | cancelled), so a change
// that lost a race (a job cancelled while it was being started) does nothing and says so by returning null.
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../core/errors.js';
import { videoBotError } from '../core/messages.js';
import { FINISHED_STATUSES, type Job, type JobOutput, type JobStatus, type Platform, type ReplyContext, type Requester, type Role } from '../core/jobs.js';
import type { RenderParams } from '../core/ports.js';
import type { Prisma, PrismaClient } from '../db/database.js';
import type { RenderResult } from './render-result.js';
import { pendingOf, restoreScheduler, type PastCharge } from './scheduler.js';
import { nextReset, quotaViolation, resolveQuota, utcDay, type QuotaLimits, type QuotaOverride, type QuotaUsage, type ResolvedQuota } from '../core/quota.js';

type Tx = Prisma.TransactionClient;
type JobRow = Prisma.JobGetPayload<{ include: { user: true } }>;

/**
 * Interactive transactions wait on the submit lock; 50 concurrent submits must not time out on a busy machine. On
 * Postgres the database's answer deadline (database.ts) bounds them sooner.
 */
const TX_OPTIONS = { maxWait: 60_000, timeout: 60_000 } as const;
const SUBMIT_LOCK_ID = 1;
const CLAIM_LOCK_ID = 2;

export interface SubmitPolicy {
  /** Quota defaults from the runtime settings. */
  defaults: QuotaLimits;
  queueCap: number;
}

export interface SubmitInput {
  requester: Requester;
  params: RenderParams;
  reply: ReplyContext;
  estimatedSeconds: number;
  parentJobId?: string | null;
  /** The delivery that asked for the job: a submit carrying a key that already made a job returns that job. */
  delivery?: DeliveryRecord;
  policy: SubmitPolicy;
  now: Date;
}

/** A delivery key (a platform's id of one request) and until when it is remembered. */
export interface DeliveryRecord {
  key: string;
  expiresAt: Date;
}

/** A chat delivery claimed and not handled yet, with what its adapter stored to finish it. */
export interface UnhandledDelivery {
  key: string;
  claimedAt: Date;
  /** The adapter's JSON, as stored with the claim. */
  request: string;
  statusMessageId: string | null;
  jobId: string | null;
}

export interface Submitted {
  job: Job;
  /** false: the delivery had made this job already; nothing was checked, charged or created. */
  created: boolean;
}

export interface ClaimInput {
  workerId: string;
  leaseMs: number;
  halfLifeMs: number;
  roleWeights: Record<Role, number>;
  /** Charges older than this are left out of the fair-share state (they weigh next to nothing). */
  historySince: Date;
  /** Read once the claim holds the lock: the pick, its decay and the job's startedAt are of that moment. */
  clock: () => Date;
}

/** A worker's hold on a running job: its id and the attempt it claimed (a later claim of the job is a new attempt). */
export interface Lease {
  workerId: string;
  attempt: number;
}

export type JobFileKind = 'video' | 'poster';

/** A finished job's file as a success records it: its bytes, or the key of the bucket object holding them. */
export interface JobFileData {
  kind: JobFileKind;
  fileName: string;
  contentType: string;
  bytes: Buffer | null;
  objectKey: string | null;
}

export interface Recovered {
  succeeded: Job[];
  requeued: Job[];
  failed: Job[];
}

/** What a job that stops running (back to the queue) forgets of its run. */
const NOT_RUNNING = { status: 'queued', progressStep: 0, etaMs: null, startedAt: null, workerId: null, leaseExpiresAt: null } as const;

function leaseGuard(lease: Lease): Prisma.JobWhereInput {
  return { workerId: lease.workerId, attempts: lease.attempt };
}

export interface JobQuery {
  statuses?: JobStatus[];
  userId?: string;
  platform?: Platform;
  /** Default 50, at most 500. */
  limit?: number;
  /** Jobs with a smaller seq than this (newest first paging). */
  beforeSeq?: number;
}

export interface QuotaStatus extends ResolvedQuota {
  userId: string;
  used: QuotaUsage;
  left: QuotaUsage;
  queued: number;
  /** ISO time of the next reset (00:00 UTC). */
  resetAt: string;
}

export type QuotaScope = 'user' | 'workspace';

export function workspaceSubject(platform: Platform, workspaceId: string): string {
  return `${platform}:${workspaceId}`;
}

const EMPTY_OVERRIDE: QuotaOverride = { videosPerDay: null, gpuSecondsPerDay: null, maxQueued: null };

export class JobStore {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Creates the submit lock row; idempotent, run once at start. One INSERT statement rather than Prisma's upsert
   * (a read, then a write, in a transaction): on SQLite in WAL mode a transaction that read before another process
   * committed gets SQLITE_BUSY at its write without waiting, whereas a statement that writes first waits its turn.
   */
  async init(): Promise<void> {
    for (const id of [SUBMIT_LOCK_ID, CLAIM_LOCK_ID]) {
      await this.prisma.$executeRaw`INSERT INTO "SubmitLock" ("id", "touchedAt") VALUES (${id}, ${new Date()}) ON CONFLICT ("id") DO NOTHING`;
    }
  }

  /**
   * Throws (VideoBotError Unavailable) when nothing could be stored right now: the database is unreachable, or another
   * process holds SQLite's write lock, which readers do not notice. Takes the write lock without changing a row.
   */
  async checkWritable(): Promise<void> {
    await this.prisma.$executeRaw`UPDATE "SubmitLock" SET "touchedAt" = "touchedAt" WHERE "id" = ${-SUBMIT_LOCK_ID}`;
  }

  /**
   * Claims a delivery: true for the first delivery of its key, false while a record of the key is kept (a retry or
   * a duplicate, even one arriving while the first is still being handled). One statement, so concurrent deliveries
   * race safely across processes: exactly one inserts, with the `request` its adapter needs to finish it after a
   * crash. An expired record that the sweep has not deleted yet counts as none and is taken over.
   */
  async claimDelivery(delivery: DeliveryRecord, request: string | null, now: Date): Promise<boolean> {
    // In a transaction although it is one statement: a claim given up at the database's answer deadline
    // (database-faults.ts) is then rolled back if it reaches the server later, instead of being resumed at the next
    // start for a requester who was told it failed.
    const claimed = await this.prisma.$transaction(
      (tx) => tx.$executeRaw`
        INSERT INTO "Delivery" ("key", "claimedAt", "expiresAt", "request") VALUES (${delivery.key}, ${now}, ${delivery.expiresAt}, ${request})
        ON CONFLICT ("key") DO UPDATE SET "claimedAt" = excluded."claimedAt", "expiresAt" = excluded."expiresAt", "jobId" = NULL,
          "request" = excluded."request", "statusMessageId" = NULL, "handledAt" = NULL
        WHERE "Delivery"."expiresAt" <= excluded."claimedAt"`,
      TX_OPTIONS,
    );
    return claimed === 1;
  }

  /** Forgets deliveries whose record has expired; returns how many. */
  async deleteExpiredDeliveries(now: Date): Promise<number> {
    return (await this.prisma.delivery.deleteMany({ where: { expiresAt: { lte: now } } })).count;
  }

  async recordDeliveryStatusMessage(key: string, statusMessageId: string): Promise<void> {
    await this.prisma.delivery.updateMany({ where: { key }, data: { statusMessageId } });
  }

  /** The delivery's handling ended; its stored request is no longer needed (and may hold a token), so it goes. */
  async markDeliveryHandled(key: string, at: Date): Promise<void> {
    await this.prisma.delivery.updateMany({ where: { key, handledAt: null }, data: { handledAt: at, request: null } });
  }

  /** Deliveries with a stored request, claimed before `claimedBefore`, not handled and not expired, oldest first. */
  async unhandledDeliveries(keyPrefix: string, claimedBefore: Date, now: Date): Promise<UnhandledDelivery[]> {
    const rows = await this.prisma.delivery.findMany({
      where: { key: { startsWith: keyPrefix }, handledAt: null, request: { not: null }, claimedAt: { lt: claimedBefore }, expiresAt: { gt: now } },
      orderBy: { claimedAt: 'asc' },
    });
    return rows.map((row) => ({ key: row.key, claimedAt: row.claimedAt, request: row.request!, statusMessageId: row.statusMessageId, jobId: row.jobId }));
  }

  /**
   * Checks every limit and inserts the job with its quota reservation, atomically: the transaction first updates
   * the submit lock row, which serializes submits across processes (row lock on Postgres, write lock on SQLite),
   * so the counts it reads cannot change before it commits. With a delivery whose key made a job already, that job
   * is returned instead (created: false), before any check: a retry is neither refused nor charged again.
   */
  async submit(input: SubmitInput): Promise<Submitted> {
    const { requester, params, reply, policy, now, delivery } = input;
    return this.prisma.$transaction(async (tx) => {
      await tx.submitLock.update({ where: { id: SUBMIT_LOCK_ID }, data: { touchedAt: now } });
      if (delivery !== undefined) {
        const earlier = await tx.delivery.findUnique({ where: { key: delivery.key } });
        const made =
          earlier?.jobId == null || earlier.expiresAt <= now
            ? null
            : await tx.job.findUnique({ where: { id: earlier.jobId }, include: { user: true } });
        if (made !== null) return { job: toJob(made), created: false };
      }
      const user = await this.#upsertUser(tx, requester);
      if (user.banned) throw videoBotError(ErrorCode.UserBanned, {});

      const queuedTotal = await tx.job.count({ where: { status: 'queued' } });
      if (queuedTotal >= policy.queueCap) {
        throw videoBotError(ErrorCode.QueueFull, { queued: queuedTotal, limit: policy.queueCap });
      }
      const quota = await this.#resolveQuota(tx, user.id, requester.platform, requester.workspaceId ?? null, policy.defaults);
      const queuedByUser = await tx.job.count({ where: { userId: user.id, status: 'queued' } });
      if (queuedByUser >= quota.limits.maxQueued) {
        throw videoBotError(ErrorCode.TooManyQueued, { queued: queuedByUser, limit: quota.limits.maxQueued });
      }
      const day = utcDay(now);
      const usage = await this.#usage(tx, user.id, day);
      const violation = quotaViolation(usage, quota.limits, input.estimatedSeconds, now);
      if (violation !== null) throw violation;

      const last = await tx.job.aggregate({ _max: { seq: true } });
      const id = randomUUID();
      const row = await tx.job.create({
        data: {
          id,
          seq: (last._max.seq ?? 0) + 1,
          userId: user.id,
          workspaceId: requester.workspaceId ?? null,
          prompt: params.prompt,
          negativePrompt: params.negativePrompt,
          frames: params.frames,
          width: params.width,
          height: params.height,
          steps: params.steps,
          guidance: params.guidance,
          seed: BigInt(params.seed),
          fps: params.fps,
          estimatedSeconds: input.estimatedSeconds,
          progressTotal: params.steps,
          replyPlatform: reply.platform,
          replyChannelId: reply.channelId,
          replyThreadId: reply.threadId ?? null,
          replyMessageId: reply.messageId ?? null,
          replyExtra: JSON.stringify(reply.extra ?? {}),
          parentJobId: input.parentJobId ?? null,
          createdAt: now,
        },
        include: { user: true },
      });
      await tx.usageEntry.create({
        data: { userId: user.id, jobId: id, day, kind: 'reserve', videos: 1, gpuSeconds: input.estimatedSeconds, createdAt: now },
      });
      if (delivery !== undefined) {
        await tx.delivery.upsert({
          where: { key: delivery.key },
          create: { key: delivery.key, claimedAt: now, expiresAt: delivery.expiresAt, jobId: id },
          update: { jobId: id, expiresAt: delivery.expiresAt },
        });
      }
      return { job: toJob(row), created: true };
    }, TX_OPTIONS);
  }

  /**
   * queued -> running for `worker`: the job the fair-share policy picks next, with a lease until `now + leaseMs`,
   * counting the attempt; null when nothing waits. The transaction first updates the claim lock row, which makes
   * claims take turns across all processes (Postgres row lock, SQLite write lock), so every pick sees the state the
   * previous one left: the order is the single queue's, whichever worker asks.
   */
  async claimNext(input: ClaimInput): Promise<Job | null> {
    const { workerId, leaseMs, halfLifeMs, roleWeights, historySince, clock } = input;
    return this.prisma.$transaction(async (tx) => {
      await tx.submitLock.update({ where: { id: CLAIM_LOCK_ID }, data: { touchedAt: clock() } });
      // Other claims may have held the lock for a while; what they and the renders' ends committed meanwhile is read now.
      const now = clock();
      const queued = await tx.job.findMany({ where: { status: 'queued' }, orderBy: { seq: 'asc' }, include: { user: true } });
      if (queued.length === 0) return null;
      const jobs = queued.map(toJob);
      const roles = new Map(jobs.map((job) => [job.user.id, job.user.role]));
      const policy = { halfLifeMs, weightOf: (userId: string) => roleWeights[roles.get(userId) ?? 'user'] };
      const scheduler = restoreScheduler(policy, await this.#usageHistory(tx, historySince), jobs.map(pendingOf));
      // A job cancelled since it was read is skipped: the update only takes a job that is still waiting (on
      // Postgres it waits for the cancel's row lock, then sees its status).
      for (let picked = scheduler.next(now.getTime()); picked !== undefined; picked = scheduler.next(now.getTime())) {
        const taken = await tx.job.updateMany({
          where: { id: picked.id, status: 'queued' },
          data: {
            status: 'running',
            startedAt: now,
            attempts: { increment: 1 },
            progressStep: 0,
            etaMs: null,
            workerId,
            leaseExpiresAt: new Date(now.getTime() + leaseMs),
            cancelRequestedAt: null,
            cancelRequestedBy: null,
          },
        });
        if (taken.count === 1) return toJob(await tx.job.findUniqueOrThrow({ where: { id: picked.id }, include: { user: true } }));
      }
      return null;
    }, TX_OPTIONS);
  }

  /**
   * Extends a running job's lease, while `lease` still holds it. `held` false: the lease expired and the job was
   * taken back (or it ended); the worker must stop and record nothing. `cancel`: someone asked to stop it (the
   * actor as requestCancel stored it).
   */
  async renewLease(id: string, lease: Lease, until: Date): Promise<{ held: boolean; cancelRequestedBy: string | null }> {
    const renewed = await this.prisma.job.updateMany({ where: { id, status: 'running', ...leaseGuard(lease) }, data: { leaseExpiresAt: until } });
    if (renewed.count === 0) return { held: false, cancelRequestedBy: null };
    const row = await this.prisma.job.findUnique({ where: { id }, select: { cancelRequestedAt: true, cancelRequestedBy: true } });
    return { held: true, cancelRequestedBy: row?.cancelRequestedAt === null ? null : (row?.cancelRequestedBy ?? null) };
  }

  /** Asks whoever renders a running job to stop it (`by`: the actor, JSON). False when the job is not running. */
  async requestCancel(id: string, by: string, at: Date): Promise<boolean> {
    const asked = await this.prisma.job.updateMany({ where: { id, status: 'running' }, data: { cancelRequestedAt: at, cancelRequestedBy: by } });
    return asked.count > 0;
  }

  /** Progress is advisory (shown while running); a lost write is harmless, so no transaction. */
  async saveProgress(id: string, step: number, totalSteps: number, etaMs: number | null): Promise<void> {
    await this.prisma.job.updateMany({
      where: { id, status: 'running' },
      data: { progressStep: step, progressTotal: totalSteps, etaMs: etaMs === null ? null : Math.round(etaMs) },
    });
  }

  /**
   * running -> succeeded; settles the reservation with the actual GPU-seconds. With `lease`, only while that lease
   * holds the job (a worker that lost it records nothing). `files` (MEDIA_STORE database or bucket: the files, or
   * where the bucket keeps them) are recorded with the job, in the same transaction.
   */
  async markSucceeded(id: string, output: JobOutput, gpuSeconds: number, at: Date, lease?: Lease, files: JobFileData[] = []): Promise<Job | null> {
    return this.#transition(
      id,
      ['running'],
      async (tx, before) => {
        await tx.job.update({
          where: { id },
          data: {
            status: 'succeeded',
            finishedAt: at,
            progressStep: before.steps,
            etaMs: 0,
            outputPath: output.mediaPath,
            outputType: output.mediaType,
            outputBytes: output.bytes,
            posterPath: output.posterPath,
            gpuSeconds,
            leaseExpiresAt: null,
          },
        });
        await tx.jobFile.deleteMany({ where: { jobId: id } });
        for (const file of files) {
          await tx.jobFile.create({
            data: {
              jobId: id,
              kind: file.kind,
              fileName: file.fileName,
              contentType: file.contentType,
              bytes: file.bytes === null ? null : new Uint8Array(file.bytes),
              objectKey: file.objectKey,
            },
          });
        }
        await this.#ledger(tx, before, 'settle', 0, gpuSeconds - before.estimatedSeconds, at);
      },
      lease,
    );
  }

  /** queued|running -> failed; refunds the reservation. */
  async markFailed(
    id: string,
    error: { code: string; message: string },
    gpuSeconds: number | null,
    at: Date,
    lease?: Lease,
  ): Promise<Job | null> {
    return this.#fail(id, ['queued', 'running'], error, gpuSeconds, at, lease);
  }

  async #fail(
    id: string,
    from: JobStatus[],
    error: { code: string; message: string },
    gpuSeconds: number | null,
    at: Date,
    lease?: Lease,
    guard?: Prisma.JobWhereInput,
  ): Promise<Job | null> {
    return this.#transition(
      id,
      from,
      async (tx, before) => {
        await tx.job.update({
          where: { id },
          data: { status: 'failed', finishedAt: at, errorCode: error.code, errorMessage: error.message, gpuSeconds, etaMs: null, leaseExpiresAt: null },
        });
        await this.#ledger(tx, before, 'refund', -1, -before.estimatedSeconds, at);
      },
      lease,
      guard,
    );
  }

  /** from -> cancelled; refunds the reservation. A running job only by the worker whose `lease` holds it. */
  async markCancelled(id: string, from: 'queued' | 'running', gpuSeconds: number | null, at: Date, lease?: Lease): Promise<Job | null> {
    return this.#transition(
      id,
      [from],
      async (tx, before) => {
        await tx.job.update({ where: { id }, data: { status: 'cancelled', finishedAt: at, gpuSeconds, etaMs: null, leaseExpiresAt: null } });
        await this.#ledger(tx, before, 'refund', -1, -before.estimatedSeconds, at);
      },
      lease,
    );
  }

  /**
   * running -> queued, for a render stopped by shutdown: the attempt is not counted against the job, and its seq
   * (hence its place among its user's jobs) is kept.
   */
  async requeue(id: string, lease?: Lease): Promise<Job | null> {
    return this.#transition(
      id,
      ['running'],
      async (tx) => {
        await tx.job.update({
          where: { id },
          data: { ...NOT_RUNNING, attempts: { decrement: 1 } },
        });
      },
      lease,
    );
  }

  /**
   * After a crash or a shutdown: the jobs left `running` by a worker that is gone (`isGone` says so of the worker
   * that held each; null for jobs from before workers had ids). A job whose render had finished (`finishedRender`
   * returns its kept result: the database was unavailable when it ended) is recorded as succeeded. The others go back
   * to the queue when they have attempts left, else fail with JobInterrupted (refunded).
   */
  async recoverInterrupted(
    maxAttempts: number,
    at: Date,
    finishedRender: (jobId: string) => Promise<{ result: RenderResult; files: JobFileData[] } | undefined>,
    isGone: (worker: { id: string; host: string; pid: number } | null) => boolean,
  ): Promise<Recovered> {
    const running = await this.prisma.job.findMany({ where: { status: 'running' }, orderBy: { seq: 'asc' } });
    const workerIds = [...new Set(running.map((row) => row.workerId).filter((id): id is string => id !== null))];
    const workers = new Map((await this.prisma.worker.findMany({ where: { id: { in: workerIds } } })).map((w) => [w.id, w]));
    const recovered: Recovered = { succeeded: [], requeued: [], failed: [] };
    for (const row of running) {
      const worker = row.workerId === null ? null : workers.get(row.workerId);
      if (!isGone(worker === undefined ? null : worker)) continue;
      const finished = await finishedRender(row.id);
      if (finished !== undefined) {
        const { result, files } = finished;
        const job = await this.markSucceeded(row.id, result.output, result.gpuSeconds, result.finishedAt, undefined, files);
        if (job !== null) recovered.succeeded.push(job);
      } else {
        await this.#takeBack(row, maxAttempts, at, {}, recovered);
      }
    }
    return recovered;
  }

  /**
   * Jobs whose worker stopped renewing its lease (it died, hung, or lost the database) before `now`: back to the
   * queue when they have attempts left, else failed with JobInterrupted, exactly as after a crash. Any process may
   * run this; a lease renewed meanwhile keeps its job.
   */
  async reclaimExpired(maxAttempts: number, now: Date): Promise<Recovered> {
    const expired = await this.prisma.job.findMany({ where: { status: 'running', leaseExpiresAt: { lt: now } }, orderBy: { seq: 'asc' } });
    const recovered: Recovered = { succeeded: [], requeued: [], failed: [] };
    for (const row of expired) await this.#takeBack(row, maxAttempts, now, { leaseExpiresAt: { lt: now } }, recovered);
    return recovered;
  }

  /**
   * A requeued job's start time is cleared, which takes its charge out of the fair-share history: the scheduler is
   * back in the state it was in when it picked the job, so it picks it first again and the other waiting jobs keep
   * their order.
   */
  async #takeBack(row: { id: string; attempts: number }, maxAttempts: number, at: Date, guard: Prisma.JobWhereInput, into: Recovered): Promise<void> {
    if (row.attempts < maxAttempts) {
      const job = await this.#transition(
        row.id,
        ['running'],
        async (tx) => {
          await tx.job.update({ where: { id: row.id }, data: NOT_RUNNING });
        },
        undefined,
        guard,
      );
      if (job !== null) into.requeued.push(job);
    } else {
      const error = videoBotError(ErrorCode.JobInterrupted, { attempts: row.attempts });
      // A running job has no GPU-seconds recorded yet: none are (its attempts were cut off).
      const job = await this.#fail(row.id, ['running'], { code: error.code, message: error.message }, null, at, undefined, guard);
      if (job !== null) into.failed.push(job);
    }
  }

  async promote(id: string, at: Date): Promise<Job | null> {
    return this.#transition(id, ['queued'], async (tx) => {
      await tx.job.update({ where: { id }, data: { promotedAt: at } });
    });
  }

  /** Finished jobs whose output folder is older than the retention period (and still on disk). */
  async expiredOutputs(finishedBefore: Date): Promise<string[]> {
    const rows = await this.prisma.job.findMany({
      where: { finishedAt: { lt: finishedBefore }, outputPath: { not: null } },
      select: { id: true },
    });
    return rows.map((row) => row.id);
  }

  /** Forgets a job's files after the retention sweep deleted them; the job itself stays in the history. */
  async clearOutput(id: string): Promise<void> {
    await this.prisma.$transaction(async (tx) => {
      await tx.job.update({ where: { id }, data: { outputPath: null, posterPath: null, outputType: null, outputBytes: null } });
      await tx.jobFile.deleteMany({ where: { jobId: id } });
    }, TX_OPTIONS);
  }

  /** The chat adapter sent the job's final message (the first record counts). */
  async markReplied(id: string, at: Date): Promise<void> {
    await this.prisma.job.updateMany({ where: { id, repliedAt: null }, data: { repliedAt: at } });
  }

  /** Finished jobs answered on `platform` whose final message was never recorded as sent, finished since `since`, oldest first. */
  async unrepliedJobs(platform: Platform, since: Date): Promise<Job[]> {
    const rows = await this.prisma.job.findMany({
      where: {
        status: { in: [...FINISHED_STATUSES] },
        replyPlatform: platform,
        replyMessageId: { not: null },
        repliedAt: null,
        finishedAt: { gte: since },
      },
      orderBy: { finishedAt: 'asc' },
      include: { user: true },
    });
    return rows.map(toJob);
  }

  async get(id: string): Promise<Job | null> {
    const row = await this.prisma.job.findUnique({ where: { id }, include: { user: true } });
    return row === null ? null : toJob(row);
  }

  /** Waiting jobs in submit order (the scheduler decides the run order). */
  async listQueued(): Promise<Job[]> {
    const rows = await this.prisma.job.findMany({ where: { status: 'queued' }, orderBy: { seq: 'asc' }, include: { user: true } });
    return rows.map(toJob);
  }

  async list(query: JobQuery = {}): Promise<Job[]> {
    const rows = await this.prisma.job.findMany({
      where: {
        ...(query.statuses === undefined ? {} : { status: { in: query.statuses } }),
        ...(query.userId === undefined ? {} : { userId: query.userId }),
        ...(query.platform === undefined ? {} : { replyPlatform: query.platform }),
        ...(query.beforeSeq === undefined ? {} : { seq: { lt: query.beforeSeq } }),
      },
      orderBy: { seq: 'desc' },
      take: Math.min(Math.max(query.limit ?? 50, 1), 500),
      include: { user: true },
    });
    return rows.map(toJob);
  }

  /** GPU time charged to each user by jobs started since `since`, to rebuild fair-share state after a restart. */
  async usageHistory(since: Date): Promise<PastCharge[]> {
    return this.#usageHistory(this.prisma, since);
  }

  /** Running jobs in submit order. */
  async listRunning(): Promise<Job[]> {
    const rows = await this.prisma.job.findMany({ where: { status: 'running' }, orderBy: { seq: 'asc' }, include: { user: true } });
    return rows.map(toJob);
  }

  /** A finished job's file as its success recorded it (MEDIA_STORE database or bucket), or null. */
  async jobFile(jobId: string, kind: JobFileKind): Promise<JobFileData | null> {
    const row = await this.prisma.jobFile.findUnique({ where: { jobId_kind: { jobId, kind } } });
    if (row === null) return null;
    return { kind, fileName: row.fileName, contentType: row.contentType, bytes: row.bytes === null ? null : Buffer.from(row.bytes), objectKey: row.objectKey };
  }

  async #usageHistory(tx: Tx | PrismaClient, since: Date): Promise<PastCharge[]> {
    const rows = await tx.job.findMany({
      where: { startedAt: { gte: since } },
      select: { userId: true, startedAt: true, gpuSeconds: true, estimatedSeconds: true },
      orderBy: { startedAt: 'asc' },
    });
    return rows.map((row) => ({
      userId: row.userId,
      startedAt: row.startedAt!,
      seconds: row.gpuSeconds ?? row.estimatedSeconds,
    }));
  }

  async findUser(platform: Platform, platformUserId: string) {
    return this.prisma.user.findUnique({ where: { platform_platformUserId: { platform, platformUserId } } });
  }

  async ensureUser(requester: Requester) {
    return this.#upsertUser(this.prisma, requester);
  }

  async updateUser(id: string, changes: { role?: Role; banned?: boolean }) {
    return this.prisma.user.update({ where: { id }, data: changes });
  }

  async listUsers(limit = 100) {
    return this.prisma.user.findMany({ orderBy: { createdAt: 'asc' }, take: Math.min(Math.max(limit, 1), 1000) });
  }

  async quotaStatus(userId: string, platform: Platform, workspaceId: string | null, defaults: QuotaLimits, now: Date): Promise<QuotaStatus> {
    const quota = await this.#resolveQuota(this.prisma, userId, platform, workspaceId, defaults);
    const used = await this.#usage(this.prisma, userId, utcDay(now));
    const queued = await this.prisma.job.count({ where: { userId, status: 'queued' } });
    return {
      userId,
      ...quota,
      used,
      left: {
        videos: Math.max(0, quota.limits.videosPerDay - used.videos),
        gpuSeconds: Math.max(0, quota.limits.gpuSecondsPerDay - used.gpuSeconds),
      },
      queued,
      resetAt: nextReset(now).toISOString(),
    };
  }

  async getOverride(scope: QuotaScope, subject: string): Promise<QuotaOverride> {
    const row = await this.prisma.quotaPolicy.findUnique({ where: { scope_subject: { scope, subject } } });
    return row === null ? { ...EMPTY_OVERRIDE } : pickOverride(row);
  }

  /** Merges the given fields into the override (null clears a field); removes the row when nothing is left. */
  async setOverride(scope: QuotaScope, subject: string, changes: Partial<QuotaOverride>): Promise<QuotaOverride> {
    const merged = { ...(await this.getOverride(scope, subject)), ...changes };
    if (merged.videosPerDay === null && merged.gpuSecondsPerDay === null && merged.maxQueued === null) {
      await this.prisma.quotaPolicy.deleteMany({ where: { scope, subject } });
      return merged;
    }
    await this.prisma.quotaPolicy.upsert({
      where: { scope_subject: { scope, subject } },
      create: { scope, subject, ...merged },
      update: merged,
    });
    return merged;
  }

  async #upsertUser(tx: Tx | PrismaClient, requester: Requester) {
    return tx.user.upsert({
      where: { platform_platformUserId: { platform: requester.platform, platformUserId: requester.platformUserId } },
      create: {
        platform: requester.platform,
        platformUserId: requester.platformUserId,
        workspaceId: requester.workspaceId ?? null,
        displayName: requester.displayName ?? null,
      },
      update: {
        ...(requester.workspaceId === undefined ? {} : { workspaceId: requester.workspaceId }),
        ...(requester.displayName === undefined ? {} : { displayName: requester.displayName }),
      },
    });
  }

  async #resolveQuota(tx: Tx | PrismaClient, userId: string, platform: Platform, workspaceId: string | null, defaults: QuotaLimits) {
    const subjects: { scope: QuotaScope; subject: string }[] = [{ scope: 'user', subject: userId }];
    if (workspaceId !== null) subjects.push({ scope: 'workspace', subject: workspaceSubject(platform, workspaceId) });
    const rows = await tx.quotaPolicy.findMany({ where: { OR: subjects } });
    const user = rows.find((r) => r.scope === 'user');
    const workspace = rows.find((r) => r.scope === 'workspace');
    return resolveQuota(defaults, workspace === undefined ? null : pickOverride(workspace), user === undefined ? null : pickOverride(user));
  }

  async #usage(tx: Tx | PrismaClient, userId: string, day: string): Promise<QuotaUsage> {
    const sum = await tx.usageEntry.aggregate({ where: { userId, day }, _sum: { videos: true, gpuSeconds: true } });
    return { videos: sum._sum.videos ?? 0, gpuSeconds: Math.max(0, sum._sum.gpuSeconds ?? 0) };
  }

  /** Ledger entries count against the day of the job's reservation. */
  async #ledger(tx: Tx, job: JobRow, kind: 'settle' | 'refund', videos: number, gpuSeconds: number, at: Date): Promise<void> {
    const reservation = await tx.usageEntry.findFirst({ where: { jobId: job.id, kind: 'reserve' } });
    if (reservation === null) return;
    await tx.usageEntry.create({
      data: { userId: job.userId, jobId: job.id, day: reservation.day, kind, videos, gpuSeconds, createdAt: at },
    });
  }

  /**
   * Applies `change` only when the job is in one of `from` (and, with `lease`, still held by it; with `guard`, also
   * matches it); null when it was not (the caller lost a race, or its lease).
   */
  async #transition(
    id: string,
    from: JobStatus[],
    change: (tx: Tx, before: JobRow) => Promise<void>,
    lease?: Lease,
    guard: Prisma.JobWhereInput = {},
  ): Promise<Job | null> {
    return this.prisma.$transaction(async (tx) => {
      // Writing first claims the row (Postgres row lock, SQLite write lock) before anything is read, so two
      // concurrent transitions cannot both pass the status check.
      const where = { id, status: { in: from }, ...(lease === undefined ? {} : leaseGuard(lease)), ...guard };
      const claimed = await tx.job.updateMany({ where, data: { updatedAt: new Date() } });
      if (claimed.count === 0) return null;
      const before = await tx.job.findUniqueOrThrow({ where: { id }, include: { user: true } });
      await change(tx, before);
      const after = await tx.job.findUniqueOrThrow({ where: { id }, include: { user: true } });
      return toJob(after);
    }, TX_OPTIONS);
  }
}

function pickOverride(row: { videosPerDay: number | null; gpuSecondsPerDay: number | null; maxQueued: number | null }): QuotaOverride {
  return { videosPerDay: row.videosPerDay, gpuSecondsPerDay: row.gpuSecondsPerDay, maxQueued: row.maxQueued };
}

function parseExtra(text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export function toJob(row: JobRow): Job {
  const extra = parseExtra(row.replyExtra);
  return {
    id: row.id,
    seq: row.seq,
    user: {
      id: row.user.id,
      platform: row.user.platform,
      platformUserId: row.user.platformUserId,
      displayName: row.user.displayName,
      role: row.user.role,
    },
    workspaceId: row.workspaceId,
    params: {
      prompt: row.prompt,
      negativePrompt: row.negativePrompt,
      frames: row.frames,
      width: row.width,
      height: row.height,
      steps: row.steps,
      guidance: row.guidance,
      seed: Number(row.seed),
      fps: row.fps,
    },
    status: row.status,
    attempts: row.attempts,
    promotedAt: row.promotedAt,
    estimatedSeconds: row.estimatedSeconds,
    progress: { step: row.progressStep, totalSteps: row.progressTotal, etaMs: row.etaMs },
    error: row.errorCode === null ? null : { code: row.errorCode, message: row.errorMessage ?? '' },
    output:
      row.outputPath === null
        ? null
        : {
            mediaPath: row.outputPath,
            mediaType: row.outputType === 'image/png' ? 'image/png' : 'video/mp4',
            bytes: row.outputBytes ?? 0,
            posterPath: row.posterPath,
          },
    gpuSeconds: row.gpuSeconds,
    reply: {
      platform: row.replyPlatform,
      channelId: row.replyChannelId,
      ...(row.replyThreadId === null ? {} : { threadId: row.replyThreadId }),
      ...(row.replyMessageId === null ? {} : { messageId: row.replyMessageId }),
      ...(extra === undefined ? {} : { extra }),
    },
    parentJobId: row.parentJobId,
    workerId: row.workerId,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
  };
}
