// Small pieces every dashboard page uses: the CSRF field, status badges, user links, progress bars, the pager.
import type { Job, JobStatus, Platform } from '../../core/jobs.js';
import { adminUrl, html, segment, type Html } from './html.js';
import { formatDuration, userName } from './format.js';

/** Every state-changing form carries the session-bound CSRF token (checked by @fastify/csrf-protection). */
export function csrfField(token: string): Html {
  return html`<input type="hidden" name="_csrf" value="${token}">`;
}

export function statusBadge(status: JobStatus): Html {
  return html`<span class="badge status-${status}">${status}</span>`;
}

export function platformBadge(platform: Platform): Html {
  return html`<span class="badge platform-${platform}">${platform}</span>`;
}

export function userHref(user: { platform: Platform; platformUserId: string }): string {
  return `/admin/users/${segment(user.platform)}/${segment(user.platformUserId)}`;
}

export function userLink(user: { platform: Platform; platformUserId: string; displayName: string | null }): Html {
  return html`<a href="${userHref(user)}">${userName(user)}</a> ${platformBadge(user.platform)}`;
}

/**
 * A running job's progress. The client script finds these by job id and updates them from server-sent events;
 * <progress> needs no inline style (the CSP forbids inline styles).
 */
export function progressBar(job: Job, etaSeconds: number | null): Html {
  const { step, totalSteps } = job.progress;
  const max = Math.max(totalSteps, 1);
  return html`<div class="progress">
    <progress data-progress-job="${job.id}" value="${step}" max="${max}">${step} / ${max}</progress>
    <span class="progress-text"><span data-progress-label="${job.id}">step ${step} / ${max}</span>
    · <span data-eta-job="${job.id}">${etaSeconds === null ? 'ETA unknown' : `about ${formatDuration(etaSeconds)} left`}</span></span>
  </div>`;
}

export function flashMessage(flash: { kind: 'ok' | 'error'; text: string } | undefined): Html {
  if (flash === undefined) return html``;
  return html`<p class="flash flash-${flash.kind}" role="status">${flash.text}</p>`;
}

/** "‹ Newer · page 2 of 5 · Older ›" links keeping the current filters. */
export function pager(path: string, query: Record<string, string | undefined>, page: number, pages: number): Html {
  if (pages <= 1) return html``;
  const link = (target: number, label: string, rel: string) =>
    html`<a class="button" rel="${rel}" href="${adminUrl(path, { ...query, page: target })}">${label}</a>`;
  return html`<nav class="pager" aria-label="Pages">
    ${page > 1 ? link(page - 1, '‹ Previous', 'prev') : html`<span></span>`}
    <span>page ${page} of ${pages}</span>
    ${page < pages ? link(page + 1, 'Next ›', 'next') : html`<span></span>`}
  </nav>`;
}

/** A POST button form (cancel, promote, ban, ...): works without JavaScript. */
export function actionButton(action: string, label: string, csrf: string, options: { danger?: boolean; fields?: Record<string, string> } = {}): Html {
  const fields = Object.entries(options.fields ?? {}).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`);
  return html`<form method="post" action="${action}" class="inline">${csrfField(csrf)}${fields}<button type="submit"${options.danger === true ? html` class="danger"` : ''}>${label}</button></form>`;
}
