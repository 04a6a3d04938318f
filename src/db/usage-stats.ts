// Read-only aggregates for the dashboard: today's counts, the last days' videos and GPU-seconds per platform, the
// busiest users, and per-user quota usage. Days are UTC days, as for quotas (core/quota.ts).
//
// Per-day sums are added up here rather than with SQL date functions, which differ between SQLite and Postgres:
// a week of jobs is at most a few thousand rows on one GPU, read with a narrow select on the startedAt/finishedAt
// indexes, so this stays cheap and the query code stays the same for both providers.
import { PLATFORMS, type Platform } from '../core/jobs.js';
import { utcDay } from '../core/quota.js';
import type { PrismaClient } from './database.js';

const DAY_MS = 86_400_000;

export interface TodayCounts {
  /** Jobs submitted since 00:00 UTC. */
  submitted: number;
  succeeded: number;
  failed: number;
  cancelled: number;
}

export interface DailyByPlatform {
  /** 'YYYY-MM-DD' (UTC), oldest first, ending today. */
  days: string[];
  /** Videos finished successfully per day, by the requester's platform. */
  videos: Record<Platform, number[]>;
  /** GPU-seconds spent per day (every finished render, including failed and cancelled ones), by the requester's platform. */
  gpuSeconds: Record<Platform, number[]>;
}

export interface BusyUser {
  userId: string;
  platform: Platform;
  platformUserId: string;
  displayName: string | null;
  videos: number;
  gpuSeconds: number;
}

export interface UsageTotals {
  videos: number;
  gpuSeconds: number;
}

export interface UserUsage {
  today: UsageTotals;
  /** The last `days` UTC days including today. */
  window: UsageTotals;
}

export function utcDayStart(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
}

/** The `days` UTC dates ending with the one containing `now`, oldest first. */
export function lastDays(days: number, now: Date): string[] {
  const today = utcDayStart(now).getTime();
  return Array.from({ length: days }, (_, i) => utcDay(new Date(today - (days - 1 - i) * DAY_MS)));
}

function emptySeries(length: number): Record<Platform, number[]> {
  return Object.fromEntries(PLATFORMS.map((p) => [p, new Array<number>(length).fill(0)])) as Record<Platform, number[]>;
}

export class UsageStats {
  constructor(private readonly prisma: PrismaClient) {}

  /** Counts for the UTC day containing `now`. */
  async today(now: Date): Promise<TodayCounts> {
    const day = { gte: utcDayStart(now), lt: new Date(utcDayStart(now).getTime() + DAY_MS) };
    const [submitted, finished] = await Promise.all([
      this.prisma.job.count({ where: { createdAt: day } }),
      this.prisma.job.groupBy({ by: ['status'], where: { finishedAt: day }, _count: { _all: true } }),
    ]);
    const count = (status: string) => finished.find((g) => g.status === status)?._count._all ?? 0;
    return { submitted, succeeded: count('succeeded'), failed: count('failed'), cancelled: count('cancelled') };
  }

  async dailyByPlatform(days: number, now: Date): Promise<DailyByPlatform> {
    const labels = lastDays(days, now);
    const since = new Date(`${labels[0]}T00:00:00.000Z`);
    const rows = await this.prisma.job.findMany({
      where: { finishedAt: { gte: since } },
      select: { finishedAt: true, status: true, gpuSeconds: true, user: { select: { platform: true } } },
    });
    const videos = emptySeries(days);
    const gpuSeconds = emptySeries(days);
    for (const row of rows) {
      const index = labels.indexOf(utcDay(row.finishedAt!));
      if (index < 0) continue;
      if (row.status === 'succeeded') videos[row.user.platform][index]! += 1;
      gpuSeconds[row.user.platform][index]! += row.gpuSeconds ?? 0;
    }
    return { days: labels, videos, gpuSeconds };
  }

  /** Users by GPU-seconds spent on renders finished in the last `days` UTC days, most first. */
  async busiestUsers(days: number, now: Date, limit: number): Promise<BusyUser[]> {
    const since = new Date(utcDayStart(now).getTime() - (days - 1) * DAY_MS);
    const groups = await this.prisma.job.groupBy({
      by: ['userId'],
      where: { finishedAt: { gte: since }, gpuSeconds: { gt: 0 } },
      _sum: { gpuSeconds: true },
      orderBy: { _sum: { gpuSeconds: 'desc' } },
      take: limit,
    });
    if (groups.length === 0) return [];
    const ids = groups.map((g) => g.userId);
    const [users, videos] = await Promise.all([
      this.prisma.user.findMany({ where: { id: { in: ids } } }),
      this.prisma.job.groupBy({ by: ['userId'], where: { userId: { in: ids }, status: 'succeeded', finishedAt: { gte: since } }, _count: { _all: true } }),
    ]);
    return groups.flatMap((group) => {
      const user = users.find((u) => u.id === group.userId);
      if (user === undefined) return [];
      return [
        {
          userId: user.id,
          platform: user.platform,
          platformUserId: user.platformUserId,
          displayName: user.displayName,
          videos: videos.find((v) => v.userId === user.id)?._count._all ?? 0,
          gpuSeconds: group._sum.gpuSeconds ?? 0,
        },
      ];
    });
  }

  /**
   * Quota usage from the ledger (what the quota checks count: reservations, settlements and refunds), per user:
   * today and the last `days` UTC days. Users without entries get zeros.
   */
  async usageByUser(userIds: string[], days: number, now: Date): Promise<Map<string, UserUsage>> {
    const labels = lastDays(days, now);
    const today = labels.at(-1)!;
    const groups =
      userIds.length === 0
        ? []
        : await this.prisma.usageEntry.groupBy({
            by: ['userId', 'day'],
            where: { userId: { in: userIds }, day: { gte: labels[0]! } },
            _sum: { videos: true, gpuSeconds: true },
          });
    const usage = new Map<string, UserUsage>(userIds.map((id) => [id, { today: { videos: 0, gpuSeconds: 0 }, window: { videos: 0, gpuSeconds: 0 } }]));
    for (const group of groups) {
      const entry = usage.get(group.userId)!;
      const videos = group._sum.videos ?? 0;
      const gpuSeconds = group._sum.gpuSeconds ?? 0;
      entry.window.videos += videos;
      entry.window.gpuSeconds += gpuSeconds;
      if (group.day === today) {
        entry.today.videos += videos;
        entry.today.gpuSeconds += gpuSeconds;
      }
    }
    // A day's settlements can undershoot its reservations by float noise; usage is never negative.
    for (const entry of usage.values()) {
      entry.today.gpuSeconds = Math.max(0, entry.today.gpuSeconds);
      entry.window.gpuSeconds = Math.max(0, entry.window.gpuSeconds);
    }
    return usage;
  }
}
