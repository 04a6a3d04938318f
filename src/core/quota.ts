// Quota policy as pure functions: which limits apply to a user (user override, then workspace override, then the
// default settings) and whether one more reservation fits. Days are UTC days; quotas reset at 00:00 UTC.
import { ErrorCode } from './errors.js';
import { videoBotError } from './messages.js';
import type { VideoBotError } from './errors.js';

export interface QuotaLimits {
  videosPerDay: number;
  gpuSecondsPerDay: number;
  maxQueued: number;
}

/** null = inherit from the broader scope. */
export type QuotaOverride = { [K in keyof QuotaLimits]: number | null };

export type QuotaSource = 'default' | 'workspace' | 'user';

export interface ResolvedQuota {
  limits: QuotaLimits;
  /** Where each limit came from, for the dashboard and the API. */
  sources: Record<keyof QuotaLimits, QuotaSource>;
}

export interface QuotaUsage {
  videos: number;
  gpuSeconds: number;
}

const QUOTA_FIELDS = ['videosPerDay', 'gpuSecondsPerDay', 'maxQueued'] as const;

export function resolveQuota(
  defaults: QuotaLimits,
  workspace: QuotaOverride | null,
  user: QuotaOverride | null,
): ResolvedQuota {
  const limits = { ...defaults };
  const sources = { videosPerDay: 'default', gpuSecondsPerDay: 'default', maxQueued: 'default' } as ResolvedQuota['sources'];
  for (const [scope, override] of [['workspace', workspace], ['user', user]] as const) {
    if (override === null) continue;
    for (const field of QUOTA_FIELDS) {
      const value = override[field];
      if (value !== null) {
        limits[field] = value;
        sources[field] = scope;
      }
    }
  }
  return { limits, sources };
}

/** 'YYYY-MM-DD' of the UTC day containing `at`. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** The next 00:00 UTC after `at`, when daily quotas reset. */
export function nextReset(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate() + 1));
}

/** The error for the first limit that one more job of `estimatedSeconds` would exceed, or null when it fits. */
export function quotaViolation(
  usage: QuotaUsage,
  limits: QuotaLimits,
  estimatedSeconds: number,
  now: Date,
): VideoBotError | null {
  const resetAt = nextReset(now).toISOString();
  if (usage.videos + 1 > limits.videosPerDay) {
    return videoBotError(ErrorCode.QuotaExceeded, {
      kind: 'videos',
      used: usage.videos,
      limit: limits.videosPerDay,
      requested: 1,
      resetAt,
    });
  }
  if (usage.gpuSeconds + estimatedSeconds > limits.gpuSecondsPerDay) {
    return videoBotError(ErrorCode.QuotaExceeded, {
      kind: 'gpuSeconds',
      used: Math.round(usage.gpuSeconds * 10) / 10,
      limit: limits.gpuSecondsPerDay,
      requested: Math.round(estimatedSeconds * 10) / 10,
      resetAt,
    });
  }
  return null;
}
