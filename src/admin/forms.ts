// Reading the dashboard's forms and query strings. Browsers send strings; these helpers turn them into the values
// the service expects and refuse anything else with InvalidRequest naming the field, which the error handler shows
// as a 400 page. Range checks stay in the service and settings store, so the dashboard and the API say the same.
import { z } from 'zod';
import { ErrorCode, type OptionIssue } from '../core/errors.js';
import { videoBotError } from '../core/messages.js';
import { plainIssueMessage } from '../http/plain-issues.js';

/** Form bodies (application/x-www-form-urlencoded) and query strings: repeated keys arrive as arrays. */
export type FormFields = Record<string, string | string[] | undefined>;

export function formFields(value: unknown): FormFields {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw videoBotError(ErrorCode.InvalidRequest, { issues: [{ field: '', message: 'Send the form fields as a form or JSON object.' }] });
  }
  return value as FormFields;
}

/** Parses with `schema`, or throws InvalidRequest with one message per wrong field. */
export function parseFields<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const parsed = schema.safeParse(formFields(value), { error: plainIssueMessage });
  if (parsed.success) return parsed.data;
  const issues: OptionIssue[] = parsed.error.issues.map((issue) => {
    const field = issue.path.map(String).join('.');
    const message = issue.message.replace(/\.$/, '');
    return { field, message: field === '' ? `${message}.` : `${field}: ${message}.` };
  });
  throw videoBotError(ErrorCode.InvalidRequest, { issues });
}

const jobParams = z.object({ id: z.string().min(1).max(64) });

/** The job id of a `/…/:id/…` job route. */
export function jobIdParam(params: unknown): string {
  return parseFields(jobParams, params).id;
}

/** A field's value, trimmed; when a key is repeated, the last one wins (as most form readers do). */
const lastValue = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? (v.at(-1) ?? '') : v).trim());

/** A text field; '' becomes undefined. */
export const text = (max: number) =>
  lastValue
    .pipe(z.string().max(max, `at most ${max} characters`))
    .transform((v) => (v === '' ? undefined : v))
    .optional();

/**
 * A whole number; '' is null (inherit, or back to the default); a field missing from the form is undefined
 * (leave it as it is). The range is checked by the service.
 */
export const optionalWholeNumber = lastValue
  .transform((v, ctx) => {
    if (v === '') return null;
    if (!/^\d{1,15}$/.test(v)) {
      ctx.addIssue({ code: 'custom', message: `must be a whole number or empty (got "${v.slice(0, 40)}")` });
      return z.NEVER;
    }
    return Number(v);
  })
  .optional();

export const pageNumber = text(9).transform((v, ctx) => {
  if (v === undefined) return 1;
  if (!/^[1-9]\d*$/.test(v)) {
    ctx.addIssue({ code: 'custom', message: `must be a page number from 1 (got "${v}")` });
    return z.NEVER;
  }
  return Number(v);
});

/** A 'YYYY-MM-DD' date as the start of that UTC day. */
export const utcDate = text(10).transform((v, ctx) => {
  if (v === undefined) return undefined;
  const at = new Date(`${v}T00:00:00.000Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(at.getTime()) || at.toISOString().slice(0, 10) !== v) {
    ctx.addIssue({ code: 'custom', message: `must be a date as YYYY-MM-DD (got "${v}")` });
    return z.NEVER;
  }
  return at;
});

/** One of `values`, or undefined when empty. */
export const choice = <const T extends readonly [string, ...string[]]>(values: T) =>
  text(64).pipe(z.enum(values, { error: `must be one of ${values.join(', ')}` }).optional());
