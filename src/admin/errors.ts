// How the dashboard answers errors. Page requests (a browser navigating or posting a form) get an HTML page with
// the plain-language message and a way back; everything else (fragments, events, media, scripted requests) gets
// the service's JSON error format. Either way: a 4xx names the problem, a 5xx shows a generic message and the
// details go to the log only, never a stack trace to the browser.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, VideoBotError, asVideoBotError } from '../core/errors.js';
import { userMessage, videoBotError } from '../core/messages.js';
import { HTTP_STATUS, sendError } from '../http/errors.js';
import { csrfToken, refererPage, sendHtml, wantsPage } from './context.js';
import { errorPage } from './views/error.js';
import { loginPage } from './views/login.js';

const CSRF_ERRORS = new Set(['FST_CSRF_INVALID_TOKEN', 'FST_CSRF_MISSING_SECRET']);

/** @fastify/csrf-protection's refusals, as the service's Forbidden error with a message that says what to do. */
function normalize(error: unknown): unknown {
  const code = (error as FastifyError | undefined)?.code;
  if (code !== undefined && CSRF_ERRORS.has(code)) {
    return videoBotError(ErrorCode.Forbidden, { action: 'send this without the page\'s CSRF token: reload the page and try again' });
  }
  return error;
}

/** Fastify's refusals of a request body, in the dashboard's words: its forms post form fields (scripts may post JSON). */
const BODY_ERRORS: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'The form is too large.',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Send the fields as a form (application/x-www-form-urlencoded) or as JSON.',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'The request body is empty; send the form fields.',
  FST_ERR_CTP_INVALID_JSON_BODY: 'The request body is not valid JSON.',
};

function statusAndMessage(error: unknown): { status: number; message: string } {
  if (error instanceof VideoBotError) return { status: HTTP_STATUS[error.code as ErrorCode] ?? 500, message: userMessage(error) };
  const status = (error as FastifyError).statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const code = (error as FastifyError).code;
    return { status, message: (code === undefined ? undefined : BODY_ERRORS[code]) ?? String((error as Error).message) };
  }
  return { status: 500, message: userMessage(asVideoBotError(error)) };
}

export function adminErrorHandler(rawError: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const error = normalize(rawError);
  if (!wantsPage(request)) return sendError(error, request, reply);
  const { status, message } = statusAndMessage(error);
  if (status >= 500) request.log.error({ err: rawError }, 'dashboard request failed');
  else request.log.info({ status, code: (error as FastifyError).code }, 'dashboard request rejected');
  if (request.adminSession === undefined && request.url.split('?')[0] === '/admin/login') {
    // A refused sign-in (too many attempts, malformed form): stay on the form.
    return sendHtml(reply, loginPage({ csrf: csrfToken(request, reply), next: '/admin', error: message }), status);
  }
  const frame = request.adminSession === undefined ? undefined : { csrf: csrfToken(request, reply) };
  return sendHtml(reply, errorPage({ status, message, back: refererPage(request) ?? '/admin', ...(frame === undefined ? {} : { frame }) }), status);
}
