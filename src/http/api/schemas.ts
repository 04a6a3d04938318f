// Request shapes of the HTTP API. Only the structure is checked here; generation options are passed through as
// given and checked by core/requests.ts, so their messages (allowed ranges) are the same on every platform.
import { z } from 'zod';
import { ErrorCode, type OptionIssue } from '../../core/errors.js';
import { JOB_STATUSES, PLATFORMS, ROLES } from '../../core/jobs.js';
import { videoBotError } from '../../core/messages.js';
import { plainIssueMessage } from '../plain-issues.js';

const id = z.string().trim().min(1).max(128);

export const userSchema = z
  .object({ platform: z.enum(PLATFORMS), id, name: z.string().max(200).optional(), workspaceId: id.optional() })
  .strict();

export const replySchema = z
  .object({
    channelId: z.string().max(256),
    threadId: z.string().max(256).optional(),
    messageId: z.string().max(256).optional(),
    extra: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export const submitSchema = z
  .object({
    user: userSchema,
    prompt: z.unknown(),
    negativePrompt: z.unknown().optional(),
    frames: z.unknown().optional(),
    width: z.unknown().optional(),
    height: z.unknown().optional(),
    steps: z.unknown().optional(),
    guidance: z.unknown().optional(),
    seed: z.unknown().optional(),
    fps: z.unknown().optional(),
    reply: replySchema.optional(),
  })
  .strict();

export const derivedJobSchema = z.object({ user: userSchema.optional(), reply: replySchema.optional() }).strict();

/** Requests that make a job may carry an Idempotency-Key: repeating the request with it returns the same job. */
export const jobCreationHeadersSchema = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,200}$/, 'must be 1 to 200 visible ASCII characters')
    .optional(),
});

export const userParamsSchema = z.object({ platform: z.enum(PLATFORMS), id }).strict();

export const userUpdateSchema = z.object({ role: z.enum(ROLES).optional(), banned: z.boolean().optional() }).strict();

export const jobListQuerySchema = z
  .object({
    status: z
      .string()
      .transform((s) => s.split(',').map((v) => v.trim()))
      .pipe(z.array(z.enum(JOB_STATUSES)))
      .optional(),
    limit: z.coerce.number().int().min(1).max(500).optional(),
    before: z.coerce.number().int().min(1).optional(),
  })
  .strict();

export const auditQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(500).optional(),
    before: z.string().max(64).optional(),
    action: z.string().max(64).optional(),
  })
  .strict();

/** The body as a JSON object, or InvalidRequest. */
export function objectBody(value: unknown): Record<string, unknown> {
  if (value === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw videoBotError(ErrorCode.InvalidRequest, {
      issues: [{ field: '', message: 'The request body must be a JSON object (Content-Type: application/json).' }],
    });
  }
  return value as Record<string, unknown>;
}

/** Parses with `schema` or throws InvalidRequest naming each wrong field (`where` says body/query/path/headers). */
export function parseRequest<T extends z.ZodType>(schema: T, value: unknown, where: 'body' | 'query' | 'path' | 'headers'): z.output<T> {
  if (where === 'body') objectBody(value);
  const parsed = schema.safeParse(value, { error: plainIssueMessage });
  if (parsed.success) return parsed.data;
  const issues: OptionIssue[] = parsed.error.issues.map((issue) => {
    const field = issue.path.map(String).join('.');
    const message = issue.message.replace(/\.$/, '');
    return { field, message: field === '' ? `${message} (in the ${where}).` : `${field}: ${message} (in the ${where}).` };
  });
  throw videoBotError(ErrorCode.InvalidRequest, { issues });
}
