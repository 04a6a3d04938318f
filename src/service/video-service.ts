// The service facade every adapter uses (Discord, Slack, HTTP API, dashboard): submit, cancel, reroll, status,
// quotas, settings, audit, events. Adapters parse their platform's input and render the results; every decision
// about validation, quotas, queueing and permissions is made here, once.
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { Config } from '../config.js';
import { actorLabel, type AuditEntry, type AuditLog, type AuditQuery } from '../db/audit-log.js';
import { SETTING_DESCRIPTIONS, SETTING_SCHEMAS, type RuntimeSettings, type SettingsPatch, type SettingsStore, type SettingsView } from '../db/settings.js';
import type { Logger } from '../log.js';
import { deleteJobOutput } from '../queue/job-outputs.js';
import { workspaceSubject, type DeliveryRecord, type JobQuery, type JobStore, type QuotaStatus } from '../queue/job-store.js';
import type { QuotaLimits, QuotaOverride } from '../core/quota.js';
import type { QueueCounts, QueueSnapshot } from '../core/queue-snapshot.js';
import type { LocalMedia } from '../queue/local-media.js';
import type { MediaStore } from '../queue/media-store.js';
import type { QueueView } from '../queue/queue-view.js';
import type { Worker } from '../queue/worker.js';
import { ErrorCode, type JobAction, type OptionIssue } from '../core/errors.js';
import type { EventBus, EventListener } from '../core/events.js';
import { PLATFORMS, type Actor, type Job, type Platform, type ReplyContext, type Requester, type Role } from '../core/jobs.js';
import type { MediaKind, MediaLinks } from './media-links.js';
import { videoBotError } from '../core/messages.js';
import type { EngineStatus } from '../core/ports.js';
import { findBannedWord } from '../core/prompt-policy.js';
import { optionRanges, resolveRenderParams, type OptionRanges, type RequestLimits, type VideoOptions } from '../core/requests.js';

export interface SubmitRequest {
  requester: Requester;
  options: VideoOptions;
  reply: ReplyContext;
  /**
   * The sender's id of the delivery that asks for the job (see claimDelivery); a submit with a key that already made
   * a job returns that job instead of queueing and charging another.
   */
  deliveryKey?: string;
}

/** A re-roll or reproduction: who asks, where the answer goes (default: the parent's place) and the delivery asking. */
export interface DerivedRequest {
  requester: Requester;
  reply?: ReplyContext;
  deliveryKey?: string;
}

/** A delivery claimed before a restart and not handled, with its stored request and progress. */
export interface ClaimedDelivery {
  key: string;
  claimedAt: Date;
  /** What the adapter stored with the claim (its own JSON, parsed). */
  request: unknown;
  /** The status message posted for it, if that was recorded. */
  statusMessageId: string | null;
  /** The job it made, if its submit committed. */
  jobId: string | null;
}

export type ChatPlatform = Extract<Platform, 'discord' | 'slack'>;

export interface SubmitResult {
  job: Job;
  /** 1 = runs next; 0 = already starting. */
  position: number;
  /** Seconds until the video should be done; null while the engine is unavailable. */
  etaSeconds: number | null;
}

export interface UserRef {
  platform: Platform;
  platformUserId: string;
  /** For workspace quota overrides when the user has not submitted yet. */
  workspaceId?: string;
}

export interface UserQuotaStatus extends QuotaStatus {
  user: UserRef & { known: boolean; role: Role; banned: boolean };
}

export interface ServiceHealth {
  ok: boolean;
  database: 'ok' | 'unreachable';
  /** Where finished videos are kept, when that is an S3-compatible bucket (MEDIA_STORE=bucket). */
  videoStorage?: 'ok' | 'unreachable';
  engine: EngineStatus;
  queue: QueueCounts;
  draining: boolean;
}

/** What the service tells the other processes sharing the database (Postgres): see service/cluster.ts. */
export interface ClusterMessages {
  /** Asks the process rendering the job to stop it. */
  cancel(jobId: string, actor: Actor): Promise<void>;
  /** The queue's order changed without a job event (a promotion, a role change): fronts recompute places. */
  queueChanged(): Promise<void>;
}

export interface ServiceDeps {
  config: Pick<Config, 'limits' | 'outputsDir'>;
  store: JobStore;
  /** This process's engine worker; absent in a front that renders nothing (ENGINE_SLOTS=0, `serve --no-engine`). */
  worker: Worker | undefined;
  view: QueueView;
  media: LocalMedia;
  /** Where finished videos are recorded for other hosts (MEDIA_STORE): the admin's delete removes them there too. */
  mediaStore: MediaStore;
  settings: SettingsStore;
  audit: AuditLog;
  events: EventBus;
  mediaLinks: MediaLinks;
  logger: Logger;
  /** Absent on SQLite, where every part of the service is in this process. */
  cluster?: ClusterMessages;
  clock?: () => Date;
}

/** How long cancel() waits for a running render to stop at its next step before answering. */
const CANCEL_WAIT_MS = 10_000;
/** Life of a media link while outputs are kept forever (OUTPUT_RETENTION_DAYS=0): links end even if files do not. */
const MEDIA_LINK_DAYS_WITHOUT_RETENTION = 30;
const DAY_MS = 86_400_000;
/**
 * How long /healthz waits for the database, and for the bucket that keeps the videos, before calling it unreachable:
 * a server that accepts connections and never answers (stopped, or behind a network cut) must not hang the probe.
 */
const HEALTH_TIMEOUT_MS = 3_000;
/**
 * How long a delivery key is remembered: well past Slack's retries (about 1 and 5 minutes after the first try), a
 * Discord interaction's 15-minute life and an API client retrying through an outage; a day of keys is a small table.
 */
export const DELIVERY_LIFETIME_MS = DAY_MS;
const DELIVERY_KEY_MAX_LENGTH = 255;
/** The most an adapter may store with a claim (as JSON): a request as parsed and where to answer it. */
const DELIVERY_REQUEST_MAX_LENGTH = 8_192;
/**
 * How long after its end a chat job whose final message was never recorded as sent (the process stopped first) is
 * still answered by the next start: long enough for a restart after a night's outage, short enough that nobody gets
 * a video for a request they have long forgotten or already repeated (and that its file is still kept).
 */
const FINAL_REPLY_RECOVERY_MS = DAY_MS;
/**
 * Internal setting: when this database began recording final replies (Job.repliedAt). Jobs that finished before it
 * were answered by a version that did not record it, and must not be answered again.
 */
const REPLIES_RECORDED_SINCE = 'repliesRecordedSince';

// An override allows the values its default setting allows (or null), so the ranges and their wording come from there.
const quotaPatchSchema = z
  .object({
    videosPerDay: SETTING_SCHEMAS.videosPerDay.nullable(),
    gpuSecondsPerDay: SETTING_SCHEMAS.gpuSecondsPerDay.nullable(),
    maxQueued: SETTING_SCHEMAS.maxQueuedPerUser.nullable(),
  })
  .partial()
  .strict();

const QUOTA_FIELD_RANGES: Record<string, string> = {
  videosPerDay: `${SETTING_DESCRIPTIONS.videosPerDay}, or null to inherit`,
  gpuSecondsPerDay: `${SETTING_DESCRIPTIONS.gpuSecondsPerDay}, or null to inherit`,
  maxQueued: `${SETTING_DESCRIPTIONS.maxQueuedPerUser}, or null to inherit`,
};

export class VideoService {
  readonly #d: ServiceDeps;
  readonly #clock: () => Date;
  #stopping = false;

  constructor(deps: ServiceDeps) {
    this.#d = deps;
    this.#clock = deps.clock ?? (() => new Date());
  }

  /** Current request limits (the prompt length cap is a runtime setting). */
  async limits(): Promise<RequestLimits> {
    return this.#requestLimits(await this.#d.settings.get());
  }

  /** Allowed values of every option, for option builders and help texts. */
  async optionRanges(): Promise<OptionRanges> {
    return optionRanges(await this.limits());
  }

  /**
   * Claims a delivery by its sender's id (a Slack `event_id` or `trigger_id`, a Discord interaction id): true for the
   * first delivery, which the adapter then handles; false for a retry or duplicate, even one arriving while the first
   * is still being handled, which the adapter acknowledges and drops (no reply, no job). Claim before anything the
   * user can see. The record is kept in the database, across restarts, for DELIVERY_LIFETIME_MS, with `request`: what
   * the adapter needs to finish handling the delivery if the process stops first (see unhandledDeliveries).
   */
  async claimDelivery(key: string, request?: object): Promise<boolean> {
    const now = this.#clock();
    return this.#d.store.claimDelivery(deliveryRecord(checkDeliveryKey(key), now), request === undefined ? null : checkDeliveryRequest(request), now);
  }

  /** Deletes the delivery records that have expired (the hourly sweep). */
  async forgetExpiredDeliveries(): Promise<number> {
    return this.#d.store.deleteExpiredDeliveries(this.#clock());
  }

  /** Records the status message posted for a claimed delivery, so that a resumed handling reuses it. */
  async recordDeliveryStatusMessage(key: string, statusMessageId: string): Promise<void> {
    await this.#d.store.recordDeliveryStatusMessage(key, statusMessageId);
  }

  /** Records that a claimed delivery was handled (answered, or given up): it is not resumed after a restart. */
  async deliveryHandled(key: string): Promise<void> {
    await this.#d.store.markDeliveryHandled(key, this.#clock());
  }

  /**
   * The deliveries of a chat platform that were claimed with a request before `claimedBefore` (by a process that
   * stopped) and never handled, oldest first, as long as their record is kept: the adapter resumes those it still can.
   */
  async unhandledDeliveries(platform: ChatPlatform, claimedBefore: Date): Promise<ClaimedDelivery[]> {
    const rows = await this.#d.store.unhandledDeliveries(`${platform}:`, claimedBefore, this.#clock());
    return rows.map((row) => ({ ...row, request: JSON.parse(row.request) as unknown }));
  }

  /** Records that the chat adapter sent the job's final message (the video, the failure, the cancel). */
  async markReplied(jobId: string): Promise<void> {
    await this.#d.store.markReplied(jobId, this.#clock());
  }

  /**
   * Finished jobs answered on a chat platform whose final message was never recorded as sent (the process stopped
   * between the job's end and the message), finished within FINAL_REPLY_RECOVERY_MS, oldest first.
   */
  async unrepliedJobs(platform: ChatPlatform): Promise<Job[]> {
    const now = this.#clock();
    await this.#d.settings.createInternal(REPLIES_RECORDED_SINCE, now.toISOString());
    const recordedSince = new Date((await this.#d.settings.readInternal(REPLIES_RECORDED_SINCE)) ?? now.toISOString());
    const since = Math.max(recordedSince.getTime(), now.getTime() - FINAL_REPLY_RECOVERY_MS);
    const jobs = await this.#d.store.unrepliedJobs(platform, new Date(since));
    // A worker on another host may have rendered them: their files are delivered from this host.
    return Promise.all(jobs.map((job) => this.#d.media.withLocalFiles(job)));
  }

  /**
   * Validates, checks every limit, reserves quota and queues the job. Throws VideoBotError on any rejection. A
   * request whose deliveryKey made a job already gets that job, with its current place, and nothing more is charged.
   */
  async submit(request: SubmitRequest, parentJobId?: string): Promise<SubmitResult> {
    if (this.draining) throw videoBotError(ErrorCode.ShuttingDown, {});
    const requester = checkRequester(request.requester);
    const reply = checkReply(request.reply);
    const deliveryKey = request.deliveryKey === undefined ? undefined : checkDeliveryKey(request.deliveryKey);
    const settings = await this.#d.settings.get();
    const params = resolveRenderParams(request.options, this.#requestLimits(settings));
    const banned = findBannedWord(params.prompt, settings.bannedWords);
    if (banned !== undefined) throw videoBotError(ErrorCode.PromptRejected, { reason: 'banned_word', word: banned });

    const now = this.#clock();
    const { job, created } = await this.#d.store.submit({
      requester,
      params,
      reply,
      estimatedSeconds: this.#d.view.estimateSeconds(params),
      parentJobId: parentJobId ?? null,
      ...(deliveryKey === undefined ? {} : { delivery: deliveryRecord(deliveryKey, now) }),
      policy: { defaults: quotaDefaults(settings), queueCap: settings.queueCap },
      now,
    });
    if (!created) {
      this.#d.logger.info({ jobId: job.id, user: actorLabel(toActor(requester)) }, 'a repeated delivery: answered with the job it made');
      // The first delivery's submit may not have refreshed the view with its job yet: read it, for the job's place.
      if (job.status === 'queued') await this.#d.view.refresh();
      return this.#withPlace(job);
    }
    const { position, etaSeconds } = this.#placeOf(job, await this.#d.view.refresh());
    this.#d.events.emit({ type: 'queued', job, position, etaSeconds });
    this.#d.worker?.wake();
    this.#d.logger.info({ jobId: job.id, user: actorLabel(toActor(requester)), position, params: summarize(job) }, 'job queued');
    return { job, position, etaSeconds };
  }

  /** The same prompt and options with a new random seed, for the requester (anyone may reroll a video they see). */
  async reroll(jobId: string, request: DerivedRequest): Promise<SubmitResult> {
    const parent = await this.getJob(jobId);
    const { seed: _seed, ...options } = parent.params;
    return this.submit({ ...request, options, reply: request.reply ?? parent.reply }, parent.id);
  }

  /** The same prompt, options and seed: the same video again (for example after its file expired). */
  async reproduce(jobId: string, request: DerivedRequest): Promise<SubmitResult> {
    const parent = await this.getJob(jobId);
    return this.submit({ ...request, options: { ...parent.params }, reply: request.reply ?? parent.reply }, parent.id);
  }

  /**
   * Cancels a job: a waiting one at once, a running one at its next denoising step. Allowed for the requester
   * and admins. Returns the job afterwards (still `running` if the render has not stopped within 10 s; the
   * `cancelled` event follows).
   */
  async cancel(jobId: string, actor: Actor): Promise<Job> {
    const job = await this.getJob(jobId);
    await this.#authorize(job, actor, 'cancel');
    if (job.status !== 'queued' && job.status !== 'running') {
      throw videoBotError(ErrorCode.InvalidState, { jobId, status: job.status, action: 'cancel' });
    }
    let after = job.status === 'queued' ? await this.#d.store.markCancelled(jobId, 'queued', null, this.#clock()) : null;
    if (after !== null) this.#d.events.emit({ type: 'cancelled', job: after, actor });
    else if (await this.#d.store.requestCancel(jobId, JSON.stringify(actor), this.#clock())) {
      // Running, here or on a worker in another process (which also sees the request at its next lease renewal).
      if (this.#d.worker?.cancelLocal(jobId, actor) !== true) await this.#d.cluster?.cancel(jobId, actor);
      after = await this.#whenNotRunning(jobId, CANCEL_WAIT_MS);
    } else {
      // It ended meanwhile; cancelled by someone else is fine, any other end is not cancellable any more.
      const current = await this.getJob(jobId);
      if (current.status !== 'cancelled') throw videoBotError(ErrorCode.InvalidState, { jobId, status: current.status, action: 'cancel' });
      after = current;
    }
    if (actor.kind === 'admin' || actor.platformUserId !== job.user.platformUserId || actor.platform !== job.user.platform) {
      await this.#d.audit.append({ actor, action: 'job.cancel', target: jobId, details: { owner: `${job.user.platform}:${job.user.platformUserId}` } });
    }
    this.#d.logger.info({ jobId, actor: actorLabel(actor), status: after.status }, 'job cancel requested');
    return after;
  }

  /** Moves a waiting job to the front of the queue (admins only; audited). */
  async promote(jobId: string, actor: Actor): Promise<SubmitResult> {
    await this.#requireAdmin(actor, 'move jobs to the front of the queue');
    const job = await this.getJob(jobId);
    if (job.status !== 'queued') throw videoBotError(ErrorCode.InvalidState, { jobId, status: job.status, action: 'promote' });
    const at = this.#clock();
    const promoted = await this.#d.store.promote(jobId, at);
    if (promoted === null) throw videoBotError(ErrorCode.InvalidState, { jobId, status: 'no longer queued', action: 'promote' });
    const place = this.#placeOf(promoted, await this.#d.view.refresh());
    await this.#d.cluster?.queueChanged();
    await this.#d.audit.append({ actor, action: 'job.promote', target: jobId });
    return { job: promoted, ...place };
  }

  /** Deletes a finished job's video and poster; the job stays in the history (admins only; audited). */
  async deleteVideo(jobId: string, actor: Actor): Promise<Job> {
    await this.#requireAdmin(actor, 'delete videos');
    const job = await this.getJob(jobId);
    await deleteJobOutput(this.#d.store, this.#d.mediaStore, this.#d.config.outputsDir, job);
    await this.#d.audit.append({ actor, action: 'job.video.delete', target: jobId, details: { owner: `${job.user.platform}:${job.user.platformUserId}` } });
    return job;
  }

  async getJob(jobId: string): Promise<Job> {
    const job = await this.#d.store.get(jobId);
    if (job === null) throw videoBotError(ErrorCode.NotFound, { entity: 'job', id: jobId });
    return job;
  }

  /** A job with its live place in line (waiting jobs) and live progress (running jobs). */
  async getJobStatus(jobId: string): Promise<SubmitResult> {
    return this.#withPlace(await this.getJob(jobId));
  }

  async listJobs(query: JobQuery = {}): Promise<Job[]> {
    return this.#d.store.list(query);
  }

  /**
   * A link to the job's video or poster that works without a token, for chat users who cannot get the file
   * otherwise. It expires when the retention setting deletes the file (counted from the job's end), or after
   * MEDIA_LINK_DAYS_WITHOUT_RETENTION days when files are kept forever. The link is a capability: post it only
   * where the video's audience is.
   */
  async mediaUrl(jobId: string, options: { kind: MediaKind }): Promise<string> {
    const job = await this.getJob(jobId);
    const { outputRetentionDays } = await this.#d.settings.get();
    const expiresMs =
      outputRetentionDays > 0
        ? (job.finishedAt ?? this.#clock()).getTime() + outputRetentionDays * DAY_MS
        : this.#clock().getTime() + MEDIA_LINK_DAYS_WITHOUT_RETENTION * DAY_MS;
    return this.#d.mediaLinks.url({ jobId: job.id, kind: options.kind, expiresAt: Math.floor(expiresMs / 1000) });
  }

  /**
   * The job a media link names, once its signature and expiry check out: Forbidden for a link that was altered,
   * made up or has expired (before looking the job up), NotFound when the job is gone.
   */
  async openMediaLink(link: { jobId: string; kind: MediaKind; exp: string | undefined; sig: string | undefined }): Promise<Job> {
    const check = this.#d.mediaLinks.check(link.jobId, link.kind, link.exp, link.sig, this.#clock());
    if (!check.ok) {
      const action =
        check.reason === 'expired'
          ? `open this link: it expired at ${new Date(Number(link.exp) * 1000).toISOString()}`
          : 'open this link: it is not a link the service made (its signature does not match)';
      throw videoBotError(ErrorCode.Forbidden, { action });
    }
    return this.getJob(link.jobId);
  }

  /** Running jobs, then waiting jobs in the order they will run, with positions and ETAs, and the workers. */
  listQueue(): QueueSnapshot {
    return this.#d.view.snapshot();
  }

  queueCounts(): QueueCounts {
    return this.#d.view.counts();
  }

  engineStatus(): EngineStatus {
    return this.#d.view.engine;
  }

  /** The job with its video and poster on this host (copied from the database when another host rendered it). */
  async withLocalMedia(job: Job): Promise<Job> {
    return this.#d.media.withLocalFiles(job);
  }

  /** True from the start of the shutdown: submits are refused with ShuttingDown. */
  get draining(): boolean {
    return this.#stopping || this.#d.worker?.draining === true;
  }

  /** Refuses new submits from now on (the first step of a shutdown). */
  beginShutdown(): void {
    this.#stopping = true;
  }

  async quotaStatus(ref: UserRef): Promise<UserQuotaStatus> {
    const user = await this.#d.store.findUser(ref.platform, ref.platformUserId);
    const settings = await this.#d.settings.get();
    const workspaceId = ref.workspaceId ?? user?.workspaceId ?? null;
    // An unknown user has no overrides or usage; the id only needs to match nothing.
    const status = await this.#d.store.quotaStatus(user?.id ?? '', ref.platform, workspaceId, quotaDefaults(settings), this.#clock());
    return {
      ...status,
      user: {
        platform: ref.platform,
        platformUserId: ref.platformUserId,
        ...(workspaceId === null ? {} : { workspaceId }),
        known: user !== null,
        role: user?.role ?? 'user',
        banned: user?.banned ?? false,
      },
    };
  }

  /** Sets (or with null clears) a user's quota overrides; admins only; audited. */
  async setUserQuota(ref: UserRef, patch: unknown, actor: Actor): Promise<UserQuotaStatus> {
    await this.#requireAdmin(actor, 'change quotas');
    const changes = parseQuotaPatch(patch);
    const user = await this.#d.store.ensureUser(ref);
    const override = await this.#d.store.setOverride('user', user.id, changes);
    await this.#d.audit.append({ actor, action: 'quota.user.set', target: `${ref.platform}:${ref.platformUserId}`, details: { changes, override } });
    return this.quotaStatus(ref);
  }

  /** Sets (or with null clears) a workspace's quota overrides; admins only; audited. */
  async setWorkspaceQuota(platform: Platform, workspaceId: string, patch: unknown, actor: Actor): Promise<QuotaOverride> {
    await this.#requireAdmin(actor, 'change quotas');
    const changes = parseQuotaPatch(patch);
    const override = await this.#d.store.setOverride('workspace', workspaceSubject(platform, workspaceId), changes);
    await this.#d.audit.append({ actor, action: 'quota.workspace.set', target: workspaceSubject(platform, workspaceId), details: { changes, override } });
    return override;
  }

  async getWorkspaceQuota(platform: Platform, workspaceId: string): Promise<QuotaOverride> {
    return this.#d.store.getOverride('workspace', workspaceSubject(platform, workspaceId));
  }

  /** Changes a user's role (fair-share weight, admin rights) or ban; admins only; audited. */
  async updateUser(ref: UserRef, changes: { role?: Role; banned?: boolean }, actor: Actor) {
    await this.#requireAdmin(actor, 'change users');
    const existing = await this.#d.store.ensureUser(ref);
    const user = await this.#d.store.updateUser(existing.id, changes);
    if (changes.role !== undefined) {
      // The role weighs the user's share in every claim and place from now on.
      await this.#d.view.refresh();
      await this.#d.cluster?.queueChanged();
    }
    await this.#d.audit.append({ actor, action: 'user.update', target: `${ref.platform}:${ref.platformUserId}`, details: changes });
    return user;
  }

  async listUsers(limit?: number) {
    return this.#d.store.listUsers(limit);
  }

  async getSettings(): Promise<SettingsView> {
    return this.#d.settings.view();
  }

  /** Changes runtime settings (null resets one to its environment default); admins only; audited. */
  async updateSettings(patch: SettingsPatch | Record<string, unknown>, actor: Actor): Promise<SettingsView> {
    await this.#requireAdmin(actor, 'change settings');
    const view = await this.#d.settings.update(patch as Record<string, unknown>, actorLabel(actor));
    await this.#d.audit.append({ actor, action: 'settings.update', details: { changes: patch } });
    return view;
  }

  async appendAudit(entry: { actor: Actor; action: string; target?: string; details?: Record<string, unknown> }): Promise<AuditEntry> {
    return this.#d.audit.append(entry);
  }

  async listAudit(query?: AuditQuery): Promise<AuditEntry[]> {
    return this.#d.audit.list(query);
  }

  /**
   * Subscribes to job and engine events. With `replay`, the listener first gets a `started` event for every
   * running job and a `queued` event for every waiting one (marked `replay: true`), so an adapter that starts
   * after the service (or after a restart) can resume updating those jobs' threads.
   */
  subscribe(listener: EventListener, options: { replay?: boolean } = {}): () => void {
    const unsubscribe = this.#d.events.subscribe(listener);
    if (options.replay === true) {
      const snapshot = this.#d.view.snapshot();
      const deliver = (event: Parameters<EventListener>[0]) => {
        Promise.resolve()
          .then(() => listener(event))
          .catch((error: unknown) => this.#d.logger.error({ err: error }, 'event listener failed during replay'));
      };
      for (const running of snapshot.running) deliver({ type: 'started', job: running.job, replay: true });
      for (const queued of snapshot.queued) {
        deliver({ type: 'queued', job: queued.job, position: queued.position, etaSeconds: queued.etaSeconds, replay: true });
      }
    }
    return unsubscribe;
  }

  async health(): Promise<ServiceHealth> {
    const [database, bucketReachable] = await Promise.all([
      withinHealthLimit(this.#databaseHealth(), 'unreachable'),
      withinHealthLimit(this.#d.mediaStore.bucketReachable(), false),
    ]);
    return {
      ok: database === 'ok',
      database,
      ...(bucketReachable === undefined ? {} : { videoStorage: bucketReachable ? 'ok' : 'unreachable' }),
      engine: this.#d.view.engine,
      queue: this.#d.view.counts(),
      draining: this.draining,
    };
  }

  async #databaseHealth(): Promise<ServiceHealth['database']> {
    // Both a read and a write: a SQLite file locked by another process still answers reads.
    return Promise.all([this.#d.settings.readInternal('health'), this.#d.store.checkWritable()]).then(
      () => 'ok',
      () => 'unreachable',
    );
  }

  #requestLimits(settings: RuntimeSettings): RequestLimits {
    return { ...this.#d.config.limits, promptMaxLength: settings.promptMaxLength };
  }

  #placeOf(job: Job, snapshot = this.#d.view.snapshot()): { position: number; etaSeconds: number | null } {
    const queued = snapshot.queued.find((q) => q.job.id === job.id);
    if (queued !== undefined) return { position: queued.position, etaSeconds: queued.etaSeconds };
    const running = snapshot.running.find((r) => r.job.id === job.id);
    const estimate = Math.round(this.#d.view.estimateSeconds(job.params) * 10) / 10;
    return { position: 0, etaSeconds: snapshot.engine.ready ? (running?.etaSeconds ?? estimate) : null };
  }

  /** A stored job with its live place in line (waiting) or live progress (running). */
  #withPlace(job: Job): SubmitResult {
    const snapshot = this.#d.view.snapshot();
    const running = snapshot.running.find((r) => r.job.id === job.id);
    if (running !== undefined) return { job: { ...job, progress: running.job.progress }, position: 0, etaSeconds: running.etaSeconds };
    const queued = snapshot.queued.find((q) => q.job.id === job.id);
    if (queued !== undefined) return { job, position: queued.position, etaSeconds: queued.etaSeconds };
    return { job, position: 0, etaSeconds: job.status === 'queued' ? null : 0 };
  }

  /**
   * The job once it is no longer running (its end is an event, here or relayed from another process), or as it is
   * after `timeoutMs`; the database is read again every so often in case an event was missed.
   */
  async #whenNotRunning(jobId: string, timeoutMs: number): Promise<Job> {
    const deadline = this.#clock().getTime() + timeoutMs;
    let wake!: () => void;
    const ended = new Promise<void>((resolve) => (wake = resolve));
    const unsubscribe = this.#d.events.subscribe((event) => {
      if (event.type !== 'engine' && event.job.id === jobId && event.job.status !== 'running') wake();
    });
    try {
      for (;;) {
        const job = await this.getJob(jobId);
        const left = deadline - this.#clock().getTime();
        if (job.status !== 'running' || left <= 0) return job;
        await Promise.race([ended, sleep(Math.min(left, 500), undefined, { ref: false })]);
      }
    } finally {
      unsubscribe();
    }
  }

  async #isAdmin(actor: Actor): Promise<boolean> {
    if (actor.kind === 'admin') return true;
    const user = await this.#d.store.findUser(actor.platform, actor.platformUserId);
    return user?.role === 'admin' && !user.banned;
  }

  async #requireAdmin(actor: Actor, what: string): Promise<void> {
    if (!(await this.#isAdmin(actor))) throw videoBotError(ErrorCode.Forbidden, { action: what });
  }

  async #authorize(job: Job, actor: Actor, action: JobAction): Promise<void> {
    const own = actor.kind === 'user' && actor.platform === job.user.platform && actor.platformUserId === job.user.platformUserId;
    if (own || (await this.#isAdmin(actor))) return;
    throw videoBotError(ErrorCode.Forbidden, { action: `${action} another user's video` });
  }
}

function toActor(requester: Requester): Actor {
  return { kind: 'user', platform: requester.platform, platformUserId: requester.platformUserId };
}

function summarize(job: Job) {
  const { prompt: _prompt, negativePrompt: _negative, ...numbers } = job.params;
  return numbers;
}

/** Adapters build these from platform data; a bug there should fail as a clear InvalidRequest, not deep in the store. */
function checkRequester(requester: Requester): Requester {
  const issues: OptionIssue[] = [];
  checkPlatform('user.platform', requester.platform, issues);
  if (typeof requester.platformUserId !== 'string' || requester.platformUserId.trim() === '' || requester.platformUserId.length > 128) {
    issues.push({ field: 'user.id', message: 'user.id must be 1 to 128 characters.' });
  }
  if (requester.displayName !== undefined && (typeof requester.displayName !== 'string' || requester.displayName.length > 200)) {
    issues.push({ field: 'user.name', message: 'user.name must be at most 200 characters.' });
  }
  if (requester.workspaceId !== undefined && (typeof requester.workspaceId !== 'string' || requester.workspaceId.length > 128)) {
    issues.push({ field: 'user.workspaceId', message: 'user.workspaceId must be at most 128 characters.' });
  }
  if (issues.length > 0) throw videoBotError(ErrorCode.InvalidRequest, { issues });
  return requester;
}

function checkDeliveryKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > DELIVERY_KEY_MAX_LENGTH) {
    const message = `deliveryKey must be 1 to ${DELIVERY_KEY_MAX_LENGTH} characters.`;
    throw videoBotError(ErrorCode.InvalidRequest, { issues: [{ field: 'deliveryKey', message }] });
  }
  return key;
}

function checkDeliveryRequest(request: object): string {
  const json = JSON.stringify(request);
  if (json.length > DELIVERY_REQUEST_MAX_LENGTH) {
    const message = `A delivery's request must be at most ${DELIVERY_REQUEST_MAX_LENGTH} characters of JSON.`;
    throw videoBotError(ErrorCode.InvalidRequest, { issues: [{ field: 'deliveryRequest', message }] });
  }
  return json;
}

function deliveryRecord(key: string, now: Date): DeliveryRecord {
  return { key, expiresAt: new Date(now.getTime() + DELIVERY_LIFETIME_MS) };
}

function checkReply(reply: ReplyContext): ReplyContext {
  const issues: OptionIssue[] = [];
  checkPlatform('reply.platform', reply.platform, issues);
  if (typeof reply.channelId !== 'string' || reply.channelId.length > 256) {
    issues.push({ field: 'reply.channelId', message: 'reply.channelId must be at most 256 characters.' });
  }
  if (reply.extra !== undefined && JSON.stringify(reply.extra).length > 8_192) {
    issues.push({ field: 'reply.extra', message: 'reply.extra must be at most 8192 characters of JSON.' });
  }
  if (issues.length > 0) throw videoBotError(ErrorCode.InvalidRequest, { issues });
  return reply;
}

/** The quota limits where no override applies; the per-user queue limit is the maxQueuedPerUser setting. */
function quotaDefaults(settings: RuntimeSettings): QuotaLimits {
  return { videosPerDay: settings.videosPerDay, gpuSecondsPerDay: settings.gpuSecondsPerDay, maxQueued: settings.maxQueuedPerUser };
}

function checkPlatform(field: string, platform: Platform, issues: OptionIssue[]): void {
  if (!PLATFORMS.includes(platform)) {
    issues.push({ field, message: `${field} must be one of ${PLATFORMS.join(', ')} (got ${JSON.stringify(platform)}).` });
  }
}

function parseQuotaPatch(patch: unknown): Partial<QuotaOverride> {
  const parsed = quotaPatchSchema.safeParse(patch);
  if (parsed.success && Object.keys(parsed.data).length > 0) return parsed.data;
  const issues: OptionIssue[] = [];
  if (parsed.success || patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
    issues.push({ field: '', message: 'Send an object with at least one of videosPerDay, gpuSecondsPerDay, maxQueued.' });
  } else {
    for (const [field, value] of Object.entries(patch as Record<string, unknown>)) {
      // hasOwn: a key such as "toString" must read as unknown, not as an inherited member.
      const range = Object.hasOwn(QUOTA_FIELD_RANGES, field) ? QUOTA_FIELD_RANGES[field] : undefined;
      if (range === undefined) issues.push({ field, message: `${field} is not a quota field (videosPerDay, gpuSecondsPerDay, maxQueued).` });
      else if (!quotaPatchSchema.shape[field as keyof QuotaOverride].safeParse(value).success) {
        issues.push({ field, message: `${field} must be ${range} (got ${JSON.stringify(value)}).` });
      }
    }
  }
  throw videoBotError(ErrorCode.InvalidRequest, { issues });
}

/** A health check's answer, or `unanswered` once HEALTH_TIMEOUT_MS has passed without one. */
async function withinHealthLimit<T>(check: Promise<T>, unanswered: T): Promise<T> {
  const stop = new AbortController();
  const limit = sleep(HEALTH_TIMEOUT_MS, unanswered, { ref: false, signal: stop.signal }).catch(() => unanswered);
  try {
    return await Promise.race([check, limit]);
  } finally {
    stop.abort();
  }
}
