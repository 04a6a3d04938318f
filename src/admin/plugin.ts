// The admin dashboard: server-rendered pages under /admin on the service's own Fastify server, with a little
// client script for live updates. Everything security-related comes from well-kept @fastify plugins, registered
// inside this plugin's scope so they apply to the dashboard only (the /api/v1 adapter has its own bearer auth):
// - @fastify/helmet: CSP with no inline script or style, frame-ancestors 'none', nosniff, no referrer leaks.
// - @fastify/cookie + our in-memory sessions (sessions.ts): HttpOnly, SameSite=Strict, expiring session cookie.
// - @fastify/csrf-protection: a token in every form, HMAC-bound to the session, checked on every POST.
// - @fastify/rate-limit: sign-in attempts per client address.
// - @fastify/formbody: plain HTML forms, so every action works without JavaScript.
// - @fastify/send (as the API's media routes): the local CSS, script and icon (no CDN).
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import cookie from '@fastify/cookie';
import csrfProtection from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import send from '@fastify/send';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Config } from '../config.js';
import type { AdminAuth } from '../service/admin-auth.js';
import { ErrorCode } from '../core/errors.js';
import { videoBotError } from '../core/messages.js';
import type { VideoService } from '../service/video-service.js';
import type { Database } from '../db/database.js';
import { UsageStats } from '../db/usage-stats.js';
import { JobHistory } from '../queue/job-history.js';
import { JobStore } from '../queue/job-store.js';
import { UserDirectory } from '../queue/user-directory.js';
import { authRoutes, requireSession, resolveSession } from './auth.js';
import { csrfUserInfo, type AdminContext } from './context.js';
import { adminErrorHandler } from './errors.js';
import { LiveUpdates } from './live.js';
import { auditRoutes } from './routes/audit.js';
import { historyRoutes } from './routes/history.js';
import { overviewRoutes } from './routes/overview.js';
import { queueRoutes } from './routes/queue.js';
import { settingsRoutes } from './routes/settings.js';
import { userRoutes } from './routes/users.js';
import { SessionStore } from './sessions.js';

/** src/admin/assets, from src/admin (tsx) and from dist/admin (built) alike. */
const ASSETS_DIR = fileURLToPath(new URL('../../src/admin/assets/', import.meta.url));

/** How long a sign-in lasts; the cookie expires then too. */
const SESSION_HOURS = 12;

export interface AdminDashboardOptions {
  service: VideoService;
  auth: AdminAuth;
  db: Pick<Database, 'prisma' | 'provider'>;
  config: Pick<Config, 'publicUrl' | 'settingDefaults'>;
  clock?: () => Date;
}

function helmetOptions(https: boolean) {
  return {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        mediaSrc: ["'self'"],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        // Upgrading requests would break a plain-http install on a LAN address; with https it is harmless.
        ...(https ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    frameguard: { action: 'deny' as const },
    referrerPolicy: { policy: 'same-origin' as const },
    // HSTS on a plain-http origin is ignored by browsers; on https it pins the dashboard to https.
    strictTransportSecurity: https,
  };
}

export const adminDashboard: FastifyPluginAsync<AdminDashboardOptions> = async (app, options) => {
  const https = options.config.publicUrl.startsWith('https:');
  const ctx: AdminContext = {
    service: options.service,
    auth: options.auth,
    store: new JobStore(options.db.prisma),
    stats: new UsageStats(options.db.prisma),
    history: new JobHistory(options.db.prisma, options.db.provider),
    users: new UserDirectory(options.db.prisma, options.db.provider),
    sessions: new SessionStore({ ttlMs: SESSION_HOURS * 3_600_000 }),
    live: new LiveUpdates(options.service),
    settingDefaults: options.config.settingDefaults,
    secureCookies: https,
    now: options.clock ?? (() => new Date()),
  };

  await app.register(cookie);
  await app.register(formbody);
  await app.register(helmet, helmetOptions(https));
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) =>
      Object.assign(new Error(`Too many sign-in attempts from your address. Try again in ${context.after}.`), { statusCode: 429 }),
  });
  await app.register(csrfProtection, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: 't2v_admin_csrf',
    cookieOpts: { path: '/admin', httpOnly: true, sameSite: 'strict', secure: https },
    getUserInfo: csrfUserInfo,
    // The HMAC key binds tokens to sessions; sessions live in this process, so a per-process key suffices.
    csrfOpts: { hmacKey: randomBytes(32), userInfo: true },
  });
  await app.register(assetRoutes);

  app.decorateRequest('adminSession', undefined);
  app.addHook('onRequest', resolveSession(ctx));
  app.addHook('preHandler', (request, reply, done) => {
    if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return done();
    app.csrfProtection(request, reply, done);
  });
  app.addHook('onSend', async (request, reply) => {
    // Pages show prompts, users and quotas: nothing of it belongs in a shared or disk cache.
    if (!request.url.startsWith('/admin/assets/') && !reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  });
  app.setErrorHandler(adminErrorHandler);
  app.addHook('preClose', async () => ctx.live.close());

  await app.register(authRoutes, { ctx });
  await app.register(async (signedIn: FastifyInstance) => {
    signedIn.addHook('onRequest', requireSession);
    for (const routes of [overviewRoutes, queueRoutes, userRoutes, historyRoutes, settingsRoutes, auditRoutes]) {
      await signedIn.register(routes, { ctx });
    }
    // Unknown /admin paths: signed-out visitors are sent to sign in like anywhere else.
    signedIn.setNotFoundHandler(async (request) => {
      throw videoBotError(ErrorCode.NotFound, { entity: 'route', id: `${request.method} ${request.url.split('?')[0]}` });
    });
  });
};

/** GET /assets/<file>: the dashboard's CSS, script and icon; send() refuses paths that leave the folder. */
const assetRoutes: FastifyPluginAsync = async (app) => {
  app.get('/assets/:file', async (request, reply) => {
    const { file } = request.params as { file: string };
    const result = await send(request.raw, file, { root: ASSETS_DIR, dotfiles: 'deny', index: false, maxAge: '1h' });
    if (result.type !== 'file') throw videoBotError(ErrorCode.NotFound, { entity: 'route', id: `GET /admin/assets/${file}` });
    return reply.code(result.statusCode).headers(result.headers).send(result.stream);
  });
};
