import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, VideoBotError } from '../../src/core/errors.js';
import { userMessage } from '../../src/core/messages.js';
import { optionRanges, PARAM_DEFAULTS, resolveRenderParams, type RequestLimits } from '../../src/core/requests.js';

const LIMITS: RequestLimits = { maxFrames: 32, maxSide: 512, maxSteps: 50, promptMaxLength: 100 };

function rejection(options: Parameters<typeof resolveRenderParams>[0], limits = LIMITS): VideoBotError {
  try {
    resolveRenderParams(options, limits);
  } catch (error) {
    assert.ok(error instanceof VideoBotError);
    return error;
  }
  assert.fail('expected a rejection');
}

describe('resolveRenderParams', () => {
  it('fills the documented defaults and draws a seed', () => {
    const params = resolveRenderParams({ prompt: '  a panda playing guitar  ' }, LIMITS, () => 1234);
    assert.deepEqual(params, { prompt: 'a panda playing guitar', negativePrompt: '', frames: 16, width: 256, height: 256, steps: 25, guidance: 9, seed: 1234, fps: 8 });
    assert.deepEqual(PARAM_DEFAULTS, { negativePrompt: '', frames: 16, width: 256, height: 256, steps: 25, guidance: 9, fps: 8 });
  });

  it('draws a different uint32 seed each time when none is given, and keeps a given one', () => {
    const seeds = new Set(Array.from({ length: 20 }, () => resolveRenderParams({ prompt: 'x' }, LIMITS).seed));
    assert.ok(seeds.size > 15);
    for (const seed of seeds) assert.ok(Number.isInteger(seed) && seed >= 0 && seed <= 2 ** 32 - 1);
    assert.equal(resolveRenderParams({ prompt: 'x', seed: 0 }, LIMITS).seed, 0);
    assert.equal(resolveRenderParams({ prompt: 'x', seed: 4294967295 }, LIMITS).seed, 4294967295);
  });

  it('accepts numbers given as text (Slack flags) and null as "default"', () => {
    const params = resolveRenderParams({ prompt: 'x', frames: '24', guidance: '7.5', width: null, seed: ' 42 ' }, LIMITS);
    assert.equal(params.frames, 24);
    assert.equal(params.guidance, 7.5);
    assert.equal(params.width, 256);
    assert.equal(params.seed, 42);
  });

  it('names the allowed range and the rejected value for each wrong option, all at once', () => {
    const error = rejection({ prompt: 'x', frames: 40, width: 100, steps: 0, guidance: 0.5, fps: 2.5, seed: -1 });
    assert.equal(error.code, ErrorCode.InvalidOptions);
    assert.ok(error.is(ErrorCode.InvalidOptions));
    const messages = (error.details.issues ?? []).map((i) => i.message);
    assert.deepEqual(messages, [
      'frames must be a whole number from 1 to 32 (got 40).',
      'width must be a whole number from 64 to 512, a multiple of 8 (got 100).',
      'steps must be a whole number from 1 to 50 (got 0).',
      'guidance must be a number from 1 to 30 (got 0.5).',
      'fps must be a whole number from 1 to 30 (got 2.5).',
      'seed must be a whole number from 0 to 4294967295 (got -1).',
    ]);
    assert.equal(userMessage(error), messages.join(' '));
  });

  it('rejects wrong types and bad prompts with the allowed lengths', () => {
    assert.match(rejection({ prompt: '' }).message, /prompt must be from 1 to 100 characters long \(got 0\)/);
    assert.match(rejection({ prompt: 'x'.repeat(101) }).message, /prompt must be from 1 to 100 characters long \(got 101\)/);
    assert.match(rejection({ prompt: 42 }).message, /prompt must be text \(got 42\)/);
    assert.match(rejection({ prompt: 'x', negativePrompt: 'y'.repeat(101) }).message, /negativePrompt must be at most 100 characters/);
    assert.match(rejection({ prompt: 'x', frames: 'many' }).message, /frames must be a whole number from 1 to 32 \(got "many"\)/);
    assert.match(rejection({ prompt: 'x', steps: [3] }).message, /steps must be .* \(got \[3\]\)/);
  });

  it('never exceeds the engine limits whatever the configuration says', () => {
    const ranges = optionRanges({ maxFrames: 64, maxSide: 1000, maxSteps: 500, promptMaxLength: 10 });
    assert.equal(ranges.steps.max, 100);
    assert.equal(ranges.width.max, 1000 - (1000 % 8));
    assert.equal(ranges.width.multipleOf, 8);
    assert.equal(ranges.frames.max, 64);
    assert.equal(ranges.guidance.min, 1);
    assert.equal(ranges.seed.default, undefined);
  });

  it('lowers defaults that would exceed a small configured maximum', () => {
    const params = resolveRenderParams({ prompt: 'x' }, { maxFrames: 8, maxSide: 128, maxSteps: 10, promptMaxLength: 10 });
    assert.deepEqual([params.frames, params.width, params.height, params.steps], [8, 128, 128, 10]);
  });
});
