// DATABASE_URL: which provider and where, read without loading a database driver or a generated client (the
// install check and the composition root need it before those load).
import { resolve } from 'node:path';

export type DatabaseProvider = 'sqlite' | 'postgresql';

export interface DatabaseLocation {
  provider: DatabaseProvider;
  /** SQLite: absolute file path. Postgres: the connection string. */
  target: string;
  /** Postgres `?schema=` (default public). */
  schema?: string;
}

export class DatabaseUrlError extends Error {}

/** Parses `file:<path>` (relative to the working directory) or `postgres[ql]://...`. */
export function parseDatabaseUrl(url: string): DatabaseLocation {
  if (url.startsWith('file:')) {
    const path = url.slice('file:'.length).replace(/^\/\/(?=\/)/, '').split('?')[0] ?? '';
    if (path === '') throw new DatabaseUrlError('DATABASE_URL file: needs a path, for example file:./data/t2v.db');
    return { provider: 'sqlite', target: path === ':memory:' ? path : resolve(path) };
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new DatabaseUrlError('DATABASE_URL is not a valid postgresql:// URL');
    }
    const schema = parsed.searchParams.get('schema') ?? undefined;
    parsed.searchParams.delete('schema');
    return { provider: 'postgresql', target: parsed.toString(), ...(schema === undefined ? {} : { schema }) };
  }
  throw new DatabaseUrlError('DATABASE_URL must start with file: (SQLite) or postgresql:// (Postgres)');
}

export function maskDatabaseUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]+@/, '$1***@');
}
