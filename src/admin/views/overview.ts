import type { EngineStatus } from '../../core/ports.js';
import type { DailyByPlatform, BusyUser, TodayCounts } from '../../db/usage-stats.js';
import type { RunningJob } from '../../core/queue-snapshot.js';
import { busiestUsersChart, stackedDailyChart } from './charts.js';
import { actionButton, progressBar, userLink } from './components.js';
import { formatDateTime, paramsSummary } from './format.js';
import { html, segment, type Html } from './html.js';
import { layout, type PageFrame } from './layout.js';

export interface OverviewLive {
  engine: EngineStatus;
  running: RunningJob[];
  queued: number;
  today: TodayCounts;
}

export function engineCard(engine: EngineStatus): Html {
  return html`<section class="card engine" aria-labelledby="engine-title">
  <h2 id="engine-title">Engine <span class="badge ${engine.ready ? 'ok' : 'warn'}">${engine.ready ? 'ready' : 'not ready'}</span></h2>
  <dl class="facts">
    <dt>Model</dt><dd>${engine.model}</dd>
    <dt>Device</dt><dd>${engine.device}</dd>
    <dt>Execution provider</dt><dd>${engine.executionProvider}</dd>
  </dl>
  ${engine.demo ? html`<p class="flash flash-warn" data-demo-warning>Demo model in use: it renders abstract noise, not the prompt. Set <code>MODEL_DIR</code> to a real text-to-video model.</p>` : ''}
  ${engine.message === undefined ? '' : html`<p class="muted">${engine.message}</p>`}
</section>`;
}

function runningCard(running: RunningJob[], csrf: string): Html {
  if (running.length === 0) return html`<section class="card"><h2>Rendering now</h2><p class="muted">Nothing is rendering.</p></section>`;
  return html`<section class="card"><h2>Rendering now</h2>${running.map(
    ({ job, etaSeconds }) => html`<article class="running-job" data-job-id="${job.id}">
  <p class="prompt">${job.params.prompt}</p>
  <p class="meta">${userLink(job.user)} · ${paramsSummary(job.params)} · started ${formatDateTime(job.startedAt)}</p>
  ${progressBar(job, etaSeconds)}
  ${actionButton(`/admin/queue/${segment(job.id)}/cancel`, 'Cancel', csrf, { danger: true })}
</article>`,
  )}</section>`;
}

/** The part of the overview that the client script refreshes on queue and engine events. */
export function overviewLive(live: OverviewLive, csrf: string): Html {
  const { today } = live;
  return html`<div class="grid">
  ${engineCard(live.engine)}
  ${runningCard(live.running, csrf)}
</div>
<div class="stats">
  <a class="stat" href="/admin/queue"><span class="value" data-stat="queued">${live.queued}</span><span class="label">waiting in the queue</span></a>
  <div class="stat"><span class="value" data-stat="submitted">${today.submitted}</span><span class="label">jobs submitted today</span></div>
  <div class="stat"><span class="value" data-stat="succeeded">${today.succeeded}</span><span class="label">videos finished today</span></div>
  <a class="stat${today.failed > 0 ? ' bad' : ''}" href="/admin/history?status=failed"><span class="value" data-stat="failed">${today.failed}</span><span class="label">failures today</span></a>
</div>`;
}

export function overviewPage(options: { frame: PageFrame; live: OverviewLive; daily: DailyByPlatform; busiest: BusyUser[]; days: number }): Html {
  const { frame, live, daily, busiest, days } = options;
  return layout({
    title: 'Overview',
    active: 'overview',
    frame,
    body: html`<div data-live-fragment="/admin/api/fragments/overview">${overviewLive(live, frame.csrf)}</div>
<div class="charts">
  ${stackedDailyChart({ title: `Videos per day, last ${days} days`, unit: 'videos', days: daily.days, series: daily.videos })}
  ${stackedDailyChart({ title: `GPU-seconds per day, last ${days} days`, unit: 'GPU-seconds', days: daily.days, series: daily.gpuSeconds, decimals: 1 })}
  ${busiestUsersChart(busiest, days)}
</div>
<p class="muted">Days are UTC days; quotas reset at 00:00 UTC.</p>`,
  });
}
