// Signing in and out, and the guard in front of every other dashboard route. The admin token is checked by the
// core's AdminAuth (constant-time, against ADMIN_TOKEN or the stored hash of the generated token) and then
// exchanged for a server-side session: the token itself is never stored in the browser, and never logged.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ErrorCode } from '../core/errors.js';
import { csrfToken, DASHBOARD_ACTOR, sendHtml, wantsPage, type AdminContext } from './context.js';
import { parseFields, text } from './forms.js';
import { adminUrl } from './views/html.js';
import { loginPage } from './views/login.js';

export const SESSION_COOKIE = 't2v_admin_session';

/** Login attempts per client address and window: plenty for a person, useless for guessing. */
export const LOGIN_RATE_LIMIT = { max: 10, timeWindow: 10 * 60_000 } as const;

const loginSchema = z.object({ token: text(1024), next: text(2048), _csrf: text(256) });

/** Where to go after signing in: a dashboard page on this site, else the overview (no open redirects). */
export function safeNext(next: string | undefined): string {
  if (next === undefined || !next.startsWith('/admin') || /[\\\s]/.test(next)) return '/admin';
  const url = new URL(next, 'http://dashboard.invalid');
  if (url.origin !== 'http://dashboard.invalid' || !/^\/admin(\/|$)/.test(url.pathname)) return '/admin';
  if (/^\/admin\/(login|logout|api)(\/|$)/.test(url.pathname)) return '/admin';
  return url.pathname + url.search;
}

/** Finds the request's session (every /admin request), so pages and the CSRF check know who is signed in. */
export function resolveSession(ctx: AdminContext) {
  return async (request: FastifyRequest) => {
    request.adminSession = ctx.sessions.get(request.cookies[SESSION_COOKIE]);
  };
}

/**
 * The guard of every page and /admin/api route: without a valid session, a page visit is sent to the sign-in form
 * (and comes back afterwards); anything else (fragments, events, media, form posts) gets 401.
 */
export async function requireSession(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (request.adminSession !== undefined) return;
  if ((request.method === 'GET' || request.method === 'HEAD') && wantsPage(request)) {
    await reply.redirect(adminUrl('/login', { next: request.url === '/admin' ? undefined : request.url }), 303);
    return;
  }
  await reply
    .code(401)
    .type('application/json')
    .send({ error: { code: ErrorCode.Unauthorized, message: 'Sign in to the dashboard first (/admin/login).', details: {} } });
}

export async function authRoutes(app: FastifyInstance, { ctx }: { ctx: AdminContext }): Promise<void> {
  const cookieOptions = (maxAgeSeconds: number) =>
    ({ path: '/admin', httpOnly: true, sameSite: 'strict', secure: ctx.secureCookies, maxAge: maxAgeSeconds }) as const;

  const renderLogin = (request: FastifyRequest, reply: FastifyReply, next: string, status = 200, error?: string) =>
    sendHtml(
      reply,
      loginPage({ csrf: csrfToken(request, reply), next, ...(error === undefined ? {} : { error }) }),
      status,
    );

  app.get('/login', async (request, reply) => {
    const next = safeNext(parseFields(z.object({ next: text(2048) }).loose(), request.query).next);
    if (request.adminSession !== undefined) return reply.redirect(next, 303);
    return renderLogin(request, reply, next);
  });

  app.post('/login', { config: { rateLimit: LOGIN_RATE_LIMIT } }, async (request, reply) => {
    const body = parseFields(loginSchema, request.body);
    const next = safeNext(body.next);
    if (!ctx.auth.verify(body.token)) {
      request.log.warn({ ip: request.ip }, 'dashboard sign-in refused: wrong admin token');
      return renderLogin(request, reply, next, 401, 'That is not the admin token.');
    }
    if (request.adminSession !== undefined) ctx.sessions.destroy(request.adminSession);
    const { id } = ctx.sessions.create();
    reply.setCookie(SESSION_COOKIE, id, cookieOptions(Math.floor(ctx.sessions.ttlMs / 1000)));
    await ctx.service.appendAudit({ actor: DASHBOARD_ACTOR, action: 'admin.login', details: { ip: request.ip } });
    request.log.info({ ip: request.ip }, 'dashboard sign-in');
    return reply.redirect(next, 303);
  });

  app.post('/logout', async (request, reply) => {
    if (request.adminSession !== undefined) {
      ctx.sessions.destroy(request.adminSession);
      await ctx.service.appendAudit({ actor: DASHBOARD_ACTOR, action: 'admin.logout', details: { ip: request.ip } });
    }
    reply.clearCookie(SESSION_COOKIE, { path: '/admin' });
    return reply.redirect('/admin/login', 303);
  });
}

