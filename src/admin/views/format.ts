// Plain-text formatting shared by the dashboard views. Times are shown in UTC, the zone quotas reset in.
import type { JobUser } from '../../core/jobs.js';
import type { RenderParams } from '../../core/ports.js';

export function formatDateTime(at: Date | null): string {
  if (at === null) return '–';
  return `${at.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** "42 s", "3 min 5 s", "2 h 10 min"; one decimal under 10 s. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, seconds);
  if (s < 10) return `${(Math.round(s * 10) / 10).toString()} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(s % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function secondsBetween(from: Date | null, to: Date | null): number | null {
  return from === null || to === null ? null : (to.getTime() - from.getTime()) / 1000;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1_048_576) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1_048_576).toFixed(1)} MB`;
}

export function formatNumber(value: number, decimals = 0): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: decimals, minimumFractionDigits: 0 });
}

// The same counting words as the service's messages.
export { plural } from '../../core/messages.js';

export function paramsSummary(params: RenderParams): string {
  const frames = params.frames === 1 ? 'still image' : `${params.frames} frames @ ${params.fps} fps`;
  return `${frames} · ${params.width}×${params.height} · ${params.steps} steps · guidance ${params.guidance}`;
}

export function userName(user: Pick<JobUser, 'displayName' | 'platformUserId'>): string {
  return user.displayName ?? user.platformUserId;
}
