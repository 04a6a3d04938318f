// How errors look on the wire: `{ error: { code, message, details } }` with a status per code. Unknown errors
// become 500 Internal with a generic message; their details go to the log only, never to the client.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, VideoBotError, asVideoBotError } from '../core/errors.js';
import { userMessage, videoBotError } from '../core/messages.js';

export const HTTP_STATUS: Record<ErrorCode, number> = {
  [ErrorCode.InvalidRequest]: 400,
  [ErrorCode.InvalidOptions]: 400,
  [ErrorCode.PromptRejected]: 400,
  [ErrorCode.Unauthorized]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.UserBanned]: 403,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.InvalidState]: 409,
  [ErrorCode.UploadTooLarge]: 413,
  [ErrorCode.QuotaExceeded]: 429,
  [ErrorCode.TooManyQueued]: 429,
  [ErrorCode.EngineFailed]: 500,
  [ErrorCode.JobInterrupted]: 500,
  [ErrorCode.Internal]: 500,
  [ErrorCode.PlatformError]: 502,
  [ErrorCode.QueueFull]: 503,
  [ErrorCode.ShuttingDown]: 503,
  [ErrorCode.Unavailable]: 503,
};

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details: Record<string, unknown> };
}

export function errorBody(error: VideoBotError): ErrorBody {
  const internal = error.code === ErrorCode.Internal;
  return { error: { code: error.code, message: userMessage(error), details: internal ? {} : { ...error.details } } };
}

/** Messages for Fastify's own client errors, in our words. */
const FASTIFY_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'The request body is too large.',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'The request body must be JSON (Content-Type: application/json).',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'The request body is empty; send a JSON object.',
  FST_ERR_CTP_INVALID_JSON_BODY: 'The request body is not valid JSON.',
};

/**
 * Fastify's own client errors (bad JSON, wrong content type, body too large) become InvalidRequest: 400, except a
 * too-large body, which keeps 413 so clients know that retrying the same request cannot work.
 */
function fromFastify(error: FastifyError): { status: number; error: VideoBotError } | undefined {
  const status = error.statusCode ?? 0;
  if (status < 400 || status >= 500) return undefined;
  const raw = FASTIFY_MESSAGES[error.code] ?? error.message;
  const message = raw.endsWith('.') ? raw : `${raw}.`;
  return {
    status: status === 413 ? 413 : 400,
    error: videoBotError(ErrorCode.InvalidRequest, { issues: [{ field: '', message }] }),
  };
}

export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const client = error instanceof VideoBotError ? undefined : fromFastify(error as FastifyError);
  const videoError = client?.error ?? asVideoBotError(error);
  const status = client?.status ?? HTTP_STATUS[videoError.code] ?? 500;
  if (status >= 500) request.log.error({ err: error }, 'request failed');
  else request.log.info({ code: videoError.code, status }, 'request rejected');
  if (status === 401) void reply.header('www-authenticate', 'Bearer');
  if (videoError.is(ErrorCode.Unavailable) && videoError.details.retryAfterSeconds !== undefined) {
    void reply.header('retry-after', String(videoError.details.retryAfterSeconds));
  }
  return reply.code(status).type('application/json').send(errorBody(videoError));
}
