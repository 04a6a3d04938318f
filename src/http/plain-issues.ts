// zod's own messages in plain words. Its defaults are written for developers ("Invalid input: expected nonoptional,
// received undefined", "expected number, received NaN"); the API and the dashboard show these to whoever sent the
// request, so each reads as the second half of "<field>: ...". Messages a schema sets itself are left alone.
import type { z } from 'zod';

const TYPE_NAMES: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  bigint: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  date: 'a date',
  null: 'null',
};

function describeBound(origin: string, bound: number | bigint, inclusive: boolean | undefined, side: 'least' | 'most'): string {
  const exclusive = inclusive === false;
  if (origin === 'string' && side === 'least' && !exclusive && Number(bound) === 1) return 'must not be empty';
  const limit = side === 'least' ? (exclusive ? `more than ${bound}` : `at least ${bound}`) : exclusive ? `less than ${bound}` : `at most ${bound}`;
  if (origin === 'string') return `must be ${limit} characters long`;
  if (origin === 'array' || origin === 'set') return `must have ${limit} items`;
  return `must be ${limit}`;
}

export const plainIssueMessage: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? 'is required' : `must be ${TYPE_NAMES[issue.expected] ?? issue.expected}`;
    case 'too_small':
      return describeBound(issue.origin, issue.minimum, issue.inclusive, 'least');
    case 'too_big':
      return describeBound(issue.origin, issue.maximum, issue.inclusive, 'most');
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}`;
    case 'unrecognized_keys':
      return `${issue.keys.map((key) => `"${key}"`).join(', ')} ${issue.keys.length === 1 ? 'is not a field' : 'are not fields'} of this request`;
    case 'invalid_union':
      // The first alternative is the usual form ("text", for a form field that may also repeat).
      return issue.errors[0]?.[0]?.message ?? 'is not in an accepted form';
    case 'invalid_format':
      return 'is not in the accepted format';
    default:
      return undefined;
  }
};
