// Finished and unfinished jobs for the dashboard's history: filtered by user, platform, status and submit date,
// newest first, one page at a time with the total for the pager. Read-only; state changes stay in job-store.ts.
import type { Job, JobStatus, Platform } from '../core/jobs.js';
import type { DatabaseProvider } from '../db/database-url.js';
import type { Prisma, PrismaClient } from '../db/database.js';
import { pageWindow } from '../db/paging.js';
import { userTextFilter } from '../db/text-search.js';
import { toJob } from './job-store.js';

export interface HistoryFilter {
  /** Part of the platform user id or display name (case-insensitive). */
  user?: string;
  /** The requester's platform (a Discord user's job sent through the HTTP API counts as discord). */
  platform?: Platform;
  statuses?: JobStatus[];
  /** Submitted at or after. */
  from?: Date;
  /** Submitted before. */
  to?: Date;
  /** 1-based. */
  page: number;
  pageSize: number;
}

export interface HistoryPage {
  jobs: Job[];
  total: number;
  page: number;
  pages: number;
}

export class JobHistory {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly provider: DatabaseProvider,
  ) {}

  async search(filter: HistoryFilter): Promise<HistoryPage> {
    const user: Prisma.UserWhereInput = {
      ...(filter.platform === undefined ? {} : { platform: filter.platform }),
      ...(filter.user === undefined ? {} : userTextFilter(this.provider, filter.user)),
    };
    const where: Prisma.JobWhereInput = {
      ...(Object.keys(user).length === 0 ? {} : { user }),
      ...(filter.statuses === undefined || filter.statuses.length === 0 ? {} : { status: { in: filter.statuses } }),
      ...(filter.from === undefined && filter.to === undefined
        ? {}
        : { createdAt: { ...(filter.from === undefined ? {} : { gte: filter.from }), ...(filter.to === undefined ? {} : { lt: filter.to }) } }),
    };
    const total = await this.prisma.job.count({ where });
    const { page, pages, skip } = pageWindow(total, filter.page, filter.pageSize);
    const rows = await this.prisma.job.findMany({
      where,
      orderBy: { seq: 'desc' },
      skip,
      take: filter.pageSize,
      include: { user: true },
    });
    return { jobs: rows.map(toJob), total, page, pages };
  }
}
