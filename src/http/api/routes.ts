// The HTTP API adapter (/api/v1): parse the request, call the service, render JSON. Every route needs the admin
// token as a bearer token; the API acts for the user named in the body, or as the admin.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { AdminAuth } from '../../service/admin-auth.js';
import { ErrorCode } from '../../core/errors.js';
import type { Actor, Requester } from '../../core/jobs.js';
import { videoBotError } from '../../core/messages.js';
import type { VideoService } from '../../service/video-service.js';
import { publicEngineStatus } from '../server.js';
import {
  auditQuerySchema,
  derivedJobSchema,
  jobCreationHeadersSchema,
  jobListQuerySchema,
  objectBody,
  parseRequest,
  submitSchema,
  userParamsSchema,
  userSchema,
  userUpdateSchema,
} from './schemas.js';
import { sendJobMedia } from '../media.js';
import { jobView, queueView } from './views.js';
import type { z } from 'zod';

export interface HttpApiOptions {
  service: VideoService;
  auth: AdminAuth;
  /** Base of the URLs in responses (PUBLIC_URL). */
  publicUrl: string;
}

/** The API's admin actor, as it appears in the audit log. */
const API_ADMIN: Actor = { kind: 'admin', name: 'api' };

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

function toRequester(user: z.output<typeof userSchema>): Requester {
  return {
    platform: user.platform,
    platformUserId: user.id,
    ...(user.name === undefined ? {} : { displayName: user.name }),
    ...(user.workspaceId === undefined ? {} : { workspaceId: user.workspaceId }),
  };
}

/** The request's Idempotency-Key as the service's delivery key, in the API's own namespace. */
function deliveryOf(request: FastifyRequest): { deliveryKey?: string } {
  const key = parseRequest(jobCreationHeadersSchema, request.headers, 'headers')['idempotency-key'];
  return key === undefined ? {} : { deliveryKey: `api:${key}` };
}

function jobId(request: FastifyRequest): string {
  return (request.params as { id: string }).id;
}

export const httpApi: FastifyPluginAsync<HttpApiOptions> = async (app, { service, auth, publicUrl }) => {
  app.addHook('onRequest', async (request) => {
    if (!auth.verify(bearerToken(request))) throw videoBotError(ErrorCode.Unauthorized, {});
  });

  app.get('/limits', async () => service.optionRanges());

  app.post('/jobs', async (request, reply) => {
    const body = parseRequest(submitSchema, request.body, 'body');
    const { user, reply: replyTo, ...options } = body;
    const result = await service.submit({
      requester: toRequester(user),
      options: options as Parameters<VideoService['submit']>[0]['options'],
      reply: { platform: 'api', channelId: '', ...replyTo },
      ...deliveryOf(request),
    });
    return reply.code(202).header('location', `${publicUrl}/api/v1/jobs/${result.job.id}`).send({
      id: result.job.id,
      status: result.job.status,
      position: result.position,
      etaSeconds: result.etaSeconds,
      seed: result.job.params.seed,
      job: jobView(result.job, publicUrl, result),
    });
  });

  app.get('/jobs', async (request) => {
    const query = parseRequest(jobListQuerySchema, request.query, 'query');
    const jobs = await service.listJobs({
      ...(query.status === undefined ? {} : { statuses: query.status }),
      ...(query.limit === undefined ? {} : { limit: query.limit }),
      ...(query.before === undefined ? {} : { beforeSeq: query.before }),
    });
    return { jobs: jobs.map((job) => jobView(job, publicUrl)), nextBefore: jobs.at(-1)?.seq ?? null };
  });

  app.get('/jobs/:id', async (request) => {
    const status = await service.getJobStatus(jobId(request));
    return jobView(status.job, publicUrl, status);
  });

  app.delete('/jobs/:id', async (request, reply) => {
    const job = await service.cancel(jobId(request), API_ADMIN);
    // 202: the render stops at its next step; the job turns `cancelled` shortly.
    return reply.code(job.status === 'cancelled' ? 200 : 202).send(jobView(job, publicUrl));
  });

  const derived = (kind: 'reroll' | 'reproduce') => async (request: FastifyRequest, reply: FastifyReply) => {
    const body = parseRequest(derivedJobSchema, request.body ?? {}, 'body');
    const parent = await service.getJob(jobId(request));
    const requester = body.user === undefined ? { platform: parent.user.platform, platformUserId: parent.user.platformUserId } : toRequester(body.user);
    const replyTo = body.reply === undefined ? undefined : { platform: requester.platform, ...body.reply };
    const result = await service[kind](parent.id, { requester, ...(replyTo === undefined ? {} : { reply: replyTo }), ...deliveryOf(request) });
    return reply.code(202).send({ id: result.job.id, position: result.position, etaSeconds: result.etaSeconds, seed: result.job.params.seed, job: jobView(result.job, publicUrl, result) });
  };
  app.post('/jobs/:id/reroll', derived('reroll'));
  app.post('/jobs/:id/reproduce', derived('reproduce'));

  app.post('/jobs/:id/promote', async (request) => {
    const result = await service.promote(jobId(request), API_ADMIN);
    return jobView(result.job, publicUrl, result);
  });

  const localJob = async (request: FastifyRequest) => service.withLocalMedia(await service.getJob(jobId(request)));
  app.get('/jobs/:id/video', async (request, reply) => sendJobMedia(request, reply, await localJob(request), 'video'));
  app.get('/jobs/:id/poster', async (request, reply) => sendJobMedia(request, reply, await localJob(request), 'poster'));

  app.get('/queue', async () => {
    const snapshot = service.listQueue();
    return { engine: publicEngineStatus(snapshot.engine), ...queueView(snapshot, publicUrl) };
  });

  app.get('/users/:platform/:id/quota', async (request) => {
    const params = parseRequest(userParamsSchema, request.params, 'path');
    return service.quotaStatus({ platform: params.platform, platformUserId: params.id });
  });

  app.put('/users/:platform/:id/quota', async (request) => {
    const params = parseRequest(userParamsSchema, request.params, 'path');
    return service.setUserQuota({ platform: params.platform, platformUserId: params.id }, objectBody(request.body), API_ADMIN);
  });

  app.put('/users/:platform/:id', async (request) => {
    const params = parseRequest(userParamsSchema, request.params, 'path');
    const changes = parseRequest(userUpdateSchema, request.body, 'body');
    const user = await service.updateUser({ platform: params.platform, platformUserId: params.id }, changes, API_ADMIN);
    return { platform: user.platform, id: user.platformUserId, name: user.displayName, role: user.role, banned: user.banned };
  });

  app.get('/workspaces/:platform/:id/quota', async (request) => {
    const params = parseRequest(userParamsSchema, request.params, 'path');
    return service.getWorkspaceQuota(params.platform, params.id);
  });

  app.put('/workspaces/:platform/:id/quota', async (request) => {
    const params = parseRequest(userParamsSchema, request.params, 'path');
    return service.setWorkspaceQuota(params.platform, params.id, objectBody(request.body), API_ADMIN);
  });

  app.get('/settings', async () => service.getSettings());

  app.put('/settings', async (request) => service.updateSettings(objectBody(request.body), API_ADMIN));

  app.get('/audit', async (request) => {
    const query = parseRequest(auditQuerySchema, request.query, 'query');
    const entries = await service.listAudit(query);
    return { entries: entries.map((e) => ({ ...e, at: e.at.toISOString() })) };
  });
};
