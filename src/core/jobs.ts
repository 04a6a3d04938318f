// The job as every adapter sees it: platform-agnostic, plain data (no Prisma types), safe to serialize.
import type { ErrorCode } from './errors.js';
import type { RenderParams } from './ports.js';

export const PLATFORMS = ['discord', 'slack', 'api'] as const;
export type Platform = (typeof PLATFORMS)[number];

export const ROLES = ['user', 'trusted', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const FINISHED_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

/** Who asks for a video, as the platform identifies them. */
export interface Requester {
  platform: Platform;
  platformUserId: string;
  /** Discord guild or Slack team; workspace quota overrides apply by it. */
  workspaceId?: string;
  displayName?: string;
}

/**
 * Where the adapter answers. Persisted with the job so that after a restart the adapter can keep updating
 * the same thread. `extra` is adapter-owned JSON (kept small: it is stored as text).
 */
export interface ReplyContext {
  platform: Platform;
  channelId: string;
  threadId?: string;
  messageId?: string;
  extra?: Record<string, unknown>;
}

/** Who performs an action: a platform user (allowed on their own jobs, or everywhere with the admin role) or an admin. */
export type Actor =
  | { kind: 'user'; platform: Platform; platformUserId: string }
  /** Holder of the admin token (HTTP API, dashboard); `name` goes into the audit log. */
  | { kind: 'admin'; name: string };

export interface JobProgress {
  step: number;
  totalSteps: number;
  /** Estimated milliseconds left, null when unknown. */
  etaMs: number | null;
}

export interface JobOutput {
  mediaPath: string;
  mediaType: 'video/mp4' | 'image/png';
  bytes: number;
  posterPath: string | null;
}

export interface JobUser {
  id: string;
  platform: Platform;
  platformUserId: string;
  displayName: string | null;
  role: Role;
}

export interface Job {
  id: string;
  /** Submit order across the whole service. */
  seq: number;
  user: JobUser;
  workspaceId: string | null;
  params: RenderParams;
  status: JobStatus;
  attempts: number;
  promotedAt: Date | null;
  estimatedSeconds: number;
  progress: JobProgress;
  error: { code: ErrorCode | string; message: string } | null;
  output: JobOutput | null;
  gpuSeconds: number | null;
  reply: ReplyContext;
  /** The job this one rerolls or reproduces. */
  parentJobId: string | null;
  /** While running: the worker (process) rendering it (WorkerStatus.id). */
  workerId: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}
