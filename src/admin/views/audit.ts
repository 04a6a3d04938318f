import type { AuditEntry } from '../../db/audit-log.js';
import { formatDateTime } from './format.js';
import { adminUrl, html, type Html } from './html.js';
import { layout, type PageFrame } from './layout.js';

function details(entry: AuditEntry): Html {
  if (Object.keys(entry.details).length === 0) return html`<span class="muted">–</span>`;
  return html`<dl class="details">${Object.entries(entry.details).map(([key, value]) => html`<dt>${key}</dt><dd><code>${JSON.stringify(value)}</code></dd>`)}</dl>`;
}

export function auditPage(options: { frame: PageFrame; entries: AuditEntry[]; action: string; nextBefore: string | null; actions: readonly string[] }): Html {
  const { frame, entries, action, nextBefore, actions } = options;
  return layout({
    title: 'Audit log',
    active: 'audit',
    frame,
    body: html`<form method="get" action="/admin/audit" class="filters">
  <label for="action">Action</label>
  <select id="action" name="action"><option value="">all</option>${actions.map((a) => html`<option value="${a}"${a === action ? html` selected` : ''}>${a}</option>`)}</select>
  <button type="submit">Filter</button>
</form>
<section class="card">
  ${entries.length === 0
    ? html`<p class="muted">No entries.</p>`
    : html`<table class="responsive audit"><thead><tr><th>When</th><th>Who</th><th>Action</th><th>Target</th><th>Details</th></tr></thead><tbody>${entries.map(
        (e) => html`<tr data-action="${e.action}">
  <td data-label="When">${formatDateTime(e.at)}</td>
  <td data-label="Who">${e.actor}</td>
  <td data-label="Action"><code>${e.action}</code></td>
  <td data-label="Target">${e.target ?? '–'}</td>
  <td data-label="Details">${details(e)}</td>
</tr>`,
      )}</tbody></table>`}
  ${nextBefore === null ? '' : html`<nav class="pager"><span></span><span></span><a class="button" rel="next" href="${adminUrl('/audit', { action, before: nextBefore })}">Older ›</a></nav>`}
</section>`,
  });
}
