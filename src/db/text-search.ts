// Case-insensitive substring filters on both providers. SQLite's LIKE (what Prisma's `contains` becomes) already
// ignores ASCII case; Postgres needs Prisma's `mode: 'insensitive'` (ILIKE), which the SQLite client's types do
// not declare (the code is typed against the SQLite client, see database.ts), hence the cast.
//
// Prisma passes the text into the LIKE pattern as is, so `%` and `_` keep their wildcard meaning: for a search box
// that only widens the matches, which is harmless. What would differ is a backslash, Postgres' default LIKE escape
// character and plain text for SQLite; doubling it on Postgres makes it plain text on both.
import type { DatabaseProvider } from './database-url.js';
import type { Prisma } from './database.js';

export function containsIgnoringCase(provider: DatabaseProvider, text: string): { contains: string } {
  if (provider === 'sqlite') return { contains: text };
  return { contains: text.replaceAll('\\', '\\\\'), mode: 'insensitive' } as { contains: string };
}

/** Users whose platform user id or display name contains `text`, as the dashboard's user search boxes mean it. */
export function userTextFilter(provider: DatabaseProvider, text: string): Prisma.UserWhereInput {
  return { OR: [{ platformUserId: containsIgnoringCase(provider, text) }, { displayName: containsIgnoringCase(provider, text) }] };
}
