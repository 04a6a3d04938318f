import type { FastifyInstance, FastifyRequest } from 'fastify';
import { csrfToken, DASHBOARD_ACTOR, pageFrame, redirectWithFlash, refererPage, sendHtml, type AdminContext } from '../context.js';
import { jobIdParam } from '../forms.js';
import { queuePage, queueTables } from '../views/queue.js';

/** Back to the page the button was on (the overview has a cancel button too), else the queue. */
function returnTo(request: FastifyRequest): string {
  const page = refererPage(request);
  return page === '/admin' || page === '/admin/' ? '/admin' : '/admin/queue';
}

export async function queueRoutes(app: FastifyInstance, { ctx }: { ctx: AdminContext }): Promise<void> {
  app.get('/queue', async (request, reply) => sendHtml(reply, queuePage(pageFrame(request, reply), ctx.service.listQueue())));

  app.get('/api/fragments/queue', async (request, reply) => sendHtml(reply, queueTables(ctx.service.listQueue(), csrfToken(request, reply))));

  app.get('/api/events', async (_request, reply) => {
    if (!ctx.live.hasRoom) return reply.code(503).header('retry-after', '30').send({ error: { code: 'videobot_busy', message: 'Too many dashboard pages are open; live updates resume shortly.', details: {} } });
    ctx.live.attach(reply);
    return reply;
  });

  app.post('/queue/:id/cancel', async (request, reply) => {
    const job = await ctx.service.cancel(jobIdParam(request.params), DASHBOARD_ACTOR);
    const text = job.status === 'cancelled' ? 'Job cancelled.' : 'Cancelling: the render stops at its next step.';
    return redirectWithFlash(request, reply, returnTo(request), { kind: 'ok', text });
  });

  app.post('/queue/:id/promote', async (request, reply) => {
    const result = await ctx.service.promote(jobIdParam(request.params), DASHBOARD_ACTOR);
    return redirectWithFlash(request, reply, '/admin/queue', { kind: 'ok', text: `Moved to position ${result.position}.` });
  });
}
