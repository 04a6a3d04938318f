// Live updates for open dashboard pages, as server-sent events. One subscription to the service's event bus fans
// out to every connected page. Events carry ids and numbers only (never prompts or names): `progress` updates a
// progress bar in place, `queue` and `engine` tell the page to re-fetch its server-rendered (escaped) fragment.
// SSE rather than polling: progress arrives per denoising step without hammering the database, and EventSource
// reconnects by itself. Rather than WebSockets: one direction is all that is needed, over plain HTTP.
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { ServiceEvent } from '../core/events.js';
import type { VideoService } from '../service/video-service.js';

/** Comment lines keep idle connections open through proxies that drop silent ones. */
const KEEPALIVE_MS = 20_000;

export class LiveUpdates {
  readonly #clients = new Set<ServerResponse>();
  readonly #maxClients: number;
  readonly #unsubscribe: () => void;
  readonly #keepalive: NodeJS.Timeout;

  constructor(service: VideoService, options: { maxClients?: number } = {}) {
    this.#maxClients = options.maxClients ?? 50;
    this.#unsubscribe = service.subscribe((event) => this.#onEvent(event));
    this.#keepalive = setInterval(() => this.#write(': keepalive\n\n'), KEEPALIVE_MS).unref();
  }

  /** False when too many pages are connected (the caller answers 503; EventSource retries later). */
  get hasRoom(): boolean {
    return this.#clients.size < this.#maxClients;
  }

  /** Takes over the response as an event stream until the page goes away or the server closes. */
  attach(reply: FastifyReply): void {
    reply.hijack();
    const res = reply.raw;
    // Hijacking bypasses Fastify's header handling: copy what the hooks set (security headers) by hand.
    for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) res.setHeader(name, value);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 3000\n\n');
    this.#clients.add(res);
    res.on('close', () => this.#clients.delete(res));
  }

  /** Ends every stream (server shutdown: open streams would keep the server from closing). */
  close(): void {
    clearInterval(this.#keepalive);
    this.#unsubscribe();
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }

  #onEvent(event: ServiceEvent): void {
    if (this.#clients.size === 0) return;
    if (event.type === 'engine') return this.#send('engine', { ready: event.status.ready });
    if (event.type === 'progress') {
      return this.#send('progress', {
        jobId: event.job.id,
        step: event.step,
        totalSteps: event.totalSteps,
        etaSeconds: event.etaMs === null ? null : Math.round(event.etaMs / 100) / 10,
      });
    }
    this.#send('queue', { type: event.type, jobId: event.job.id });
  }

  #send(name: string, data: Record<string, unknown>): void {
    this.#write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  #write(chunk: string): void {
    for (const res of this.#clients) {
      if (!res.writableEnded) res.write(chunk);
    }
  }
}
