// `npm run db:migration -- <name>`: writes a new migration for each provider, the diff from the latest
// migration's snapshot to the current prisma/schema.prisma, plus the new snapshot. Prints "no changes" when the
// schema already matches. Postgres diffs need a reachable server (MIGRATION_DATABASE_URL, default the local one);
// nothing is written to it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import type { DatabaseProvider } from '../src/db/database-url.js';
import {
  LOCK_FILE,
  MIGRATION_FILE,
  PROJECT_ROOT,
  SNAPSHOT_FILE,
  diffSchemas,
  isEmptyMigration,
  lockFileContent,
  migrationsDir,
  providerSchema,
  readMigrations,
} from '../src/db/migrations.js';

const name = process.argv[2];
if (name === undefined || !/^[a-z0-9_]+$/.test(name)) {
  console.error('Usage: npm run db:migration -- <name>   (lower-case letters, digits and _)');
  process.exit(1);
}
execFileSync(process.execPath, [join(PROJECT_ROOT, 'scripts/db-generate.mjs')], { stdio: 'inherit' });

const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
const postgresUrl = process.env.MIGRATION_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

for (const provider of ['sqlite', 'postgresql'] as const satisfies readonly DatabaseProvider[]) {
  const schema = providerSchema(provider);
  const previous = readMigrations(provider).at(-1);
  const factory =
    provider === 'sqlite' ? new PrismaBetterSqlite3({ url: ':memory:' }) : new PrismaPg({ connectionString: postgresUrl });
  const sql = await diffSchemas(factory, schema.path, previous?.snapshot, schema.text);
  if (isEmptyMigration(sql)) {
    console.log(`${provider}: no changes since ${previous?.name ?? 'an empty database'}`);
    continue;
  }
  const dir = join(migrationsDir(provider), `${stamp}_${name}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, MIGRATION_FILE), sql);
  writeFileSync(join(dir, SNAPSHOT_FILE), schema.text);
  const lock = join(migrationsDir(provider), LOCK_FILE);
  if (!existsSync(lock)) writeFileSync(lock, lockFileContent(provider));
  console.log(`${provider}: wrote ${dir}`);
}
