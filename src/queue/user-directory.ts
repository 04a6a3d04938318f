// Users for the dashboard: search by platform user id or display name, with their queued-job counts, a page at a
// time. Read-only; changes go through VideoService (updateUser, setUserQuota), which audits them.
import type { Platform, Role } from '../core/jobs.js';
import type { DatabaseProvider } from '../db/database-url.js';
import type { Prisma, PrismaClient } from '../db/database.js';
import { pageWindow } from '../db/paging.js';
import { userTextFilter } from '../db/text-search.js';

export interface DirectoryUser {
  id: string;
  platform: Platform;
  platformUserId: string;
  workspaceId: string | null;
  displayName: string | null;
  role: Role;
  banned: boolean;
  createdAt: Date;
  queued: number;
}

export interface UserPage {
  users: DirectoryUser[];
  total: number;
  page: number;
  pages: number;
}

export class UserDirectory {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly provider: DatabaseProvider,
  ) {}

  /** Newest first. */
  async search(query: { text?: string; page: number; pageSize: number }): Promise<UserPage> {
    const where: Prisma.UserWhereInput = query.text === undefined ? {} : userTextFilter(this.provider, query.text);
    const total = await this.prisma.user.count({ where });
    const { page, pages, skip } = pageWindow(total, query.page, query.pageSize);
    const rows = await this.prisma.user.findMany({
      where,
      orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
      skip,
      take: query.pageSize,
    });
    const queued =
      rows.length === 0
        ? []
        : await this.prisma.job.groupBy({ by: ['userId'], where: { userId: { in: rows.map((r) => r.id) }, status: 'queued' }, _count: { _all: true } });
    return {
      users: rows.map((row) => ({
        id: row.id,
        platform: row.platform,
        platformUserId: row.platformUserId,
        workspaceId: row.workspaceId,
        displayName: row.displayName,
        role: row.role,
        banned: row.banned,
        createdAt: row.createdAt,
        queued: queued.find((q) => q.userId === row.id)?._count._all ?? 0,
      })),
      total,
      page,
      pages,
    };
  }
}
