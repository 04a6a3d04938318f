import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCode } from '../../src/core/errors.js';
import { JobStore } from '../../src/queue/job-store.js';
import { MediaStore } from '../../src/queue/media-store.js';
import { sweepOutputs } from '../../src/queue/retention.js';
import { jobEvent } from '../support/events.js';
import { startTestService } from '../support/test-service.js';

const DAY = 86_400_000;

describe('output retention', () => {
  it('deletes outputs older than the retention setting and keeps the job history', async () => {
    const t = await startTestService({ env: { OUTPUT_RETENTION_DAYS: '7' } });
    try {
      const { job } = await t.service.submit({
        requester: { platform: 'api', platformUserId: 'keeper' },
        options: { prompt: 'old video', frames: 2, steps: 2, width: 64, height: 64 },
        reply: { platform: 'api', channelId: '' },
      });
      await t.events.waitFor(jobEvent('succeeded', job.id));
      const done = await t.service.getJob(job.id);
      const folder = dirname(done.output!.mediaPath);
      const store = new JobStore(t.running.db.prisma);
      const finishedAt = done.finishedAt!.getTime();

      assert.equal(await sweepOutputs(store, MediaStore.files(), t.config.outputsDir, 7, new Date(finishedAt + 6 * DAY), t.running.logger), 0);
      assert.equal(await sweepOutputs(store, MediaStore.files(), t.config.outputsDir, 0, new Date(finishedAt + 999 * DAY), t.running.logger), 0, '0 keeps forever');
      assert.ok(existsSync(folder));

      assert.equal(await sweepOutputs(store, MediaStore.files(), t.config.outputsDir, 7, new Date(finishedAt + 8 * DAY), t.running.logger), 1);
      assert.ok(!existsSync(folder));
      const after = await t.service.getJob(job.id);
      assert.equal(after.status, 'succeeded');
      assert.equal(after.output, null);
      const video = await t.request('GET', `/api/v1/jobs/${job.id}/video`);
      assert.equal(video.statusCode, 404);
      assert.equal((video.json() as { error: { code: string } }).error.code, ErrorCode.NotFound);
    } finally {
      await t.destroy();
    }
  });
});
