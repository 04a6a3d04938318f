import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { streamJobMedia } from '../../http/media.js';
import { ErrorCode } from '../../core/errors.js';
import { JOB_STATUSES, PLATFORMS } from '../../core/jobs.js';
import type { MediaKind } from '../../service/media-links.js';
import { videoBotError } from '../../core/messages.js';
import { DASHBOARD_ACTOR, pageFrame, redirectWithFlash, refererPage, sendHtml, type AdminContext } from '../context.js';
import { choice, jobIdParam, pageNumber, parseFields, text, utcDate } from '../forms.js';
import { historyPage } from '../views/history.js';

const PAGE_SIZE = 20;
const DAY_MS = 86_400_000;

const historyQuery = z
  .object({ user: text(128), platform: choice(PLATFORMS), status: choice(JOB_STATUSES), from: utcDate, to: utcDate, page: pageNumber })
  .loose();

export async function historyRoutes(app: FastifyInstance, { ctx }: { ctx: AdminContext }): Promise<void> {
  app.get('/history', async (request, reply) => {
    const q = parseFields(historyQuery, request.query);
    if (q.from !== undefined && q.to !== undefined && q.to < q.from) {
      throw videoBotError(ErrorCode.InvalidRequest, { issues: [{ field: 'to', message: 'to: must not be before from.' }] });
    }
    const result = await ctx.history.search({
      ...(q.user === undefined ? {} : { user: q.user }),
      ...(q.platform === undefined ? {} : { platform: q.platform }),
      ...(q.status === undefined ? {} : { statuses: [q.status] }),
      ...(q.from === undefined ? {} : { from: q.from }),
      // The form's "to" day is included: everything before the next day's start.
      ...(q.to === undefined ? {} : { to: new Date(q.to.getTime() + DAY_MS) }),
      page: q.page,
      pageSize: PAGE_SIZE,
    });
    const day = (d: Date | undefined) => d?.toISOString().slice(0, 10);
    const query = { user: q.user, platform: q.platform, status: q.status, from: day(q.from), to: day(q.to) };
    return sendHtml(reply, historyPage({ frame: pageFrame(request, reply), query, result }));
  });

  app.post('/history/:id/delete-video', async (request, reply) => {
    await ctx.service.deleteVideo(jobIdParam(request.params), DASHBOARD_ACTOR);
    const back = refererPage(request, '/admin/history') ?? '/admin/history';
    return redirectWithFlash(request, reply, back, { kind: 'ok', text: 'Video deleted; the job stays in the history.' });
  });

  /** The job's files for the inline player, behind the dashboard session (the /api/v1 URLs need the bearer token). */
  const sendMedia = async (request: FastifyRequest, reply: FastifyReply, kind: MediaKind) => {
    const job = await ctx.service.withLocalMedia(await ctx.service.getJob(jobIdParam(request.params)));
    return streamJobMedia(request, reply, job, kind, { 'cache-control': 'private, max-age=300' });
  };
  app.get('/jobs/:id/video', (request, reply) => sendMedia(request, reply, 'video'));
  app.get('/jobs/:id/poster', (request, reply) => sendMedia(request, reply, 'poster'));
}
