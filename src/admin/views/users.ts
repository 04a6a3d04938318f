import { ROLES, type Job } from '../../core/jobs.js';
import type { UserQuotaStatus } from '../../service/video-service.js';
import type { UserUsage } from '../../db/usage-stats.js';
import type { QuotaOverride } from '../../core/quota.js';
import type { UserPage } from '../../queue/user-directory.js';
import { actionButton, csrfField, pager, platformBadge, statusBadge, userHref } from './components.js';
import { formatDateTime, formatNumber, paramsSummary, plural, userName } from './format.js';
import { adminUrl, html, segment, type Html } from './html.js';
import { layout, type PageFrame } from './layout.js';

const ZERO: UserUsage = { today: { videos: 0, gpuSeconds: 0 }, window: { videos: 0, gpuSeconds: 0 } };

export function usersPage(options: { frame: PageFrame; query: string; result: UserPage; usage: Map<string, UserUsage>; days: number }): Html {
  const { frame, query, result, usage, days } = options;
  const rows = result.users.map((user) => {
    const u = usage.get(user.id) ?? ZERO;
    return html`<tr data-user="${user.platform}:${user.platformUserId}">
  <td data-label="User"><a href="${userHref(user)}">${userName(user)}</a>${user.displayName === null ? '' : html`<br><span class="muted">${user.platformUserId}</span>`}</td>
  <td data-label="Platform">${platformBadge(user.platform)}</td>
  <td data-label="Role">${user.role}${user.banned ? html` <span class="badge bad">banned</span>` : ''}</td>
  <td data-label="Today" class="num">${plural(u.today.videos, 'video')}<br><span class="muted">${formatNumber(u.today.gpuSeconds, 1)} GPU-s</span></td>
  <td data-label="${days} days" class="num">${plural(u.window.videos, 'video')}<br><span class="muted">${formatNumber(u.window.gpuSeconds, 1)} GPU-s</span></td>
  <td data-label="Queued" class="num">${user.queued}</td>
  <td data-label="First seen">${formatDateTime(user.createdAt)}</td>
</tr>`;
  });
  return layout({
    title: 'Users',
    active: 'users',
    frame,
    body: html`<form method="get" action="/admin/users" class="filters" role="search">
  <label for="q">Search</label>
  <input id="q" name="q" type="search" value="${query}" placeholder="name or platform user id" maxlength="128">
  <button type="submit">Search</button>
</form>
<section class="card">
  <p class="muted">${plural(result.total, 'user')}. Usage counts what the quotas count (videos reserved, GPU-seconds settled); days are UTC.</p>
  ${result.users.length === 0
    ? html`<p class="muted">No users match.</p>`
    : html`<table class="responsive"><thead><tr><th>User</th><th>Platform</th><th>Role</th><th>Today</th><th>${days} days</th><th>Queued</th><th>First seen</th></tr></thead><tbody>${rows}</tbody></table>`}
  ${pager('/users', { q: query }, result.page, result.pages)}
</section>`,
  });
}

function overrideValue(status: UserQuotaStatus, field: 'videosPerDay' | 'gpuSecondsPerDay' | 'maxQueued'): string {
  return status.sources[field] === 'user' ? String(status.limits[field]) : '';
}

function workspaceSection(status: UserQuotaStatus, workspace: QuotaOverride, csrf: string): Html {
  const { workspaceId, platform } = status.user;
  if (workspaceId === undefined) return html``;
  const input = (field: keyof QuotaOverride, label: string, min: number) =>
    html`<label for="ws-${field}">${label}</label>
<input id="ws-${field}" name="${field}" type="number" inputmode="numeric" min="${min}" step="1" value="${workspace[field] ?? ''}" placeholder="inherit the default">`;
  return html`<h3>Override for workspace <code>${workspaceId}</code></h3>
  <form method="post" action="/admin/workspaces/${segment(platform)}/${segment(workspaceId)}/quota" class="stack" id="workspace-quota-form">
    ${csrfField(csrf)}
    ${input('videosPerDay', 'Videos per day', 0)}
    ${input('gpuSecondsPerDay', 'GPU-seconds per day', 0)}
    ${input('maxQueued', 'Max queued jobs', 1)}
    <p class="muted">Applies to everyone in this ${platform === 'discord' ? 'server' : 'workspace'} without a user override.</p>
    <button type="submit">Save workspace quota</button>
  </form>`;
}

export function userDetailPage(options: {
  frame: PageFrame;
  status: UserQuotaStatus;
  workspace: QuotaOverride;
  displayName: string | null;
  usage: UserUsage;
  days: number;
  recent: Job[];
}): Html {
  const { frame, status, usage, days, recent } = options;
  const { user } = status;
  const base = userHref(user);
  const name = options.displayName ?? user.platformUserId;
  const quotaRow = (label: string, field: 'videosPerDay' | 'gpuSecondsPerDay', used: number, left: number) =>
    html`<tr><th scope="row">${label}</th><td class="num" data-limit="${field}">${formatNumber(status.limits[field])}</td><td>${status.sources[field]}</td><td class="num">${formatNumber(used, 1)}</td><td class="num">${formatNumber(left, 1)}</td></tr>`;
  const input = (field: 'videosPerDay' | 'gpuSecondsPerDay' | 'maxQueued', label: string, min: number) =>
    html`<label for="${field}">${label}</label>
<input id="${field}" name="${field}" type="number" inputmode="numeric" min="${min}" step="1" value="${overrideValue(status, field)}" placeholder="${status.sources[field] === 'user' ? 'inherit' : `inherit (${formatNumber(status.limits[field])})`}">`;

  return layout({
    title: name,
    active: 'users',
    frame,
    body: html`<section class="card">
  <dl class="facts">
    <dt>Platform</dt><dd>${platformBadge(user.platform)}</dd>
    <dt>Platform user id</dt><dd><code>${user.platformUserId}</code></dd>
    <dt>Workspace</dt><dd>${user.workspaceId ?? '–'}</dd>
    <dt>Role</dt><dd data-role>${user.role}</dd>
    <dt>Status</dt><dd data-banned="${user.banned}">${user.banned ? html`<span class="badge bad">banned</span>` : 'allowed'}</dd>
    <dt>Usage, last ${days} days</dt><dd>${plural(usage.window.videos, 'video')}, ${formatNumber(usage.window.gpuSeconds, 1)} GPU-seconds</dd>
  </dl>
</section>

<section class="card">
  <h2>Quota today</h2>
  <table class="compact"><thead><tr><th></th><th>Limit</th><th>From</th><th>Used</th><th>Left</th></tr></thead><tbody>
    ${quotaRow('Videos per day', 'videosPerDay', status.used.videos, status.left.videos)}
    ${quotaRow('GPU-seconds per day', 'gpuSecondsPerDay', status.used.gpuSeconds, status.left.gpuSeconds)}
    <tr><th scope="row">Max queued</th><td class="num" data-limit="maxQueued">${status.limits.maxQueued}</td><td>${status.sources.maxQueued}</td><td class="num">${status.queued}</td><td class="num">${Math.max(0, status.limits.maxQueued - status.queued)}</td></tr>
  </tbody></table>
  <p class="muted">Resets ${formatDateTime(new Date(status.resetAt))}.</p>
  <h3>Override for this user</h3>
  <form method="post" action="${base}/quota" class="stack" id="quota-form">
    ${csrfField(frame.csrf)}
    ${input('videosPerDay', 'Videos per day', 0)}
    ${input('gpuSecondsPerDay', 'GPU-seconds per day', 0)}
    ${input('maxQueued', 'Max queued jobs', 1)}
    <p class="muted">Leave a field empty to inherit the workspace or default limit. Takes effect on the user's next request.</p>
    <button type="submit">Save quota</button>
  </form>
  ${workspaceSection(status, options.workspace, frame.csrf)}
</section>

<section class="card">
  <h2>Role and access</h2>
  <form method="post" action="${base}/role" class="row">
    ${csrfField(frame.csrf)}
    <label for="role">Role</label>
    <select id="role" name="role">${ROLES.map((role) => html`<option value="${role}"${role === user.role ? html` selected` : ''}>${role}</option>`)}</select>
    <button type="submit">Save role</button>
  </form>
  <p class="muted">Trusted and admin users get a larger fair share of the GPU; admins may also manage other users' jobs from chat.</p>
  ${user.banned
    ? actionButton(`${base}/ban`, 'Unban', frame.csrf, { fields: { banned: 'false' } })
    : actionButton(`${base}/ban`, 'Ban', frame.csrf, { danger: true, fields: { banned: 'true' } })}
  <p class="muted">A banned user's next requests are refused; jobs already queued still run unless you cancel them.</p>
</section>

<section class="card">
  <h2>Recent jobs</h2>
  ${recent.length === 0
    ? html`<p class="muted">No jobs yet.</p>`
    : html`<ul class="plain">${recent.map((job) => html`<li>${statusBadge(job.status)} <span class="prompt">${job.params.prompt}</span> <span class="muted">${paramsSummary(job.params)} · ${formatDateTime(job.createdAt)}</span></li>`)}</ul>`}
  <p><a class="button" href="${adminUrl('/history', { user: user.platformUserId })}">Full history</a></p>
</section>`,
  });
}
