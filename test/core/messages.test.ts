import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asVideoBotError, ErrorCode, VideoBotError } from '../../src/core/errors.js';
import { formatResetTime, messages, userMessage, videoBotError } from '../../src/core/messages.js';

describe('user-facing messages', () => {
  it('has a message for every error code, even without details', () => {
    for (const code of Object.values(ErrorCode)) {
      const text = userMessage(new VideoBotError(code, 'internal text'));
      assert.ok(text.length > 10, code);
      assert.doesNotMatch(text, /undefined|NaN|\[object/, code);
    }
    assert.equal(Object.keys(messages).length, Object.values(ErrorCode).length);
  });

  it('words limits with their numbers', () => {
    assert.equal(
      videoBotError(ErrorCode.TooManyQueued, { queued: 3, limit: 3 }).message,
      'You have 3 videos queued; the limit is 3. Wait for one to finish or cancel one.',
    );
    assert.equal(
      videoBotError(ErrorCode.QueueFull, { queued: 100, limit: 100 }).message,
      'The queue is full (100 of 100 videos waiting). Please try again later.',
    );
    assert.equal(
      videoBotError(ErrorCode.PromptRejected, { reason: 'banned_word', word: 'gore' }).message,
      'That prompt contains a blocked word ("gore"). Please rephrase it.',
    );
  });

  it('says when a quota resets', () => {
    const now = new Date('2026-01-01T21:30:00Z');
    assert.equal(formatResetTime('2026-01-02T00:00:00Z', now), 'in 2 h 30 min (00:00 UTC)');
    const error = videoBotError(ErrorCode.QuotaExceeded, { kind: 'videos', used: 20, limit: 20, requested: 1, resetAt: new Date(Date.now() + 3_600_000).toISOString() });
    assert.match(error.message, /^You have used 20 of your 20 videos today\. It resets in (59 min|1 h 0 min) \(\d\d:\d\d UTC\)\.$/);
    const gpu = videoBotError(ErrorCode.QuotaExceeded, { kind: 'gpuSeconds', used: 3500.5, limit: 3600, requested: 120.2, resetAt: '2026-01-02T00:00:00Z' });
    assert.match(gpu.message, /^That video needs about 121 GPU-seconds but you have 99 of your 3600 left today\./);
  });

  it('wraps unknown errors as Internal, keeping the cause but not showing it to users', () => {
    const cause = new Error('ECONNREFUSED 10.0.0.1:5432 password=hunter2');
    const wrapped = asVideoBotError(cause);
    assert.equal(wrapped.code, ErrorCode.Internal);
    assert.equal(wrapped.cause, cause);
    assert.doesNotMatch(userMessage(wrapped), /ECONNREFUSED|hunter2/);
    const own = videoBotError(ErrorCode.Forbidden, { action: 'change settings' });
    assert.equal(asVideoBotError(own), own);
    assert.equal(own.message, 'You are not allowed to change settings.');
  });
});
