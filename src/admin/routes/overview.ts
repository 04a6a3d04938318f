import type { FastifyInstance } from 'fastify';
import { csrfToken, pageFrame, sendHtml, USAGE_DAYS, type AdminContext } from '../context.js';
import { overviewLive, overviewPage, type OverviewLive } from '../views/overview.js';

const BUSIEST_USERS = 5;

async function liveData(ctx: AdminContext): Promise<OverviewLive> {
  const snapshot = ctx.service.listQueue();
  return {
    engine: snapshot.engine,
    workers: snapshot.workers,
    running: snapshot.running,
    queued: snapshot.queued.length,
    today: await ctx.stats.today(ctx.now()),
    now: ctx.now(),
  };
}

export async function overviewRoutes(app: FastifyInstance, { ctx }: { ctx: AdminContext }): Promise<void> {
  app.get('/', async (request, reply) => {
    const now = ctx.now();
    const [live, daily, busiest] = await Promise.all([
      liveData(ctx),
      ctx.stats.dailyByPlatform(USAGE_DAYS, now),
      ctx.stats.busiestUsers(USAGE_DAYS, now, BUSIEST_USERS),
    ]);
    return sendHtml(reply, overviewPage({ frame: pageFrame(request, reply), live, daily, busiest, days: USAGE_DAYS }));
  });

  app.get('/api/fragments/overview', async (request, reply) => {
    return sendHtml(reply, overviewLive(await liveData(ctx), csrfToken(request, reply)));
  });
}
