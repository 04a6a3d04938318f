import type { QueueSnapshot } from '../../core/queue-snapshot.js';
import { actionButton, progressBar, userLink } from './components.js';
import { formatDateTime, formatDuration, paramsSummary } from './format.js';
import { html, segment, type Html } from './html.js';
import { layout, type PageFrame } from './layout.js';

function promptCell(prompt: string, negative: string): Html {
  return html`<td data-label="Prompt"><span class="prompt">${prompt}</span>${negative === '' ? '' : html`<br><span class="muted">not: ${negative}</span>`}</td>`;
}

/** The queue tables; the client script refreshes this fragment on every queue event. */
export function queueTables(snapshot: QueueSnapshot, csrf: string): Html {
  const { running, queued, engine } = snapshot;
  const engineNote = engine.ready
    ? ''
    : html`<p class="flash flash-warn">The engine is not ready${engine.message === undefined ? '' : html`: ${engine.message}`}. Jobs wait until it is.</p>`;
  const runningRows = running.map(
    ({ job, etaSeconds }) => html`<tr data-job-id="${job.id}">
  <td data-label="User">${userLink(job.user)}</td>
  ${promptCell(job.params.prompt, job.params.negativePrompt)}
  <td data-label="Params">${paramsSummary(job.params)}<br><span class="muted">seed ${job.params.seed}</span></td>
  <td data-label="Progress">${progressBar(job, etaSeconds)}</td>
  <td data-label="Started">${formatDateTime(job.startedAt)}</td>
  <td class="actions">${actionButton(`/admin/queue/${segment(job.id)}/cancel`, 'Cancel', csrf, { danger: true })}</td>
</tr>`,
  );
  const queuedRows = queued.map(
    ({ job, position, etaSeconds }) => html`<tr data-job-id="${job.id}">
  <td data-label="Position" class="num">${position}</td>
  <td data-label="User">${userLink(job.user)}</td>
  ${promptCell(job.params.prompt, job.params.negativePrompt)}
  <td data-label="Params">${paramsSummary(job.params)}<br><span class="muted">seed ${job.params.seed}</span></td>
  <td data-label="Waiting since">${formatDateTime(job.createdAt)}${job.promotedAt === null ? '' : html`<br><span class="badge">moved to front</span>`}</td>
  <td data-label="Done in">${etaSeconds === null ? '–' : `about ${formatDuration(etaSeconds)}`}</td>
  <td class="actions">
    ${position > 1 ? actionButton(`/admin/queue/${segment(job.id)}/promote`, 'Move to front', csrf) : ''}
    ${actionButton(`/admin/queue/${segment(job.id)}/cancel`, 'Cancel', csrf, { danger: true })}
  </td>
</tr>`,
  );
  return html`${engineNote}
<section class="card">
  <h2>Rendering (${running.length})</h2>
  ${running.length === 0
    ? html`<p class="muted">Nothing is rendering.</p>`
    : html`<table class="responsive"><thead><tr><th>User</th><th>Prompt</th><th>Params</th><th>Progress</th><th>Started</th><th></th></tr></thead><tbody>${runningRows}</tbody></table>`}
</section>
<section class="card">
  <h2>Waiting (<span data-stat="queued">${queued.length}</span>)</h2>
  ${queued.length === 0
    ? html`<p class="muted">The queue is empty.</p>`
    : html`<table class="responsive"><thead><tr><th>#</th><th>User</th><th>Prompt</th><th>Params</th><th>Waiting since</th><th>Done in</th><th></th></tr></thead><tbody>${queuedRows}</tbody></table>`}
  <p class="muted">Order: the user who has used the GPU least recently goes next; each user's own jobs run in the order they were sent. Moving a job to the front is recorded in the audit log.</p>
</section>`;
}

export function queuePage(frame: PageFrame, snapshot: QueueSnapshot): Html {
  return layout({
    title: 'Queue',
    active: 'queue',
    frame,
    body: html`<div data-live-fragment="/admin/api/fragments/queue">${queueTables(snapshot, frame.csrf)}</div>`,
  });
}
