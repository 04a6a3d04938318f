// One coded error type for the whole system (Bolt's CodedError shape). `code` is stable and machine-readable;
// `details` carries the parameters the user-facing text needs (core/messages.ts) and what admins see.
// Create errors with `videoBotError(code, details)` from core/messages.ts so the message comes from the table.

export enum ErrorCode {
  /** The request itself is malformed (not JSON, wrong type, unknown field). */
  InvalidRequest = 'videobot_invalid_request',
  /** A generation option is outside its allowed range. */
  InvalidOptions = 'videobot_invalid_options',
  PromptRejected = 'videobot_prompt_rejected',
  QuotaExceeded = 'videobot_quota_exceeded',
  /** The user already has the maximum number of jobs waiting. */
  TooManyQueued = 'videobot_too_many_queued',
  /** The whole queue is at its cap. */
  QueueFull = 'videobot_queue_full',
  UserBanned = 'videobot_user_banned',
  Unauthorized = 'videobot_unauthorized',
  Forbidden = 'videobot_forbidden',
  NotFound = 'videobot_not_found',
  /** The job is in a state that does not allow the action (cancel a finished job, fetch a video not made yet). */
  InvalidState = 'videobot_invalid_state',
  /** The render failed. */
  EngineFailed = 'videobot_engine_failed',
  /** The process rendering this job stopped twice (a crash, a lost worker); it is not retried again. */
  JobInterrupted = 'videobot_job_interrupted',
  ShuttingDown = 'videobot_shutting_down',
  /**
   * The database cannot be reached or is busy (a Postgres restart, a killed server, a SQLite file locked by another
   * process); try again later. src/db/database-faults.ts decides which database errors these are.
   */
  Unavailable = 'videobot_unavailable',
  UploadTooLarge = 'videobot_upload_too_large',
  PlatformError = 'videobot_platform_error',
  Internal = 'videobot_internal',
}

export type QuotaKind = 'videos' | 'gpuSeconds';

/** Faults of the machine a render ran on, not of its request; messages.ts says each to the requester. */
export type RenderFault = 'encoder_missing' | 'encoder_failed' | 'disk_full';

export interface OptionIssue {
  /** The option's name as the requester wrote it (frames, width, ...), or '' for the request as a whole. */
  field: string;
  /** A complete sentence naming the allowed values, for example "frames must be from 1 to 32 (got 40)". */
  message: string;
}

export type JobAction = 'cancel' | 'reroll' | 'reproduce' | 'promote' | 'video';

/** The parameters each code carries; messages.ts formats them. */
export interface ErrorDetailsByCode {
  [ErrorCode.InvalidRequest]: { issues: OptionIssue[] };
  [ErrorCode.InvalidOptions]: { issues: OptionIssue[] };
  [ErrorCode.PromptRejected]: { reason: 'banned_word'; word: string };
  [ErrorCode.QuotaExceeded]: {
    kind: QuotaKind;
    used: number;
    limit: number;
    /** What this request would add (1 video, or its estimated GPU-seconds). */
    requested: number;
    /** ISO time when the daily quota resets. */
    resetAt: string;
  };
  [ErrorCode.TooManyQueued]: { queued: number; limit: number };
  [ErrorCode.QueueFull]: { queued: number; limit: number };
  [ErrorCode.UserBanned]: Record<string, never>;
  [ErrorCode.Unauthorized]: Record<string, never>;
  [ErrorCode.Forbidden]: { action: string };
  [ErrorCode.NotFound]: { entity: 'job' | 'user' | 'route' | 'video'; id: string };
  [ErrorCode.InvalidState]: { jobId: string; status: string; action: JobAction };
  [ErrorCode.EngineFailed]: { reason: string } | { fault: RenderFault };
  [ErrorCode.JobInterrupted]: { attempts: number };
  [ErrorCode.ShuttingDown]: Record<string, never>;
  /** `store`: what is unavailable, when it is not the database. */
  [ErrorCode.Unavailable]: { retryAfterSeconds: number; store?: 'video storage' };
  [ErrorCode.UploadTooLarge]: { bytes?: number; limit?: number };
  [ErrorCode.PlatformError]: { platform: string; error: string };
  [ErrorCode.Internal]: Record<string, never>;
}

export type ErrorDetails<C extends ErrorCode> = ErrorDetailsByCode[C];

export class VideoBotError<C extends ErrorCode = ErrorCode> extends Error {
  constructor(
    readonly code: C,
    message: string,
    readonly details: Partial<ErrorDetails<C>> & Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'VideoBotError';
  }

  /** Narrows the code (and with it the details type). */
  is<K extends ErrorCode>(code: K): this is VideoBotError<K> {
    return (this.code as ErrorCode) === code;
  }
}

/** Wraps anything thrown into a VideoBotError (Internal unless it already is one), keeping the original as `cause`. */
export function asVideoBotError(error: unknown): VideoBotError {
  if (error instanceof VideoBotError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new VideoBotError(ErrorCode.Internal, message, {}, { cause: error });
}
