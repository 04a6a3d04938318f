// The one table of user-facing text, shared by every adapter (Discord, Slack, HTTP API, dashboard).
// Plain words with the numbers that matter (limits, reset time, allowed ranges); never a stack trace.
import { ErrorCode, VideoBotError, type ErrorDetails, type ErrorDetailsByCode, type JobAction, type RenderFault } from './errors.js';

type MessageTable = { [C in ErrorCode]: (details: Partial<ErrorDetails<C>>) => string };

const ACTION_PARTICIPLE: Record<JobAction, string> = {
  cancel: 'cancelled',
  reroll: 'rerolled',
  reproduce: 'reproduced',
  promote: 'moved to the front',
  video: 'downloaded',
};

/** "1 video", "3 videos". */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** "in 3 h 20 min (00:00 UTC)" style, relative to now. */
export function formatResetTime(resetAt: string, now: Date = new Date()): string {
  const at = new Date(resetAt);
  if (Number.isNaN(at.getTime())) return 'at midnight UTC';
  const minutes = Math.max(0, Math.ceil((at.getTime() - now.getTime()) / 60_000));
  const hours = Math.floor(minutes / 60);
  const relative = hours > 0 ? `${hours} h ${minutes % 60} min` : `${minutes} min`;
  const clock = `${String(at.getUTCHours()).padStart(2, '0')}:${String(at.getUTCMinutes()).padStart(2, '0')} UTC`;
  return `in ${relative} (${clock})`;
}

/** What went wrong, as the requester reads it after "Rendering failed: ", and what they can do. */
const RENDER_FAULTS: Record<RenderFault, { what: string; advice: string }> = {
  encoder_missing: { what: "the server's video encoder (ffmpeg) is missing", advice: 'Please try again later.' },
  encoder_failed: { what: 'the video encoder stopped before the video was finished', advice: 'Please try again.' },
  disk_full: { what: 'the server ran out of disk space while saving the video', advice: 'Please try again later.' },
};

function issuesText(issues: ErrorDetailsByCode[ErrorCode.InvalidOptions]['issues'] | undefined, fallback: string) {
  if (issues === undefined || issues.length === 0) return fallback;
  return issues.map((i) => i.message).join(' ');
}

export const messages: MessageTable = {
  [ErrorCode.InvalidRequest]: (d) => issuesText(d.issues, 'That request is not in a form I understand.'),
  [ErrorCode.InvalidOptions]: (d) => issuesText(d.issues, 'Some of those options are not allowed.'),
  [ErrorCode.PromptRejected]: (d) =>
    d.word === undefined
      ? 'That prompt is not allowed here.'
      : `That prompt contains a blocked word ("${d.word}"). Please rephrase it.`,
  [ErrorCode.QuotaExceeded]: (d) => {
    const reset = d.resetAt === undefined ? '' : ` It resets ${formatResetTime(d.resetAt)}.`;
    if (d.kind === 'gpuSeconds') {
      const left = Math.max(0, Math.floor((d.limit ?? 0) - (d.used ?? 0)));
      return (
        `That video needs about ${Math.ceil(d.requested ?? 0)} GPU-seconds but you have ${left} of your ` +
        `${d.limit ?? 0} left today.${reset}`
      );
    }
    return `You have used ${d.used ?? 0} of your ${plural(d.limit ?? 0, 'video')} today.${reset}`;
  },
  [ErrorCode.TooManyQueued]: (d) =>
    `You have ${plural(d.queued ?? 0, 'video')} queued; the limit is ${d.limit ?? 0}. ` +
    'Wait for one to finish or cancel one.',
  [ErrorCode.QueueFull]: (d) =>
    `The queue is full (${d.queued ?? 0} of ${d.limit ?? 0} videos waiting). Please try again later.`,
  [ErrorCode.UserBanned]: () => 'You are not allowed to make videos here.',
  [ErrorCode.Unauthorized]: () => 'A valid token is required (Authorization: Bearer <token>).',
  [ErrorCode.Forbidden]: (d) =>
    d.action === undefined ? 'You are not allowed to do that.' : `You are not allowed to ${d.action}.`,
  [ErrorCode.NotFound]: (d) => {
    if (d.entity === 'route') return `There is nothing at ${d.id ?? 'that address'}.`;
    return d.id === undefined ? `No such ${d.entity ?? 'item'}.` : `No ${d.entity ?? 'item'} "${d.id}" exists.`;
  },
  [ErrorCode.InvalidState]: (d) => {
    const job = d.jobId === undefined ? 'This video' : `Video ${d.jobId}`;
    if (d.action === 'video') return `${job} is ${d.status ?? 'not ready'}; it has no file to download yet.`;
    return `${job} is ${d.status ?? 'in another state'}, so it cannot be ${ACTION_PARTICIPLE[d.action ?? 'cancel']}.`;
  },
  [ErrorCode.EngineFailed]: (d) => {
    if ('fault' in d && d.fault !== undefined) {
      const { what, advice } = RENDER_FAULTS[d.fault];
      return `Rendering failed: ${what}. Your quota for it was refunded. ${advice}`;
    }
    const reason = 'reason' in d ? d.reason : undefined;
    return `Rendering failed${reason === undefined ? '' : `: ${reason}`}. Your quota for it was refunded.`;
  },
  [ErrorCode.JobInterrupted]: (d) =>
    `Rendering this video was interrupted ${plural(d.attempts ?? 2, 'time')} (the service or the worker rendering it ` +
    'stopped), so it was not retried again. Your quota for it was refunded.',
  [ErrorCode.ShuttingDown]: () => 'The service is restarting. Please try again in a minute.',
  [ErrorCode.Unavailable]: (d) =>
    `The service's ${d.store ?? 'database'} is not available right now. Please try again ` +
    `${d.retryAfterSeconds === undefined ? 'in a minute' : `in ${plural(d.retryAfterSeconds, 'second')}`}.`,
  [ErrorCode.UploadTooLarge]: (d) =>
    d.bytes === undefined
      ? 'The video is too large to upload here.'
      : `The video (${(d.bytes / 1_048_576).toFixed(1)} MB) is too large to upload here.`,
  [ErrorCode.PlatformError]: (d) =>
    `The chat platform refused the request${d.error === undefined ? '' : ` (${d.error})`}.`,
  [ErrorCode.Internal]: () => 'Something went wrong on our side. The admins can see the details.',
};

/** The text a chat user sees for an error (never the internal message or stack). */
export function userMessage(error: VideoBotError): string {
  const format = messages[error.code] as (details: Record<string, unknown>) => string;
  return format(error.details);
}

/** Creates a VideoBotError whose message is the user-facing text for its details. */
export function videoBotError<C extends ErrorCode>(
  code: C,
  details: ErrorDetails<C>,
  options?: ErrorOptions,
): VideoBotError<C> {
  const error = new VideoBotError(code, '', details as ErrorDetails<C> & Record<string, unknown>, options);
  error.message = userMessage(error);
  return error;
}
