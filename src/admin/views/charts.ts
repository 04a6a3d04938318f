// Server-rendered SVG charts (no chart library, no client script): stacked bars per day split by platform, and
// horizontal bars for the busiest users. Colours come from CSS classes, since the CSP forbids inline styles.
// Each chart is followed by its numbers in a collapsible table, for screen readers and exact values.
import { PLATFORMS, type Platform } from '../../core/jobs.js';
import type { BusyUser } from '../../db/usage-stats.js';
import { userHref } from './components.js';
import { formatNumber, plural, userName } from './format.js';
import { html, type Html } from './html.js';

const WIDTH = 420;
const HEIGHT = 200;
const PAD = { top: 10, right: 8, bottom: 24, left: 40 };

/** A round axis maximum at or above `value` (1, 2, 5 x 10^n). */
export function niceMax(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 5, 10].find((m) => m * magnitude >= value) ?? 10;
  return step * magnitude;
}

function legend(): Html {
  return html`<ul class="legend">${PLATFORMS.map((p) => html`<li><span class="swatch platform-${p}"></span>${p}</li>`)}</ul>`;
}

export function stackedDailyChart(options: { title: string; unit: string; days: string[]; series: Record<Platform, number[]>; decimals?: number }): Html {
  const { title, unit, days, series } = options;
  const decimals = options.decimals ?? 0;
  const totals = days.map((_, i) => PLATFORMS.reduce((sum, p) => sum + (series[p][i] ?? 0), 0));
  const max = niceMax(Math.max(...totals, 0));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(days.length, 1);
  const barW = Math.max(4, slot * 0.6);
  const y = (value: number) => PAD.top + plotH - (value / max) * plotH;

  const bars = days.map((day, i) => {
    let base = 0;
    const x = PAD.left + i * slot + (slot - barW) / 2;
    const segments = PLATFORMS.map((platform) => {
      const value = series[platform][i] ?? 0;
      if (value <= 0) return html``;
      const top = y(base + value);
      const height = y(base) - top;
      base += value;
      return html`<rect class="bar platform-${platform}" x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${barW.toFixed(1)}" height="${height.toFixed(1)}"><title>${day} ${platform}: ${formatNumber(value, decimals)} ${unit}</title></rect>`;
    });
    return html`${segments}<text class="axis" x="${(x + barW / 2).toFixed(1)}" y="${HEIGHT - 8}" text-anchor="middle">${day.slice(5)}</text>`;
  });
  const ticks = [0, max / 2, max].map(
    (value) => html`<line class="grid" x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${y(value).toFixed(1)}" y2="${y(value).toFixed(1)}"></line>
<text class="axis" x="${PAD.left - 6}" y="${(y(value) + 4).toFixed(1)}" text-anchor="end">${formatNumber(value, 1)}</text>`,
  );

  return html`<figure class="chart">
  <figcaption>${title}</figcaption>
  <svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${title}" preserveAspectRatio="xMidYMid meet">${ticks}${bars}</svg>
  ${legend()}
  <details><summary>Numbers</summary>
    <table class="compact"><thead><tr><th>Day</th>${PLATFORMS.map((p) => html`<th>${p}</th>`)}<th>Total</th></tr></thead>
    <tbody>${days.map(
      (day, i) => html`<tr><td>${day}</td>${PLATFORMS.map((p) => html`<td>${formatNumber(series[p][i] ?? 0, decimals)}</td>`)}<td>${formatNumber(totals[i]!, decimals)}</td></tr>`,
    )}</tbody></table>
  </details>
</figure>`;
}

export function busiestUsersChart(users: BusyUser[], days: number): Html {
  const title = `Busiest users, last ${days} days (GPU-seconds)`;
  if (users.length === 0) return html`<figure class="chart"><figcaption>${title}</figcaption><p class="muted">No renders in this period.</p></figure>`;
  const rowH = 26;
  const labelW = 130;
  const height = users.length * rowH + 8;
  const max = niceMax(Math.max(...users.map((u) => u.gpuSeconds)));
  const plotW = WIDTH - labelW - 70;
  const rows = users.map((user, i) => {
    const width = Math.max(1, (user.gpuSeconds / max) * plotW);
    const name = userName(user);
    const label = name.length > 18 ? `${name.slice(0, 17)}…` : name;
    const yTop = 4 + i * rowH;
    return html`<a href="${userHref(user)}"><text class="label" x="${labelW - 8}" y="${yTop + 17}" text-anchor="end">${label}</text></a>
<rect class="bar platform-${user.platform}" x="${labelW}" y="${yTop + 4}" width="${width.toFixed(1)}" height="${rowH - 10}"><title>${name} (${user.platform}): ${formatNumber(user.gpuSeconds, 1)} GPU-seconds, ${plural(user.videos, 'video')}</title></rect>
<text class="axis" x="${(labelW + width + 6).toFixed(1)}" y="${yTop + 17}">${formatNumber(user.gpuSeconds, 1)} s</text>`;
  });
  return html`<figure class="chart">
  <figcaption>${title}</figcaption>
  <svg viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${title}">${rows}</svg>
  ${legend()}
  <details><summary>Numbers</summary>
    <table class="compact"><thead><tr><th>User</th><th>Platform</th><th>Videos</th><th><abbr title="GPU-seconds">GPU s</abbr></th></tr></thead>
    <tbody>${users.map((u) => html`<tr><td><a href="${userHref(u)}">${userName(u)}</a></td><td>${u.platform}</td><td>${u.videos}</td><td>${formatNumber(u.gpuSeconds, 1)}</td></tr>`)}</tbody></table>
  </details>
</figure>`;
}
