// The queue view over a fake source: places in the fair order restored from history, ETAs over the pool's slots at
// each worker's own speed, the pool's engine state, and `position` events when places change.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventBus, type ServiceEvent } from '../../src/core/events.js';
import type { Job } from '../../src/core/jobs.js';
import type { WorkerStatus } from '../../src/core/queue-snapshot.js';
import { createLogger } from '../../src/log.js';
import { CostModel } from '../../src/queue/cost-model.js';
import { QueueView, type QueueSource } from '../../src/queue/queue-view.js';
import type { PastCharge } from '../../src/queue/scheduler.js';
import { jobFixture } from '../bots/job-fixture.js';

const NOW = new Date('2026-12-03T12:00:00Z');
/** One cost unit: one denoising step of one 256x256 frame without guidance. */
const ONE_UNIT = { frames: 1, steps: 1, width: 256, height: 256, guidance: 1 };

function waiting(id: string, user: string, seq: number): Job {
  const base = jobFixture();
  return jobFixture({
    id,
    seq,
    status: 'queued',
    user: { ...base.user, id: user, platformUserId: user },
    params: { ...base.params, ...ONE_UNIT },
    estimatedSeconds: 1,
    output: null,
    startedAt: null,
    finishedAt: null,
  });
}

function worker(name: string, secondsPerUnit: number | null, overrides: Partial<WorkerStatus> = {}): WorkerStatus {
  return {
    id: `id-${name}`,
    name,
    host: 'gpu-host',
    pid: 1,
    slots: 1,
    model: 'built-in demo model',
    demo: true,
    device: 'cpu',
    executionProvider: 'CPUExecutionProvider',
    ready: true,
    message: null,
    secondsPerUnit,
    runningJobIds: [],
    startedAt: NOW,
    heartbeatAt: NOW,
    ...overrides,
  };
}

function viewOf(state: { queued: Job[]; running?: Job[]; history?: PastCharge[]; workers: WorkerStatus[] }) {
  const source: QueueSource = {
    listQueued: async () => state.queued,
    listRunning: async () => state.running ?? [],
    usageHistory: async () => state.history ?? [],
    listWorkers: async () => state.workers,
  };
  const events = new EventBus();
  const seen: ServiceEvent[] = [];
  events.subscribe((event) => void seen.push(event));
  const view = new QueueView({
    source,
    events,
    costModel: new CostModel(5),
    halfLifeMinutes: 60,
    roleWeights: { user: 1, trusted: 2, admin: 4 },
    workerTimeoutMs: 30_000,
    logger: createLogger({ level: 'silent' }),
    clock: () => NOW,
  });
  return { view, seen };
}

describe('QueueView', () => {
  it('puts waiting jobs in the fair order and gives ETAs over every worker\'s slot at its own speed', async () => {
    const queued = [waiting('a1', 'ana', 1), waiting('a2', 'ana', 2), waiting('b1', 'ben', 3), waiting('a3', 'ana', 4)];
    const pool = viewOf({ queued, workers: [worker('fast', 1), worker('slow', 3)] });
    const snapshot = await pool.view.refresh();
    assert.deepEqual(snapshot.queued.map((q) => q.job.id), ['a1', 'b1', 'a2', 'a3']);
    // Each job takes the slot that frees first: fast ends a1 at 1 s, slow b1 at 3 s, fast a2 at 2 s, then a3 at 3 s.
    assert.deepEqual(snapshot.queued.map((q) => q.etaSeconds), [1, 3, 2, 3]);
    assert.deepEqual(snapshot.workers.map((w) => w.name), ['fast', 'slow']);

    const alone = viewOf({ queued, workers: [worker('fast', 1)] });
    assert.deepEqual((await alone.view.refresh()).queued.map((q) => q.etaSeconds), [1, 2, 3, 4], 'one worker: one after another');
  });

  it('counts the slot a running job holds until its own estimate of the rest, and the pool\'s mean speed for estimates', async () => {
    const running = { ...waiting('r1', 'cleo', 1), status: 'running' as const, workerId: 'id-fast', startedAt: NOW, progress: { step: 5, totalSteps: 10, etaMs: 4_000 } };
    const { view } = viewOf({ queued: [waiting('a1', 'ana', 2)], running: [running], workers: [worker('fast', 1), worker('slow', 3)] });
    const snapshot = await view.refresh();
    assert.deepEqual(snapshot.running.map((r) => r.etaSeconds), [4]);
    assert.deepEqual(snapshot.queued.map((q) => q.etaSeconds), [3], 'the idle slow worker ends it at 3 s, before the fast one is free at 4 s');
    assert.equal(view.secondsPerUnit, 2, 'slot-weighted mean of the measured speeds');
    assert.equal(view.estimateSeconds(ONE_UNIT), 2);
  });

  it('has no ETA and an engine that is not ready while no live worker is ready; the cost model speaks for unmeasured workers', async () => {
    const { view } = viewOf({ queued: [waiting('a1', 'ana', 1)], workers: [worker('loading', null, { ready: false, message: 'loading the model' })] });
    const snapshot = await view.refresh();
    assert.equal(snapshot.engine.ready, false);
    assert.equal(snapshot.engine.message, 'loading the model');
    assert.deepEqual(snapshot.queued.map((q) => q.etaSeconds), [null]);
    assert.equal(view.secondsPerUnit, 5);
  });

  it('publishes a waiting job\'s new place when it changes, not its first one', async () => {
    const state = { queued: [waiting('a1', 'ana', 1), waiting('a2', 'ana', 2)], workers: [worker('w', 1)] };
    const { view, seen } = viewOf(state);
    await view.refresh();
    assert.equal(seen.length, 0);
    state.queued = [waiting('a2', 'ana', 2)];
    await view.refresh();
    assert.deepEqual(seen.map((e) => (e.type === 'position' ? `${e.job.id}@${e.position}` : e.type)), ['a2@1']);
  });
});
