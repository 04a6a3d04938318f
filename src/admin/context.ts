// What every dashboard route works with: the service and read-only query modules, the session store, the live
// event hub, and small helpers for answering with a page or a redirect.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SettingDefaults } from '../config.js';
import type { AdminAuth } from '../service/admin-auth.js';
import type { Actor } from '../core/jobs.js';
import type { VideoService } from '../service/video-service.js';
import type { UsageStats } from '../db/usage-stats.js';
import type { JobHistory } from '../queue/job-history.js';
import type { JobStore } from '../queue/job-store.js';
import type { UserDirectory } from '../queue/user-directory.js';
import type { LiveUpdates } from './live.js';
import type { AdminSession, Flash, SessionStore } from './sessions.js';
import type { Html } from './views/html.js';
import type { PageFrame } from './views/layout.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The dashboard session of the request's cookie, when it is valid (set for every /admin request). */
    adminSession: AdminSession | undefined;
  }
}

export interface AdminContext {
  service: VideoService;
  auth: AdminAuth;
  store: JobStore;
  stats: UsageStats;
  history: JobHistory;
  users: UserDirectory;
  sessions: SessionStore;
  live: LiveUpdates;
  settingDefaults: SettingDefaults;
  /** Cookies get the Secure flag when PUBLIC_URL is https. */
  secureCookies: boolean;
  now(): Date;
}

/** How dashboard actions appear in the audit log. */
export const DASHBOARD_ACTOR: Actor = { kind: 'admin', name: 'dashboard' };

/** Days covered by the charts and the users' usage columns. */
export const USAGE_DAYS = 7;

/** What CSRF tokens are bound to: the session, or one shared value before sign-in. */
export function csrfUserInfo(request: FastifyRequest): string {
  return request.adminSession?.key ?? 'signed-out';
}

/** The signed-in session; routes behind the auth hook always have one. */
export function sessionOf(request: FastifyRequest): AdminSession {
  const session = request.adminSession;
  if (session === undefined) throw new Error('dashboard route reached without a session');
  return session;
}

/** A CSRF token for the forms of this response, bound to the request's session (or to being signed out). */
export function csrfToken(request: FastifyRequest, reply: FastifyReply): string {
  return reply.generateCsrf({ userInfo: csrfUserInfo(request) });
}

/** What a full page needs: a CSRF token and the pending flash message (shown once; fragments leave it). */
export function pageFrame(request: FastifyRequest, reply: FastifyReply): PageFrame {
  const session = sessionOf(request);
  const flash = session.flash;
  delete session.flash;
  return { csrf: csrfToken(request, reply), flash };
}

/** A browser asking for a page (navigating, or posting a form), as opposed to a fragment, event stream, media or script. */
export function wantsPage(request: FastifyRequest): boolean {
  return !request.url.startsWith('/admin/api/') && (request.headers.accept ?? '').includes('text/html');
}

export function sendHtml(reply: FastifyReply, page: Html, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(page.value);
}

/** Post/redirect/get: the next page shows `flash` once. */
export function redirectWithFlash(request: FastifyRequest, reply: FastifyReply, location: string, flash: Flash): FastifyReply {
  sessionOf(request).flash = flash;
  return reply.redirect(location, 303);
}

/**
 * The dashboard page a form was posted from (path and query), when the Referer names one on this host (helmet
 * sets Referrer-Policy: same-origin, so browsers send it to us and nowhere else), and, given `within`, only when
 * it starts with that. Used only to choose where to go back to; never trusted for anything else.
 */
export function refererPage(request: FastifyRequest, within = ''): string | undefined {
  const referer = request.headers.referer;
  if (referer === undefined) return undefined;
  try {
    const url = new URL(referer);
    // Through URL on both sides, so that "host:80" and "host" compare equal.
    const ownHost = new URL(`${request.protocol}://${request.host}`).host;
    if (url.host !== ownHost || !/^\/admin(\/|$)/.test(url.pathname) || /^\/admin\/(login|api)(\/|$)/.test(url.pathname)) return undefined;
    const page = url.pathname + url.search;
    return page.startsWith(within) ? page : undefined;
  } catch {
    return undefined;
  }
}
