import type { EngineStatus } from '../../core/ports.js';
import type { DailyByPlatform, BusyUser, TodayCounts } from '../../db/usage-stats.js';
import type { RunningJob, WorkerStatus } from '../../core/queue-snapshot.js';
import { busiestUsersChart, stackedDailyChart } from './charts.js';
import { actionButton, progressBar, userLink } from './components.js';
import { formatDateTime, formatNumber, paramsSummary } from './format.js';
import { html, segment, type Html } from './html.js';
import { layout, type PageFrame } from './layout.js';

export interface OverviewLive {
  engine: EngineStatus;
  workers: WorkerStatus[];
  running: RunningJob[];
  queued: number;
  today: TodayCounts;
  now: Date;
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

/** The processes that render (this one, `t2v worker`s on other hosts), as each last reported itself. */
function workersCard(workers: WorkerStatus[], now: Date): Html {
  if (workers.length === 0) return html`<section class="card"><h2>Workers</h2><p class="muted">No worker is running: jobs wait until one starts.</p></section>`;
  return html`<section class="card" aria-labelledby="workers-title"><h2 id="workers-title">Workers <span class="badge">${workers.length}</span></h2>
  <table class="compact responsive">
    <thead><tr><th scope="col">Worker</th><th scope="col">Device</th><th scope="col">Jobs</th><th scope="col">Speed</th><th scope="col">Last seen</th></tr></thead>
    <tbody>${workers.map(
      (worker) => html`<tr data-worker="${worker.name}">
      <td data-label="Worker"><span class="badge ${worker.ready ? 'ok' : 'warn'}">${worker.ready ? 'ready' : 'not ready'}</span> ${worker.name}<br><span class="muted">${worker.host}</span></td>
      <td data-label="Device">${worker.device} (${worker.executionProvider})</td>
      <td data-label="Jobs">${worker.runningJobIds.length} of ${worker.slots}</td>
      <td data-label="Speed">${worker.secondsPerUnit === null ? 'not measured yet' : `${formatNumber(worker.secondsPerUnit, 3)} s per unit`}</td>
      <td data-label="Last seen">${formatNumber(Math.max(0, (now.getTime() - worker.heartbeatAt.getTime()) / 1000), 0)} s ago</td>
    </tr>`,
    )}</tbody>
  </table>
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
  ${workersCard(live.workers, live.now)}
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
