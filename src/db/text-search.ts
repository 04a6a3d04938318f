// Case-insensitive substring filters on both providers. SQLite's LIKE (what Prisma's `contains` becomes) already
// ignores ASCII case; Postgres needs Prisma's `mode: 'insensitive'` (ILIKE), which the SQLite client's types do
// not declare (the code is typed against the SQLite client, see database.ts), hence the cast.
import type { DatabaseProvider } from './database.js';

export function containsIgnoringCase(provider: DatabaseProvider, text: string): { contains: string } {
  return provider === 'postgresql' ? ({ contains: text, mode: 'insensitive' } as { contains: string }) : { contains: text };
}
