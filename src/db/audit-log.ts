// Who changed what, for admins: every admin action (settings, quotas, roles, promotions, cancels of other users'
// jobs) appends one entry. Append-only; entries are listed newest first.
import type { Actor } from '../core/jobs.js';
import type { PrismaClient } from './database.js';

export interface AuditEntry {
  id: string;
  at: Date;
  /** 'admin:<name>' or '<platform>:<platformUserId>'. */
  actor: string;
  /** Dotted verb, for example 'settings.update', 'quota.set', 'job.promote'. */
  action: string;
  target: string | null;
  details: Record<string, unknown>;
}

export interface AuditQuery {
  /** Default 50, at most 500. */
  limit?: number;
  /** Entries strictly older than this id's entry (paging). */
  before?: string;
  action?: string;
}

export function actorLabel(actor: Actor): string {
  return actor.kind === 'admin' ? `admin:${actor.name}` : `${actor.platform}:${actor.platformUserId}`;
}

export class AuditLog {
  constructor(private readonly prisma: PrismaClient) {}

  async append(entry: { actor: Actor | string; action: string; target?: string; details?: Record<string, unknown> }): Promise<AuditEntry> {
    const row = await this.prisma.auditEntry.create({
      data: {
        actor: typeof entry.actor === 'string' ? entry.actor : actorLabel(entry.actor),
        action: entry.action,
        target: entry.target ?? null,
        details: JSON.stringify(entry.details ?? {}),
      },
    });
    return toEntry(row);
  }

  async list(query: AuditQuery = {}): Promise<AuditEntry[]> {
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
    const cursor = query.before === undefined ? undefined : await this.prisma.auditEntry.findUnique({ where: { id: query.before } });
    const rows = await this.prisma.auditEntry.findMany({
      where: {
        ...(query.action === undefined ? {} : { action: query.action }),
        ...(cursor === undefined || cursor === null
          ? {}
          : { OR: [{ at: { lt: cursor.at } }, { at: cursor.at, id: { lt: cursor.id } }] }),
      },
      orderBy: [{ at: 'desc' }, { id: 'desc' }],
      take: limit,
    });
    return rows.map(toEntry);
  }
}

function toEntry(row: { id: string; at: Date; actor: string; action: string; target: string | null; details: string }): AuditEntry {
  let details: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(row.details) as unknown;
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) details = parsed as Record<string, unknown>;
  } catch {
    // Details are written by this module as JSON; an unreadable row still lists, without details.
  }
  return { id: row.id, at: row.at, actor: row.actor, action: row.action, target: row.target, details };
}
