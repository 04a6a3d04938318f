import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FairShareScheduler, restoreScheduler, type PastCharge, type PendingJob } from '../../src/queue/scheduler.js';

const HOUR = 3_600_000;

/** Jobs from a literal like "A1,A2,B1": user = letter, submit order = position, all of equal cost. */
function jobs(sequence: string, cost = 10): PendingJob[] {
  return sequence.split(',').map((label, seq) => ({ id: label, userId: label[0]!, seq, cost, promotedAt: null }));
}

function drain(scheduler: FairShareScheduler, now = 0): string {
  const order: string[] = [];
  for (let job = scheduler.next(now); job !== undefined; job = scheduler.next(now)) order.push(job.id);
  return order.join(',');
}

function schedulerWith(sequence: string, options: { halfLifeMs?: number; weights?: Record<string, number> } = {}) {
  const scheduler = new FairShareScheduler({
    halfLifeMs: options.halfLifeMs ?? HOUR,
    weightOf: (user) => options.weights?.[user] ?? 1,
  });
  for (const job of jobs(sequence)) scheduler.enqueue(job);
  return scheduler;
}

describe('FairShareScheduler', () => {
  it('interleaves users, FIFO within each (style.md example)', () => {
    assert.equal(drain(schedulerWith('A1,A2,B1,C1,C2,A3')), 'A1,B1,C1,A2,C2,A3');
  });

  it('interleaves a heavy user with light users instead of running the heavy one first', () => {
    assert.equal(drain(schedulerWith('A1,A2,A3,A4,A5,A6,B1,B2,C1')), 'A1,B1,C1,A2,B2,A3,A4,A5,A6');
  });

  it('runs a newcomer right after the running job, however many jobs another user queued', () => {
    const scheduler = schedulerWith('A1,A2,A3,A4,A5,A6,A7,A8,A9,A10');
    assert.equal(scheduler.next(0)?.id, 'A1'); // A1 is now running
    scheduler.enqueue({ id: 'B1', userId: 'B', seq: 100, cost: 10, promotedAt: null });
    assert.equal(scheduler.next(1000)?.id, 'B1');
  });

  it('serves the user with less recent usage first, and forgets usage over the half-life', () => {
    const scheduler = new FairShareScheduler({ halfLifeMs: HOUR });
    scheduler.charge('A', 100, 0); // A used the GPU a lot an hour ago
    scheduler.charge('B', 60, HOUR); // B used less, just now
    for (const job of jobs('A1,B1')) scheduler.enqueue(job);
    // A's 100 s have decayed to 50 < B's 60.
    assert.equal(scheduler.order(HOUR).map((j) => j.id).join(','), 'A1,B1');
    // Right after A's usage, B goes first.
    assert.equal(scheduler.order(0).map((j) => j.id).join(','), 'B1,A1');
    assert.ok(Math.abs(scheduler.usageOf('A', HOUR) - 50) < 1e-9);
  });

  it('weights usage by role: a weight-2 user runs twice as often under contention', () => {
    const scheduler = schedulerWith('A1,A2,A3,A4,A5,A6,T1,T2,T3,T4,T5,T6', { weights: { T: 2 } });
    assert.equal(drain(scheduler).split(',').slice(0, 9).join(','), 'A1,T1,T2,A2,T3,T4,A3,T5,T6');
  });

  it('moves a promoted job to the very front; the latest promotion first', () => {
    const scheduler = schedulerWith('A1,A2,B1,B2,C1');
    assert.equal(scheduler.promote('C1', 5), true);
    assert.equal(scheduler.promote('B2', 7), true);
    assert.equal(scheduler.promote('missing', 8), false);
    assert.equal(drain(scheduler), 'B2,C1,A1,B1,A2');
  });

  it('order() predicts exactly what next() will do, without changing state', () => {
    const scheduler = schedulerWith('A1,B1,A2,C1,B2,A3,C2');
    scheduler.charge('C', 15, 0);
    const predicted = scheduler.order(0).map((j) => j.id).join(',');
    assert.equal(scheduler.order(0).map((j) => j.id).join(','), predicted);
    assert.equal(drain(scheduler), predicted);
  });

  it('corrects a finished job to its actual cost at its start time', () => {
    const scheduler = new FairShareScheduler({ halfLifeMs: HOUR });
    scheduler.charge('A', 10, 0); // estimate at start
    scheduler.charge('A', 30, 2 * HOUR); // something else later
    scheduler.charge('A', 20, 0); // the first job took 30 s, not 10: +20 at its start time
    // 30 s two half-lives ago = 7.5, plus 30 now.
    assert.ok(Math.abs(scheduler.usageOf('A', 2 * HOUR) - 37.5) < 1e-9);
  });

  it('removes cancelled jobs and refuses duplicates', () => {
    const scheduler = schedulerWith('A1,A2,B1');
    assert.equal(scheduler.remove('A1')?.id, 'A1');
    assert.equal(scheduler.remove('A1'), undefined);
    assert.throws(() => scheduler.enqueue({ id: 'B1', userId: 'B', seq: 9, cost: 1, promotedAt: null }), /already queued/);
    assert.equal(drain(scheduler), 'A2,B1');
  });

  it('rejects a non-positive half-life', () => {
    assert.throws(() => new FairShareScheduler({ halfLifeMs: 0 }), /halfLifeMs must be > 0/);
  });
});

describe('restoreScheduler', () => {
  it('rebuilds from the database\'s records the state the live scheduler reached: same order after picks and corrections', () => {
    const live = schedulerWith('A1,A2,A3,A4,B1,B2,C1,C2,C3');
    const history: PastCharge[] = [];
    const actual: Record<string, number> = { A: 25, B: 4, C: 12 };
    // Four picks, each corrected to its actual cost when it ends, as a worker's success does.
    const picked: string[] = [];
    for (const at of [0, 1_000, 2_000, 3_000]) {
      const job = live.next(at)!;
      const seconds = actual[job.userId]!;
      live.charge(job.userId, seconds - job.cost, at);
      history.push({ userId: job.userId, startedAt: new Date(at), seconds });
      picked.push(job.id);
    }
    assert.deepEqual(picked, ['A1', 'B1', 'C1', 'B2'], 'the corrections count: B, cheaper than estimated, is served again first');
    const waiting = jobs('A1,A2,A3,A4,B1,B2,C1,C2,C3').filter((job) => !picked.includes(job.id));
    const restored = restoreScheduler({ halfLifeMs: HOUR }, history, waiting);
    const now = 60_000;
    assert.deepEqual(restored.order(now).map((job) => job.id), live.order(now).map((job) => job.id));
    for (const user of ['A', 'B', 'C']) assert.ok(Math.abs(restored.usageOf(user, now) - live.usageOf(user, now)) < 1e-9, user);
  });
});
