// The one HTTP server of the service. It owns the cross-cutting parts (error format, 404s, health, metrics) and
// registers route plugins: the HTTP API (src/http/api), signed media links, the dashboard (src/admin), plus any
// @fastify/* plugin (rate limiting, cookies, helmet) registered before them by the composition root.
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { ErrorCode } from '../core/errors.js';
import { videoBotError } from '../core/messages.js';
import type { VideoService } from '../service/video-service.js';
import type { EngineStatus } from '../core/ports.js';
import type { Logger } from '../log.js';
import { errorBody, sendError } from './errors.js';
import type { Metrics } from './metrics.js';

export interface HttpPlugin {
  // Fastify plugins are generic in their options; the server passes each its own options object.
  plugin: FastifyPluginAsync<any>;
  options?: Record<string, unknown>;
  /** URL prefix, for example '/api/v1'. */
  prefix?: string;
}

export interface ServerOptions {
  logger: Logger;
  service: VideoService;
  metrics: Metrics;
  /** Registered in order after the built-in routes. */
  plugins?: HttpPlugin[];
  /** Largest accepted request body; JSON requests are small. Default 64 KiB. */
  bodyLimit?: number;
}

/** What /healthz and the HTTP API show of the engine; the execution provider is left to the dashboard. */
export function publicEngineStatus(engine: EngineStatus): Pick<EngineStatus, 'ready' | 'model' | 'device' | 'demo' | 'message'> {
  return {
    ready: engine.ready,
    model: engine.model,
    device: engine.device,
    demo: engine.demo,
    ...(engine.message === undefined ? {} : { message: engine.message }),
  };
}

/**
 * The longest path parameter the router accepts, percent-encoded: ids are up to 128 characters, and one character
 * takes at most 9 when encoded (3 UTF-8 bytes as %XX). Fastify's default of 100 refused valid ids.
 */
const MAX_PARAM_LENGTH = 128 * 9;

/** The router's refusals, which never reach a route or the error handler, in the API's error format. */
function routerError(error: FastifyError): unknown {
  const message =
    error.code === 'FST_ERR_BAD_URL'
      ? 'The address is not valid: a percent-encoded part of it is not UTF-8 text.'
      : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? `A part of the address is longer than ${MAX_PARAM_LENGTH} characters, longer than any id.`
        : undefined;
  return message === undefined ? error : videoBotError(ErrorCode.InvalidRequest, { issues: [{ field: '', message }] });
}

/**
 * Parsed bodies nested deeper than this are refused before any handler sees them: writing such a value out again
 * (to the database, the audit log, an error message) with JSON.stringify would exhaust the stack.
 */
const MAX_BODY_DEPTH = 32;

/** Whether `value` nests objects or arrays more than `limit` levels deep; iterative, so any depth is safe to ask. */
function nestsDeeperThan(value: unknown, limit: number): boolean {
  const pending: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (typeof next.value !== 'object' || next.value === null) continue;
    if (next.depth >= limit) return true;
    for (const child of Object.values(next.value)) pending.push({ value: child, depth: next.depth + 1 });
  }
  return false;
}

export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger.child({ component: 'http' }) as FastifyBaseLogger,
    bodyLimit: options.bodyLimit ?? 65_536,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: (error, request, reply) => sendError(routerError(error), request, reply),
  });

  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  app.addHook('preValidation', async (request) => {
    if (nestsDeeperThan(request.body, MAX_BODY_DEPTH)) {
      const message = `The request body nests objects or arrays more than ${MAX_BODY_DEPTH} levels deep.`;
      throw videoBotError(ErrorCode.InvalidRequest, { issues: [{ field: '', message }] });
    }
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    void reply.code(404).send(errorBody(videoBotError(ErrorCode.NotFound, { entity: 'route', id: `${request.method} ${path}` })));
  });

  app.get('/healthz', async (_request, reply) => {
    const health = await options.service.health();
    return reply.code(health.ok ? 200 : 503).send({
      status: !health.ok ? 'unavailable' : health.engine.ready && health.videoStorage !== 'unreachable' ? 'ok' : 'degraded',
      database: health.database,
      ...(health.videoStorage === undefined ? {} : { videoStorage: health.videoStorage }),
      engine: publicEngineStatus(health.engine),
      queue: health.queue,
      draining: health.draining,
    });
  });

  app.get('/metrics', async (_request, reply) =>
    reply.type(options.metrics.contentType).send(await options.metrics.render()),
  );

  for (const { plugin, options: pluginOptions, prefix } of options.plugins ?? []) {
    await app.register(plugin, { ...(pluginOptions ?? {}), ...(prefix === undefined ? {} : { prefix }) });
  }
  return app;
}
