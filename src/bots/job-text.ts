// Plain-text pieces that both chat adapters put into their messages: a job's place in line, its progress, its
// parameters and durations. Pure functions, so Discord's embeds and Slack's blocks say the same thing in the same words.
import type { Job } from '../core/jobs.js';
import type { RenderParams } from '../core/ports.js';

/** "12 s", "about 3 min", "about 1 h 20 min". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, seconds);
  if (s < 60) return `${Math.max(1, Math.round(s))} s`;
  const minutes = Math.round(s / 60);
  if (minutes < 60) return `about ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return `about ${hours} h${minutes % 60 === 0 ? '' : ` ${minutes % 60} min`}`;
}

/** Seconds with one decimal below a minute ("0.5 s", "12.3 s"), as used for clip lengths and render times. */
export function formatSeconds(seconds: number): string {
  if (seconds >= 60) return formatDuration(seconds);
  return `${(Math.round(seconds * 10) / 10).toFixed(1)} s`;
}

/** Where a waiting job stands: "#2 in line, ready in about 3 min"; the engine may be unavailable (ETA null). */
export function placeText(position: number, etaSeconds: number | null): string {
  const place = position <= 0 ? 'Starting now' : position === 1 ? 'Next in line' : `#${position} in line`;
  const eta = etaSeconds === null ? 'waiting for the engine to be ready' : `ready in ${formatDuration(etaSeconds)}`;
  return `${place}, ${eta}`;
}

const BAR_WIDTH = 10;

/** "▰▰▰▱▱▱▱▱▱▱ step 3/10" */
export function progressBar(step: number, totalSteps: number): string {
  const total = Math.max(1, totalSteps);
  const filled = Math.min(BAR_WIDTH, Math.round((Math.max(0, step) / total) * BAR_WIDTH));
  return `${'▰'.repeat(filled)}${'▱'.repeat(BAR_WIDTH - filled)} step ${Math.min(step, total)}/${total}`;
}

/** "Rendering: ▰▰▰▱… step 3/10, about 20 s left" */
export function progressText(step: number, totalSteps: number, etaMs: number | null): string {
  const left = etaMs === null ? '' : `, ${formatDuration(etaMs / 1000)} left`;
  return `Rendering: ${progressBar(step, totalSteps)}${left}`;
}

/** Length of the clip in seconds. */
export function clipSeconds(params: Pick<RenderParams, 'frames' | 'fps'>): number {
  return params.frames / params.fps;
}

/** The numbers of a render as label/value pairs, in a fixed order (embed fields, Block Kit fields). */
export function paramFields(params: RenderParams): { label: string; value: string }[] {
  const fields = [
    { label: 'Seed', value: String(params.seed) },
    { label: 'Size', value: `${params.width}x${params.height}` },
    {
      label: 'Frames',
      value: params.frames === 1 ? '1 (still image)' : `${params.frames} at ${params.fps} fps (${formatSeconds(clipSeconds(params))})`,
    },
    { label: 'Steps', value: String(params.steps) },
    { label: 'Guidance', value: String(params.guidance) },
  ];
  if (params.negativePrompt !== '') fields.push({ label: 'Negative', value: params.negativePrompt });
  return fields;
}

/** One line: "seed 7 · 256x256 · 16 frames at 8 fps (2.0 s) · 25 steps · guidance 9". */
export function paramsLine(params: RenderParams): string {
  const frames = params.frames === 1 ? 'still image' : `${params.frames} frames at ${params.fps} fps (${formatSeconds(clipSeconds(params))})`;
  return `seed ${params.seed} · ${params.width}x${params.height} · ${frames} · ${params.steps} steps · guidance ${params.guidance}`;
}

/** "Rendered in 12.3 s" from the job's measured GPU time, or its wall time when that is missing. */
export function renderTimeText(job: Pick<Job, 'gpuSeconds' | 'startedAt' | 'finishedAt'>): string {
  const seconds =
    job.gpuSeconds ??
    (job.startedAt !== null && job.finishedAt !== null ? (job.finishedAt.getTime() - job.startedAt.getTime()) / 1000 : null);
  return seconds === null ? 'Rendered' : `Rendered in ${formatSeconds(seconds)}`;
}

/** A running job went back to the queue: the service restarted, or is restarting and resumes it afterwards. */
export function requeuedText(reason: 'restart' | 'shutdown'): string {
  return reason === 'shutdown'
    ? 'The service is restarting: this video is back in the queue and continues after the restart.'
    : 'The service restarted: this video is back in the queue.';
}

/**
 * `byUserId` undefined: an admin cancelled it from the dashboard or the API; null: not known (the message is sent
 * after a restart, and who cancelled is not kept). `<@id>` mentions on both platforms.
 */
export function cancelledByText(byUserId: string | undefined | null): string {
  if (byUserId === null) return 'Cancelled.';
  return `Cancelled by ${byUserId === undefined ? 'an admin' : `<@${byUserId}>`}.`;
}

/** The answer to a Cancel that went through: a waiting job is gone at once, a running one stops at its next step. */
export function cancelAcceptedText(job: Pick<Job, 'status'>): string {
  return job.status === 'cancelled' ? 'Cancelled.' : 'Cancelling: the render stops at its next step.';
}

/** A prompt cut to `max` characters on a word boundary when possible, with an ellipsis. */
export function truncate(text: string, max: number): string {
  const clean = text.replace(/\s+/g, ' ').trim();
  if (clean.length <= max) return clean;
  const cut = clean.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${space > max / 2 ? cut.slice(0, space) : cut}…`;
}

/** Media file name for an upload: video.mp4 / image.png with the job id, so downloads do not collide. */
export function mediaFileName(job: Pick<Job, 'id' | 'output'>): string {
  return job.output?.mediaType === 'image/png' ? `t2v-${job.id}.png` : `t2v-${job.id}.mp4`;
}
