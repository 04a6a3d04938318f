import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode } from '../../src/core/errors.js';
import { costUnits, CostModel } from '../../src/queue/cost-model.js';
import { nextReset, quotaViolation, resolveQuota, utcDay } from '../../src/core/quota.js';

const DEFAULTS = { videosPerDay: 20, gpuSecondsPerDay: 3600, maxQueued: 3 };

describe('quota policy', () => {
  it('takes user over workspace over default, field by field', () => {
    const resolved = resolveQuota(
      DEFAULTS,
      { videosPerDay: 50, gpuSecondsPerDay: null, maxQueued: 5 },
      { videosPerDay: null, gpuSecondsPerDay: 100, maxQueued: 1 },
    );
    assert.deepEqual(resolved.limits, { videosPerDay: 50, gpuSecondsPerDay: 100, maxQueued: 1 });
    assert.deepEqual(resolved.sources, { videosPerDay: 'workspace', gpuSecondsPerDay: 'user', maxQueued: 'user' });
    assert.deepEqual(resolveQuota(DEFAULTS, null, null).limits, DEFAULTS);
  });

  it('rejects the video that would exceed a limit, naming it', () => {
    const now = new Date('2026-03-04T10:00:00Z');
    assert.equal(quotaViolation({ videos: 19, gpuSeconds: 0 }, DEFAULTS, 10, now), null);
    const videos = quotaViolation({ videos: 20, gpuSeconds: 0 }, DEFAULTS, 10, now);
    assert.equal(videos?.code, ErrorCode.QuotaExceeded);
    assert.deepEqual(videos?.details, { kind: 'videos', used: 20, limit: 20, requested: 1, resetAt: '2026-03-05T00:00:00.000Z' });
    const seconds = quotaViolation({ videos: 1, gpuSeconds: 3550 }, DEFAULTS, 60, now);
    assert.equal(seconds?.details.kind, 'gpuSeconds');
    assert.equal(quotaViolation({ videos: 1, gpuSeconds: 3540 }, DEFAULTS, 60, now), null);
  });

  it('uses UTC days', () => {
    assert.equal(utcDay(new Date('2026-12-31T23:59:59Z')), '2026-12-31');
    assert.equal(nextReset(new Date('2026-12-31T23:59:59Z')).toISOString(), '2027-01-01T00:00:00.000Z');
  });
});

describe('cost model', () => {
  it('grows with frames x steps x pixels and doubles with guidance', () => {
    const base = { frames: 16, width: 256, height: 256, steps: 25, guidance: 1 };
    assert.equal(costUnits(base), 400);
    assert.equal(costUnits({ ...base, guidance: 9 }), 800);
    assert.equal(costUnits({ ...base, width: 512, height: 512 }), 1600);
  });

  it('learns seconds per unit from finished jobs and persists them', () => {
    const saved: number[] = [];
    const model = new CostModel(0.1, (v) => saved.push(v));
    const params = { frames: 16, width: 256, height: 256, steps: 25, guidance: 9 };
    assert.equal(model.estimateSeconds(params), 80);
    for (let i = 0; i < 30; i++) model.observe(params, 40); // the engine is twice as fast as assumed
    assert.ok(Math.abs(model.secondsPerUnit - 0.05) < 1e-4);
    assert.equal(saved.length, 30);
    model.observe(params, 0);
    model.observe(params, Number.NaN);
    assert.equal(saved.length, 30);
  });
});
