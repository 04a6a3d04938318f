// A job's files over HTTP, for two audiences: the API (`/api/v1/jobs/:id/video|poster`, admin token) and signed
// links (`/media/:jobId/:kind?exp=&sig=`, no token; see service/media-links.ts), which is what chat users open when a
// video could not be uploaded. Both stream through sendJobMedia, and the dashboard's player through streamJobMedia:
// Range requests (players seek), 404 once retention removed the file.
import { basename, dirname } from 'node:path';
import send from '@fastify/send';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode } from '../core/errors.js';
import type { Job } from '../core/jobs.js';
import { MEDIA_KINDS, MEDIA_PATH, type MediaKind } from '../service/media-links.js';
import { videoBotError } from '../core/messages.js';
import { errorBody } from './errors.js';
import type { VideoService } from '../service/video-service.js';

/** Streams the job's video (MP4, or PNG for one frame) or poster, honouring Range; only a finished video is served. */
export async function sendJobMedia(request: FastifyRequest, reply: FastifyReply, job: Job, kind: MediaKind): Promise<FastifyReply> {
  if (job.status !== 'succeeded') throw videoBotError(ErrorCode.InvalidState, { jobId: job.id, status: job.status, action: 'video' });
  return streamJobMedia(request, reply, job, kind);
}

/**
 * Streams whatever file the job has, whatever its status (the dashboard's player). `headers` go on the file
 * response only: a refusal (404) must not carry, say, a cache lifetime meant for the file.
 */
export async function streamJobMedia(
  request: FastifyRequest,
  reply: FastifyReply,
  job: Job,
  kind: MediaKind,
  headers: Record<string, string> = {},
): Promise<FastifyReply> {
  const path = kind === 'video' ? job.output?.mediaPath : job.output?.posterPath;
  if (path === undefined || path === null) throw videoBotError(ErrorCode.NotFound, { entity: 'video', id: job.id });
  // Root + base name: send() refuses anything that would leave the job's folder.
  const result = await send(request.raw, basename(path), { root: dirname(path), acceptRanges: true, cacheControl: false, dotfiles: 'deny' });
  if (result.statusCode === 416) {
    // A Range past the end of the file: the file is there, so say so (with its size in Content-Range), not 404.
    const outside = videoBotError(ErrorCode.InvalidRequest, { issues: [{ field: 'range', message: 'The requested byte range lies outside the file; Content-Range gives its size.' }] });
    return reply.code(416).header('content-range', result.headers['Content-Range']).type('application/json').send(errorBody(outside));
  }
  if (result.type !== 'file') {
    // The file was removed (retention) or is unreadable.
    throw videoBotError(ErrorCode.NotFound, { entity: 'video', id: job.id });
  }
  const contentType = kind === 'video' ? job.output!.mediaType : 'image/png';
  return reply.code(result.statusCode).headers(result.headers).header('content-type', contentType).headers(headers).send(result.stream);
}

export interface MediaLinkRoutesOptions {
  service: VideoService;
}

/** GET /media/:jobId/:kind?exp=&sig=: no token, the signature is the permission. */
export const mediaLinkRoutes: FastifyPluginAsync<MediaLinkRoutesOptions> = async (app, { service }) => {
  app.get(`${MEDIA_PATH}/:jobId/:kind`, async (request, reply) => {
    const { jobId, kind } = request.params as { jobId: string; kind: string };
    if (!(MEDIA_KINDS as readonly string[]).includes(kind)) {
      throw videoBotError(ErrorCode.NotFound, { entity: 'route', id: `GET ${MEDIA_PATH}/${jobId}/${kind}` });
    }
    const query = request.query as Record<string, string | string[] | undefined>;
    const single = (value: string | string[] | undefined) => (typeof value === 'string' ? value : undefined);
    const job = await service.openMediaLink({ jobId, kind: kind as MediaKind, exp: single(query.exp), sig: single(query.sig) });
    // The link is the only permission: keep it out of Referer headers and shared caches.
    void reply.header('referrer-policy', 'no-referrer').header('cache-control', 'private');
    return sendJobMedia(request, reply, await service.withLocalMedia(job), kind as MediaKind);
  });
};
