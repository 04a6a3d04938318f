import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cancelAcceptedText,
  cancelledByText,
  formatDuration,
  formatSeconds,
  paramFields,
  paramsLine,
  placeText,
  progressBar,
  progressText,
  renderTimeText,
  requeuedText,
  truncate,
} from '../../src/bots/job-text.js';
import { jobFixture } from './job-fixture.js';

describe('job text', () => {
  it('words durations for people', () => {
    assert.deepEqual([0.2, 12.4, 59, 61, 150, 3_600, 4_800].map(formatDuration), ['1 s', '12 s', '59 s', 'about 1 min', 'about 3 min', 'about 1 h', 'about 1 h 20 min']);
    assert.deepEqual([0.5, 12.34, 90].map(formatSeconds), ['0.5 s', '12.3 s', 'about 2 min']);
  });

  it('says where a job stands, also while the engine is unavailable', () => {
    assert.equal(placeText(1, 42), 'Next in line, ready in 42 s');
    assert.equal(placeText(3, 200), '#3 in line, ready in about 3 min');
    assert.equal(placeText(0, 5), 'Starting now, ready in 5 s');
    assert.equal(placeText(2, null), '#2 in line, waiting for the engine to be ready');
  });

  it('draws progress', () => {
    assert.equal(progressBar(0, 25), '▱▱▱▱▱▱▱▱▱▱ step 0/25');
    assert.equal(progressBar(10, 25), '▰▰▰▰▱▱▱▱▱▱ step 10/25');
    assert.equal(progressBar(30, 25), '▰▰▰▰▰▰▰▰▰▰ step 25/25');
    assert.equal(progressText(1, 2, 15_000), 'Rendering: ▰▰▰▰▰▱▱▱▱▱ step 1/2, 15 s left');
    assert.equal(progressText(0, 2, null), 'Rendering: ▱▱▱▱▱▱▱▱▱▱ step 0/2');
  });

  it('lists every parameter, the negative prompt only when there is one, and still images as such', () => {
    const job = jobFixture();
    assert.deepEqual(paramFields(job.params).map((f) => `${f.label}=${f.value}`), ['Seed=7', 'Size=256x256', 'Frames=16 at 8 fps (2.0 s)', 'Steps=25', 'Guidance=9']);
    assert.equal(paramFields({ ...job.params, negativePrompt: 'blurry' }).at(-1)?.value, 'blurry');
    assert.equal(paramFields({ ...job.params, frames: 1 })[2]?.value, '1 (still image)');
    assert.equal(paramsLine(job.params), 'seed 7 · 256x256 · 16 frames at 8 fps (2.0 s) · 25 steps · guidance 9');
  });

  it('reports render time from GPU seconds, else wall time', () => {
    assert.equal(renderTimeText(jobFixture()), 'Rendered in 12.3 s');
    assert.equal(renderTimeText(jobFixture({ gpuSeconds: null })), 'Rendered in 13.0 s');
    assert.equal(renderTimeText(jobFixture({ gpuSeconds: null, startedAt: null })), 'Rendered');
  });

  it('words requeues and cancels the same on both platforms', () => {
    assert.equal(requeuedText('restart'), 'The service restarted: this video is back in the queue.');
    assert.equal(requeuedText('shutdown'), 'The service is restarting: this video is back in the queue and continues after the restart.');
    assert.equal(cancelledByText('U0BOB'), 'Cancelled by <@U0BOB>.');
    assert.equal(cancelledByText(undefined), 'Cancelled by an admin.');
    assert.equal(cancelledByText(null), 'Cancelled.', 'not known: sent after a restart');
    assert.equal(cancelAcceptedText({ status: 'cancelled' }), 'Cancelled.');
    assert.equal(cancelAcceptedText({ status: 'running' }), 'Cancelling: the render stops at its next step.');
  });

  it('truncates on a word boundary', () => {
    assert.equal(truncate('a  panda\nplaying', 100), 'a panda playing');
    assert.equal(truncate('a panda playing guitar on a boat', 20), 'a panda playing…');
    assert.equal(truncate('abcdefghijklmnopqrstuvwxyz', 10), 'abcdefghi…');
  });
});
