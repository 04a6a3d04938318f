// Opens the database named by DATABASE_URL with the matching driver adapter and generated client.
// Prisma 7 clients are provider-specific (a client refuses an adapter of another provider), so there is one
// generated client per provider; both come from the same schema and expose the same model API, and the rest of
// the code is typed against the SQLite one.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { PrismaClient as SqlitePrismaClient } from '../generated/prisma/sqlite/client.js';
import { PrismaClient as PostgresPrismaClient } from '../generated/prisma/postgresql/client.js';
import { translatingDatabaseFaults } from './database-faults.js';
import { maskDatabaseUrl, parseDatabaseUrl, type DatabaseLocation, type DatabaseProvider } from './database-url.js';

export type PrismaClient = SqlitePrismaClient;

export interface Database {
  readonly provider: DatabaseProvider;
  readonly prisma: PrismaClient;
  /** A fresh adapter factory for the schema engine (migrations). */
  adapterFactory(): SqlMigrationAwareDriverAdapterFactory;
  /** The URL with any password masked, for logs and health output. */
  readonly displayUrl: string;
  close(): Promise<void>;
}

/**
 * better-sqlite3's busy timeout: how long a write waits for another process's write lock. Migrations run before the
 * service answers anyone and may wait behind another process migrating the same file.
 */
const MIGRATION_BUSY_TIMEOUT_MS = 15_000;
/**
 * The same while serving. better-sqlite3 waits synchronously, freezing the whole process, so this is short and a
 * write that still meets a lock is tried again after pauses that leave the process free (database-faults.ts).
 */
const SERVING_BUSY_TIMEOUT_MS = 50;

function sqliteFactory(location: DatabaseLocation, busyTimeoutMs: number): PrismaBetterSqlite3 {
  return new PrismaBetterSqlite3({ url: location.target, timeout: busyTimeoutMs });
}

/**
 * A session that stays inside a transaction longer than this is ended by the server: a process that hangs (SIGSTOP)
 * or loses its network mid-transaction would otherwise hold its row locks (the submit and claim locks) for every
 * other process until TCP gives up, which takes hours.
 */
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;

/**
 * How long a query or transaction on Postgres may go unanswered before the database counts as unavailable (503 and
 * retries, as when it is down): a server that keeps connections open and answers nothing would otherwise hold each
 * request until TCP gives up. Far above what our queries take, including a burst of submits waiting for the
 * submit lock.
 */
const POSTGRES_ANSWER_DEADLINE_MS = 10_000;

function postgresFactory(location: DatabaseLocation): PrismaPg {
  return new PrismaPg(
    { connectionString: location.target, max: 10, options: `-c idle_in_transaction_session_timeout=${IDLE_IN_TRANSACTION_TIMEOUT_MS}` },
    location.schema === undefined ? undefined : { schema: location.schema },
  );
}

/** Where the database is and how to reach it, before any client connects (migrations run at this stage). */
export interface DatabaseTarget {
  readonly provider: DatabaseProvider;
  readonly location: DatabaseLocation;
  readonly displayUrl: string;
  adapterFactory(): SqlMigrationAwareDriverAdapterFactory;
}

export function databaseTarget(url: string): DatabaseTarget {
  const location = parseDatabaseUrl(url);
  if (location.provider === 'sqlite' && location.target !== ':memory:') mkdirSync(dirname(location.target), { recursive: true });
  return {
    provider: location.provider,
    location,
    displayUrl: maskDatabaseUrl(url),
    adapterFactory: () =>
      location.provider === 'sqlite' ? sqliteFactory(location, MIGRATION_BUSY_TIMEOUT_MS) : postgresFactory(location),
  };
}

/**
 * Connects the provider's client. Connect after migrating: a SQLite connection opened before another connection
 * created the tables was seen to keep reporting them missing. The client throws VideoBotError(Unavailable) while the
 * database cannot be reached or is locked (database-faults.ts); the pg pool reconnects by itself once it is back.
 */
export async function connectDatabase(target: DatabaseTarget): Promise<Database> {
  const { location } = target;
  let prisma: PrismaClient;
  if (location.provider === 'sqlite') {
    prisma = translatingDatabaseFaults(new SqlitePrismaClient({ adapter: sqliteFactory(location, SERVING_BUSY_TIMEOUT_MS) }));
    // WAL lets readers (dashboard, API) proceed while a submit holds the write lock.
    await prisma.$queryRawUnsafe('PRAGMA journal_mode = WAL');
  } else {
    prisma = translatingDatabaseFaults(new PostgresPrismaClient({ adapter: postgresFactory(location) }) as unknown as PrismaClient, {
      answerDeadlineMs: POSTGRES_ANSWER_DEADLINE_MS,
    });
    await prisma.$queryRawUnsafe('SELECT 1');
  }
  return {
    provider: target.provider,
    prisma,
    displayUrl: target.displayUrl,
    adapterFactory: target.adapterFactory,
    close: () => prisma.$disconnect(),
  };
}

export type { Prisma } from '../generated/prisma/sqlite/client.js';
