import { JOB_STATUSES, PLATFORMS, type Job } from '../../core/jobs.js';
import type { HistoryPage } from '../../queue/job-history.js';
import { csrfField, pager, statusBadge, userLink } from './components.js';
import { formatBytes, formatDateTime, formatDuration, paramsSummary, plural, secondsBetween } from './format.js';
import { html, segment, type Html } from './html.js';
import { layout, type PageFrame } from './layout.js';

/** The filter values as typed (strings), to refill the form and build pager links. */
export interface HistoryQuery {
  user?: string;
  platform?: string;
  status?: string;
  from?: string;
  to?: string;
}

function select(name: string, label: string, values: readonly string[], current: string | undefined): Html {
  return html`<label for="${name}">${label}</label>
<select id="${name}" name="${name}"><option value="">any</option>${values.map((v) => html`<option value="${v}"${v === current ? html` selected` : ''}>${v}</option>`)}</select>`;
}

function media(job: Job, csrf: string): Html {
  if (job.output === null) {
    return job.status === 'succeeded' ? html`<p class="muted">The video was deleted (retention or by an admin); the job stays in the history.</p>` : html``;
  }
  const base = `/admin/jobs/${segment(job.id)}`;
  const player =
    job.output.mediaType === 'image/png'
      ? html`<img src="${base}/video" alt="Rendered still image" loading="lazy">`
      : html`<video controls preload="metadata" playsinline loop src="${base}/video"${job.output.posterPath === null ? '' : html` poster="${base}/poster"`}></video>`;
  return html`<div class="media">${player}
  <p class="muted">${job.output.mediaType}, ${formatBytes(job.output.bytes)} · <a href="${base}/video" download>Download</a></p>
  <details class="danger-zone"><summary>Delete video…</summary>
    <form method="post" action="/admin/history/${segment(job.id)}/delete-video">${csrfField(csrf)}
      <p>The file is removed for good; the job stays in the history. Recorded in the audit log.</p>
      <button type="submit" class="danger">Delete this video</button>
    </form>
  </details>
</div>`;
}

function jobCard(job: Job, csrf: string): Html {
  const wait = secondsBetween(job.createdAt, job.startedAt);
  const render = secondsBetween(job.startedAt, job.finishedAt);
  return html`<article class="card job" data-job-id="${job.id}">
  <header>${statusBadge(job.status)} ${userLink(job.user)} <span class="muted">via ${job.reply.platform} · ${formatDateTime(job.createdAt)}</span></header>
  <p class="prompt">${job.params.prompt}</p>
  ${job.params.negativePrompt === '' ? '' : html`<p class="muted">Negative prompt: ${job.params.negativePrompt}</p>`}
  <div class="job-body"><div>
  <dl class="facts">
    <dt>Params</dt><dd>${paramsSummary(job.params)}</dd>
    <dt>Seed</dt><dd><code>${job.params.seed}</code></dd>
    <dt>Waited</dt><dd>${formatDuration(wait)}</dd>
    <dt>Rendered in</dt><dd>${formatDuration(render)}${job.gpuSeconds === null ? '' : ` (${formatDuration(job.gpuSeconds)} GPU)`}</dd>
    <dt>Finished</dt><dd>${formatDateTime(job.finishedAt)}</dd>
    ${job.attempts > 1 ? html`<dt>Attempts</dt><dd>${job.attempts}</dd>` : ''}
    <dt>Job id</dt><dd><code>${job.id}</code></dd>
  </dl>
  ${job.error === null ? '' : html`<p class="flash flash-error"><code>${job.error.code}</code> ${job.error.message}</p>`}
  </div>${media(job, csrf)}</div>
</article>`;
}

export function historyPage(options: { frame: PageFrame; query: HistoryQuery; result: HistoryPage }): Html {
  const { frame, query, result } = options;
  return layout({
    title: 'History',
    active: 'history',
    frame,
    body: html`<form method="get" action="/admin/history" class="filters" role="search">
  <label for="user">User</label>
  <input id="user" name="user" type="search" value="${query.user ?? ''}" placeholder="name or platform user id" maxlength="128">
  ${select('platform', 'Platform', PLATFORMS, query.platform)}
  ${select('status', 'Status', JOB_STATUSES, query.status)}
  <label for="from">From</label>
  <input id="from" name="from" type="date" value="${query.from ?? ''}">
  <label for="to">To</label>
  <input id="to" name="to" type="date" value="${query.to ?? ''}">
  <button type="submit">Filter</button>
  <a class="button secondary" href="/admin/history">Clear</a>
</form>
<p class="muted">${plural(result.total, 'job')}${result.total > 0 ? `, newest first` : ''}. Dates are UTC, both ends included.</p>
${result.jobs.length === 0 ? html`<p class="card muted">No jobs match.</p>` : result.jobs.map((job) => jobCard(job, frame.csrf))}
${pager('/history', { ...query }, result.page, result.pages)}`,
  });
}
