// The fuzz harness must be able to fail: a property that breaks is reported with the seed to replay it, an unhandled
// rejection is caught, and the plain-sentence check refuses what a person should never be shown.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { assertPlainSentence, checkProperty, CrashWatch, FUZZ_SEED } from './fuzz-support.js';

describe('fuzz harness', () => {
  it('reports a failing property with its seed and how to replay it', async () => {
    await assert.rejects(
      checkProperty(fc.property(fc.integer(), (n) => n < 10), 100),
      (error: Error) => error.message.includes(`FUZZ_SEED=${FUZZ_SEED}`) && /Counterexample: \[\d+\]/.test(error.message),
    );
  });

  it('reports an unhandled rejection or uncaught exception once', async () => {
    // A stand-in for the process: a real unhandled rejection here would fail this test through node:test itself.
    const events = new EventEmitter();
    const watch = new CrashWatch(events);
    events.emit('unhandledRejection', new Error('left behind'), Promise.resolve());
    await assert.rejects(watch.assertNone(), /left behind/);
    events.emit('uncaughtException', new Error('thrown in a callback'));
    await assert.rejects(watch.assertNone(), /thrown in a callback/);
    await watch.assertNone();
    watch.stop();
    assert.equal(events.listenerCount('unhandledRejection') + events.listenerCount('uncaughtException'), 0);
  });

  it('refuses stack traces, leaked objects, stray undefined and text that is not a sentence', () => {
    assertPlainSentence('frames must be a whole number from 1 to 32 (got "undefined").', 'undefined');
    for (const message of ['', '  ', 'Error: x\n    at f (src/a.ts:1:2).', 'got [object Object].', 'limit is undefined.', 'expected number, received NaN.', 'Unsupported Media Type', 42]) {
      assert.throws(() => assertPlainSentence(message), assert.AssertionError, JSON.stringify(message));
    }
  });
});
