import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ErrorCode } from '../../core/errors.js';
import { PLATFORMS, ROLES } from '../../core/jobs.js';
import { videoBotError } from '../../core/messages.js';
import type { UserRef } from '../../service/video-service.js';
import { DASHBOARD_ACTOR, pageFrame, redirectWithFlash, refererPage, sendHtml, USAGE_DAYS, type AdminContext } from '../context.js';
import { choice, optionalWholeNumber, pageNumber, parseFields, text } from '../forms.js';
import { userHref } from '../views/components.js';
import { userDetailPage, usersPage } from '../views/users.js';

const PAGE_SIZE = 25;
const RECENT_JOBS = 5;

const userParams = z.object({ platform: z.enum(PLATFORMS, { error: `must be one of ${PLATFORMS.join(', ')}` }), id: z.string().min(1).max(128) });
const listQuery = z.object({ q: text(128), page: pageNumber }).loose();
const quotaForm = z.object({ videosPerDay: optionalWholeNumber, gpuSecondsPerDay: optionalWholeNumber, maxQueued: optionalWholeNumber }).loose();
const roleForm = z.object({ role: choice(ROLES) }).loose();
const banForm = z.object({ banned: choice(['true', 'false'] as const) }).loose();

function userRef(request: FastifyRequest): UserRef {
  const params = parseFields(userParams, request.params);
  return { platform: params.platform, platformUserId: params.id };
}

/** Empty fields are null (inherit); fields missing from the form stay as they are. */
function quotaPatch(body: unknown): Record<string, number | null> {
  const form = parseFields(quotaForm, body);
  const fields = { videosPerDay: form.videosPerDay, gpuSecondsPerDay: form.gpuSecondsPerDay, maxQueued: form.maxQueued };
  return Object.fromEntries(Object.entries(fields).filter((entry): entry is [string, number | null] => entry[1] !== undefined));
}

function required<T>(value: T | undefined, field: string, allowed: string): T {
  if (value === undefined) throw videoBotError(ErrorCode.InvalidRequest, { issues: [{ field, message: `${field} is required (${allowed}).` }] });
  return value;
}

export async function userRoutes(app: FastifyInstance, { ctx }: { ctx: AdminContext }): Promise<void> {
  /** The user must exist: the dashboard edits people who have used the bot, not typos in a URL. */
  async function knownUser(request: FastifyRequest) {
    const ref = userRef(request);
    const record = await ctx.store.findUser(ref.platform, ref.platformUserId);
    if (record === null) throw videoBotError(ErrorCode.NotFound, { entity: 'user', id: `${ref.platform}:${ref.platformUserId}` });
    return { ref, record };
  }

  app.get('/users', async (request, reply) => {
    const query = parseFields(listQuery, request.query);
    const result = await ctx.users.search({ ...(query.q === undefined ? {} : { text: query.q }), page: query.page, pageSize: PAGE_SIZE });
    const usage = await ctx.stats.usageByUser(result.users.map((u) => u.id), USAGE_DAYS, ctx.now());
    return sendHtml(reply, usersPage({ frame: pageFrame(request, reply), query: query.q ?? '', result, usage, days: USAGE_DAYS }));
  });

  app.get('/users/:platform/:id', async (request, reply) => {
    const { ref, record } = await knownUser(request);
    const status = await ctx.service.quotaStatus(ref);
    const { workspaceId, platform } = status.user;
    const [usage, recent, workspace] = await Promise.all([
      ctx.stats.usageByUser([status.userId], USAGE_DAYS, ctx.now()),
      ctx.service.listJobs({ userId: status.userId, limit: RECENT_JOBS }),
      workspaceId === undefined ? { videosPerDay: null, gpuSecondsPerDay: null, maxQueued: null } : ctx.service.getWorkspaceQuota(platform, workspaceId),
    ]);
    return sendHtml(
      reply,
      userDetailPage({ frame: pageFrame(request, reply), status, workspace, displayName: record.displayName, usage: usage.get(status.userId)!, days: USAGE_DAYS, recent }),
    );
  });

  app.post('/users/:platform/:id/quota', async (request, reply) => {
    const { ref } = await knownUser(request);
    await ctx.service.setUserQuota(ref, quotaPatch(request.body), DASHBOARD_ACTOR);
    return redirectWithFlash(request, reply, userHref(ref), { kind: 'ok', text: 'Quota saved; it applies to the next request.' });
  });

  /** Workspace overrides are edited from the page of one of its users (the form posts back there). */
  app.post('/workspaces/:platform/:id/quota', async (request, reply) => {
    const workspace = parseFields(userParams, request.params);
    await ctx.service.setWorkspaceQuota(workspace.platform, workspace.id, quotaPatch(request.body), DASHBOARD_ACTOR);
    return redirectWithFlash(request, reply, refererPage(request, '/admin/users/') ?? '/admin/users', {
      kind: 'ok',
      text: `Workspace quota saved for ${workspace.id}; it applies to the next request of everyone in it.`,
    });
  });

  app.post('/users/:platform/:id/role', async (request, reply) => {
    const { ref } = await knownUser(request);
    const role = required(parseFields(roleForm, request.body).role, 'role', ROLES.join(', '));
    await ctx.service.updateUser(ref, { role }, DASHBOARD_ACTOR);
    return redirectWithFlash(request, reply, userHref(ref), { kind: 'ok', text: `Role set to ${role}.` });
  });

  app.post('/users/:platform/:id/ban', async (request, reply) => {
    const { ref } = await knownUser(request);
    const banned = required(parseFields(banForm, request.body).banned, 'banned', 'true or false') === 'true';
    await ctx.service.updateUser(ref, { banned }, DASHBOARD_ACTOR);
    return redirectWithFlash(request, reply, userHref(ref), { kind: 'ok', text: banned ? 'User banned: their next requests are refused.' : 'User unbanned.' });
  });
}
