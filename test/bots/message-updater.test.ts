import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { MessageUpdater } from '../../src/bots/message-updater.js';

function setup(intervalMs = 2_000) {
  mock.timers.enable({ apis: ['setTimeout'] });
  let clock = 1_000_000;
  const sent: string[] = [];
  const errors: unknown[] = [];
  const updater = new MessageUpdater({ intervalMs, now: () => clock, onError: (_key, error) => errors.push(error) });
  const send = (label: string) => async () => void sent.push(label);
  const advance = async (ms: number) => {
    clock += ms;
    mock.timers.tick(ms);
    // Let the chained promises of the sends that became due settle.
    for (let i = 0; i < 10; i++) await Promise.resolve();
  };
  return { updater, sent, errors, send, advance };
}

test('throttled updates: the first goes out at once, later ones at most every interval, newest wins', async (t) => {
  t.after(() => mock.timers.reset());
  const { updater, sent, send, advance } = setup();
  updater.update('job1', send('p1'));
  await advance(0);
  assert.deepEqual(sent, ['p1']);
  updater.update('job1', send('p2'));
  updater.update('job1', send('p3'));
  await advance(1_999);
  assert.deepEqual(sent, ['p1'], 'nothing before the interval is up');
  await advance(1);
  assert.deepEqual(sent, ['p1', 'p3'], 'p2 was replaced by the newer p3');
  updater.update('job1', send('p4'));
  await advance(500);
  assert.deepEqual(sent, ['p1', 'p3']);
  await advance(1_500);
  assert.deepEqual(sent, ['p1', 'p3', 'p4']);
});

test('jobs are throttled independently', async (t) => {
  t.after(() => mock.timers.reset());
  const { updater, sent, send, advance } = setup();
  updater.update('a', send('a1'));
  updater.update('b', send('b1'));
  updater.update('a', send('a2'));
  await advance(0);
  assert.deepEqual(sent, ['a1', 'b1']);
  await advance(2_000);
  assert.deepEqual(sent, ['a1', 'b1', 'a2']);
});

test('finish drops the waiting update, runs after the send in flight, and ignores everything later', async (t) => {
  t.after(() => mock.timers.reset());
  const { updater, sent, send, advance } = setup();
  let release!: () => void;
  updater.update('job', () => new Promise<void>((resolve) => (release = () => resolve(void sent.push('slow')))));
  await advance(0);
  updater.update('job', send('stale progress'));
  const finished = updater.finish('job', send('final'));
  assert.deepEqual(sent, [], 'the first send is still in flight');
  release();
  await finished;
  assert.deepEqual(sent, ['slow', 'final']);
  updater.update('job', send('late progress'));
  await updater.now('job', send('late state'));
  await advance(10_000);
  assert.deepEqual(sent, ['slow', 'final']);
});

test('now() is not throttled but stays in order; a failing send is reported and the queue goes on', async (t) => {
  t.after(() => mock.timers.reset());
  const { updater, sent, errors, send, advance } = setup();
  updater.update('job', async () => {
    throw new Error('429');
  });
  await advance(0);
  await updater.now('job', send('started'));
  await updater.now('job', send('requeued'));
  assert.deepEqual(sent, ['started', 'requeued']);
  assert.equal((errors[0] as Error).message, '429');
  updater.update('job', send('progress'));
  await advance(0);
  assert.deepEqual(sent, ['started', 'requeued'], 'throttled relative to the last send');
  await advance(2_000);
  assert.deepEqual(sent, ['started', 'requeued', 'progress']);
});

test('drain() drops waiting updates and their timers and waits for queued sends', async (t) => {
  t.after(() => mock.timers.reset());
  const { updater, sent, send, advance } = setup();
  updater.update('job', send('p1'));
  await advance(0);
  updater.update('job', send('p2'));
  const requeued = updater.now('other', send('requeued'));
  await updater.drain();
  assert.deepEqual(sent, ['p1', 'requeued']);
  await requeued;
  await advance(5_000);
  assert.deepEqual(sent, ['p1', 'requeued']);
});
