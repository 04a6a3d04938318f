// Database faults: which errors mean "the database cannot be reached or is busy right now" (a Postgres server
// restarting or killed, a SQLite file locked by another process) rather than a bad query or a bug, and the one place
// that turns them into VideoBotError(Unavailable), so the API, the dashboard and the chat replies all answer with the
// same 503 and sentence, and the worker knows to retry. What Prisma 7 throws in each case was measured
// (docs/reliability.md, "Database faults"):
// - Postgres down: the adapter's DatabaseNotReachable (P1001) at once, for every query and transaction start;
// - Postgres stopping under a running query: the server's 57P01 (P2010 for raw queries, P2039 for model queries);
//   under a running transaction pg's own "Client has encountered a connection error and is not queryable"; the
//   server killed: pg's "Connection terminated unexpectedly" (pg errors pass through the adapter unmapped);
// - SQLite locked by another process: SQLITE_BUSY (the adapter's SocketTimeout, P1008) after the busy timeout;
// - a transaction that could not start within its maxWait: P2028;
// - Postgres that keeps its connections open and answers nothing (stopped with SIGSTOP, behind a network cut): no
//   error at all until TCP gives up, many minutes later, so an operation unanswered past its deadline counts too.
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode } from '../core/errors.js';
import { videoBotError } from '../core/messages.js';
import type { PrismaClient } from './database.js';

/** What clients are asked to wait before trying again (the Retry-After header and the message). */
export const RETRY_AFTER_SECONDS = 30;

/**
 * How long a query or transaction that met another process's SQLite lock keeps trying before the database counts as
 * unavailable. better-sqlite3 waits for a lock synchronously, freezing the whole process, so its own busy timeout is
 * short (database.ts) and the waiting happens here, in pauses that leave the process free.
 */
const LOCKED_RETRY_MS = 2_000;
const LOCKED_PAUSE_FIRST_MS = 10;
const LOCKED_PAUSE_MAX_MS = 200;

/** How late a deadline's timer may fire before the lateness counts as this process standing still. */
const STALLED_PROCESS_MS = 1_000;

/** Driver adapter error kinds (`meta.driverAdapterError.cause.kind` of a Prisma error) that mean unreachable or busy. */
const UNAVAILABLE_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);
/** Postgres SQLSTATEs: class 08 (connection exception), 57P01-57P03 (shut down by an admin, by a crash, starting up). */
const UNAVAILABLE_SQLSTATE = /^(08|57P0[1-3])/;
/** P2028: a transaction could not start within its maxWait, or ran out of time (ours do nothing but database work). */
const UNAVAILABLE_PRISMA_CODES = new Set(['P2028']);
/** pg's own messages for a connection that broke; pg gives them no code. */
const PG_CONNECTION_LOST = new Set([
  'Connection terminated',
  'Connection terminated unexpectedly',
  'Client has encountered a connection error and is not queryable',
]);

interface ErrorShape {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  meta?: { driverAdapterError?: { cause?: { kind?: unknown; code?: unknown; originalCode?: unknown } } };
}

/** `error` and the errors it wraps (the depth bound guards against a cycle of causes). */
function* causeChain(error: unknown): Generator<ErrorShape> {
  let current = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    yield current as ErrorShape;
    current = (current as ErrorShape).cause;
  }
}

/** True when `error` (or an error it wraps) says the database cannot be reached or is busy. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (const shape of causeChain(error)) {
    const adapterCause = shape.meta?.driverAdapterError?.cause;
    if (UNAVAILABLE_KINDS.has(String(adapterCause?.kind))) return true;
    if (adapterCause?.kind === 'postgres' && UNAVAILABLE_SQLSTATE.test(String(adapterCause.code))) return true;
    if (UNAVAILABLE_PRISMA_CODES.has(String(shape.code))) return true;
    if (PG_CONNECTION_LOST.has(String(shape.message))) return true;
  }
  return false;
}

/** SQLITE_BUSY: the statement did not run (another process holds the lock), so running it again is safe. */
function isSqliteLocked(error: unknown): boolean {
  for (const shape of causeChain(error)) {
    if (String(shape.meta?.driverAdapterError?.cause?.originalCode).startsWith('SQLITE_BUSY')) return true;
  }
  return false;
}

/** Thrown when an operation was not answered within its deadline (the database is kept waiting, not refused). */
class UnansweredError extends Error {
  constructor(ms: number) {
    super(`The database did not answer within ${ms} ms`);
    this.name = 'UnansweredError';
  }
}

/**
 * `operation`, or UnansweredError once `deadlineMs` passes without an answer. The operation is left to end by itself
 * (its connection stays busy until the server answers or TCP gives up); what it yields then is dropped.
 */
async function answeredWithin<T>(operation: Promise<T>, deadlineMs: number | undefined): Promise<T> {
  if (deadlineMs === undefined) return operation;
  const stop = new AbortController();
  const unanswered = unansweredAfter(deadlineMs, stop.signal);
  unanswered.catch(() => {});
  // Prisma's promises run when first awaited: resolve it once, and keep a late failure from going unhandled.
  const answer = Promise.resolve(operation);
  answer.catch(() => {});
  try {
    return await Promise.race([answer, unanswered]);
  } finally {
    stop.abort();
  }
}

/**
 * Rejects with UnansweredError `deadlineMs` from now, unless aborted. A timer that fires late because this process
 * stood still (a long synchronous task) waits a moment more: the answer may have arrived and not been read yet.
 */
async function unansweredAfter(deadlineMs: number, signal: AbortSignal): Promise<never> {
  let due = Date.now() + deadlineMs;
  for (;;) {
    await sleep(Math.max(0, due - Date.now()), undefined, { signal, ref: false });
    if (Date.now() - due < STALLED_PROCESS_MS) throw new UnansweredError(deadlineMs);
    due = Date.now() + STALLED_PROCESS_MS;
  }
}

async function translated<T>(attempt: () => Promise<T>): Promise<T> {
  const lockedUntil = Date.now() + LOCKED_RETRY_MS;
  for (let pauseMs = LOCKED_PAUSE_FIRST_MS; ; pauseMs = Math.min(pauseMs * 2, LOCKED_PAUSE_MAX_MS)) {
    try {
      return await attempt();
    } catch (error) {
      if (isSqliteLocked(error) && Date.now() + pauseMs < lockedUntil) {
        await sleep(pauseMs);
        continue;
      }
      if (!(error instanceof UnansweredError) && !isDatabaseUnavailable(error)) throw error;
      throw videoBotError(ErrorCode.Unavailable, { retryAfterSeconds: RETRY_AFTER_SECONDS }, { cause: error });
    }
  }
}

type Work = (tx: unknown) => Promise<unknown>;

/** The transaction `start(work)`, given up at `deadlineMs`; if its work ends after that, it rolls back instead of committing. */
async function transactionWithin(start: (work: Work) => Promise<unknown>, work: Work, deadlineMs: number): Promise<unknown> {
  let givenUp = false;
  const guarded: Work = async (tx) => {
    const result = await work(tx);
    if (givenUp) throw new UnansweredError(deadlineMs);
    return result;
  };
  try {
    return await answeredWithin(start(guarded), deadlineMs);
  } catch (error) {
    if (error instanceof UnansweredError) givenUp = true;
    throw error;
  }
}

export interface DatabaseFaultOptions {
  /**
   * How long a query, or a whole transaction, may go unanswered before the database counts as unavailable; none when
   * undefined (SQLite: a local file answers or fails, it is never kept waiting by a network).
   */
  answerDeadlineMs?: number;
}

/**
 * The client with every unavailable-database error turned into VideoBotError(Unavailable), after trying again for a
 * while when SQLite is locked: a query (model or raw), or a whole transaction (its own queries run on the client
 * Prisma hands its callback; their errors leave through `$transaction`, and a transaction that met SQLITE_BUSY was
 * rolled back, so it runs again from the start). Only interactive transactions are accepted: the queries of a batch
 * would be retried one by one, outside it.
 *
 * A transaction given up at its deadline is made to roll back if it ever gets as far as committing: its caller has
 * been told it failed. A query or a COMMIT that was already sent when the deadline passed may still take effect once
 * the server answers, as after any connection lost mid-write.
 */
export function translatingDatabaseFaults(client: PrismaClient, options: DatabaseFaultOptions = {}): PrismaClient {
  const { answerDeadlineMs } = options;
  const transaction = client.$transaction.bind(client) as (work: unknown, options?: unknown) => Promise<unknown>;
  return client.$extends({
    query: { $allOperations: ({ args, query }) => translated(() => answeredWithin(query(args), answerDeadlineMs)) },
    client: {
      $transaction: (work: unknown, transactionOptions?: unknown) => {
        if (typeof work !== 'function') throw new TypeError('Use an interactive transaction ($transaction(async (tx) => ...)), not a batch');
        const start = (body: Work) => transaction(body, transactionOptions);
        return translated(() => (answerDeadlineMs === undefined ? start(work as Work) : transactionWithin(start, work as Work, answerDeadlineMs)));
      },
    },
  }) as unknown as PrismaClient;
}
