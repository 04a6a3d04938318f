// The deadline on a Postgres that keeps its connections open and answers nothing (a cut loopback link): a query or
// transaction left unanswered becomes VideoBotError(Unavailable) at the deadline, and a transaction given up there
// rolls back when the link heals and its work goes on, instead of committing behind its caller's back. A process
// that merely stood still past the deadline is not mistaken for a database that did not answer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PrismaPg } from '@prisma/adapter-pg';
import { ErrorCode, VideoBotError } from '../../src/core/errors.js';
import type { PrismaClient } from '../../src/db/database.js';
import { translatingDatabaseFaults } from '../../src/db/database-faults.js';
import { PrismaClient as PostgresPrismaClient } from '../../src/generated/prisma/postgresql/client.js';
import { CuttableLink } from '../support/cuttable-link.js';
import { createTestDatabase, type TestDatabase } from '../support/test-databases.js';

/** Short for a quick test, yet above what connecting and a small query take on a busy machine. */
const DEADLINE_MS = 2_000;

function isUnavailable(error: unknown): boolean {
  return error instanceof VideoBotError && error.is(ErrorCode.Unavailable);
}

describe('a Postgres that answers nothing (network cut)', () => {
  let database: TestDatabase;
  let link: CuttableLink;
  let prisma: PrismaClient;

  before(async () => {
    database = await createTestDatabase('postgresql');
    link = await CuttableLink.start(database.url);
    // One connection: a query waits until the transaction before it has ended on the server.
    const adapter = new PrismaPg({ connectionString: link.via(database.url), max: 1 });
    prisma = translatingDatabaseFaults(new PostgresPrismaClient({ adapter }) as unknown as PrismaClient, { answerDeadlineMs: DEADLINE_MS });
    await prisma.$executeRawUnsafe('CREATE TABLE written (n integer)');
  });

  after(async () => {
    link.restore();
    await prisma.$disconnect();
    await link.close();
    await database.drop();
  });

  it('a query unanswered past the deadline is Unavailable; the next one after the link is back works', async () => {
    link.cut();
    const started = Date.now();
    await assert.rejects(prisma.$queryRawUnsafe('SELECT 1'), isUnavailable);
    const waitedMs = Date.now() - started;
    assert.ok(waitedMs >= DEADLINE_MS && waitedMs < 2 * DEADLINE_MS, `gave up after ${waitedMs} ms`);
    link.restore();
    assert.deepEqual(await prisma.$queryRawUnsafe('SELECT 1 AS one'), [{ one: 1 }]);
  });

  it('a process that stood still past the deadline (a long synchronous task) still reads the answer that came meanwhile', async () => {
    // The server answers after 0.3 s; by then this process is standing still, until well past the deadline.
    const query = prisma.$queryRawUnsafe<[{ one: number }]>('SELECT 1 AS one FROM pg_sleep(0.3)').then(([row]) => row);
    await sleep(100);
    const until = Date.now() + DEADLINE_MS + 1_500;
    while (Date.now() < until);
    assert.deepEqual(await query, { one: 1 });
  });

  it('a transaction given up at its deadline rolls back once the link is back, although its work then succeeds', async () => {
    let workDone = false;
    const transaction = prisma.$transaction(
      async (tx) => {
        await tx.$executeRawUnsafe('INSERT INTO written VALUES (1)');
        link.cut();
        await tx.$executeRawUnsafe('INSERT INTO written VALUES (2)');
        workDone = true;
      },
      { maxWait: 5_000, timeout: 30_000 },
    );
    await assert.rejects(transaction, isUnavailable);
    assert.equal(workDone, false);

    link.restore();
    const [{ rows }] = await prisma.$queryRawUnsafe<[{ rows: number }]>('SELECT count(*)::integer AS rows FROM written');
    assert.equal(workDone, true, 'the work went on once the link was back');
    assert.equal(rows, 0, 'and was rolled back');
  });
});
