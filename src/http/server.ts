// The one HTTP server of the service. It owns the cross-cutting parts (error format, 404s, health, metrics) and
// registers route plugins: the HTTP API (src/http/api), signed media links, the dashboard (src/admin), plus any
// @fastify/* plugin (rate limiting, cookies, helmet) registered before them by the composition root.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
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

export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger.child({ component: 'http' }) as FastifyBaseLogger,
    bodyLimit: options.bodyLimit ?? 65_536,
  });

  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    void reply.code(404).send(errorBody(videoBotError(ErrorCode.NotFound, { entity: 'route', id: `${request.method} ${path}` })));
  });

  app.get('/healthz', async (_request, reply) => {
    const health = await options.service.health();
    return reply.code(health.ok ? 200 : 503).send({
      status: !health.ok ? 'unavailable' : health.engine.ready ? 'ok' : 'degraded',
      database: health.database,
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
