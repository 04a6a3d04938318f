import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { pageFrame, sendHtml, type AdminContext } from '../context.js';
import { choice, parseFields, text } from '../forms.js';
import { auditPage } from '../views/audit.js';

const PAGE_SIZE = 50;

/** What the service and the dashboard record (the filter's choices). */
export const AUDIT_ACTIONS = [
  'admin.login',
  'admin.logout',
  'job.cancel',
  'job.promote',
  'job.video.delete',
  'quota.user.set',
  'quota.workspace.set',
  'settings.update',
  'user.update',
] as const;

const auditQuery = z.object({ action: choice(AUDIT_ACTIONS), before: text(64) }).loose();

export async function auditRoutes(app: FastifyInstance, { ctx }: { ctx: AdminContext }): Promise<void> {
  app.get('/audit', async (request, reply) => {
    const query = parseFields(auditQuery, request.query);
    const entries = await ctx.service.listAudit({
      limit: PAGE_SIZE,
      ...(query.action === undefined ? {} : { action: query.action }),
      ...(query.before === undefined ? {} : { before: query.before }),
    });
    const nextBefore = entries.length === PAGE_SIZE ? entries.at(-1)!.id : null;
    return sendHtml(reply, auditPage({ frame: pageFrame(request, reply), entries, action: query.action ?? '', nextBefore, actions: AUDIT_ACTIONS }));
  });
}
