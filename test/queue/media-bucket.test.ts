// MEDIA_STORE=bucket against an S3-compatible server on loopback: a success records where the bucket keeps the files,
// a process without the files fetches them from the bucket, the admin's delete and the retention sweep remove them
// there too, an unreachable bucket delays the recording of a finished render (never loses or double-charges it) and
// gets a 503 from the video URLs and `degraded` from /healthz, and a wrong S3 setting stops the start with what to fix.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { ErrorCode } from '../../src/core/errors.js';
import { startService } from '../../src/main.js';
import { JobStore } from '../../src/queue/job-store.js';
import { MediaStore } from '../../src/queue/media-store.js';
import { sweepOutputs } from '../../src/queue/retention.js';
import { S3Bucket } from '../../src/queue/s3-bucket.js';
import type { SubmitRequest } from '../../src/service/video-service.js';
import { FAKE_S3_BUCKET, startFakeS3, type FakeS3 } from '../fakes/s3.js';
import { jobEvent } from '../support/events.js';
import { createTestDatabase } from '../support/test-databases.js';
import { TestRenderer } from '../support/test-renderer.js';
import { healthSummary, startTestService, testEnv, type TestService } from '../support/test-service.js';
import { until } from '../support/until.js';

const DAY = 86_400_000;
const small = { frames: 2, steps: 2, width: 64, height: 64 };

function apiSubmit(prompt: string): SubmitRequest {
  return { requester: { platform: 'api', platformUserId: 'rita' }, options: { prompt, ...small }, reply: { platform: 'api', channelId: '' } };
}

describe('videos kept in an S3-compatible bucket (MEDIA_STORE=bucket)', { concurrency: false }, () => {
  let s3: FakeS3;
  before(async () => {
    s3 = await startFakeS3();
  });
  after(() => s3.destroy());

  async function withService(t: { after: (fn: () => Promise<void>) => void }, renderer = new TestRenderer()): Promise<TestService> {
    const service = await startTestService({ renderer, env: { ...s3.env, OUTPUT_RETENTION_DAYS: '7' } });
    t.after(() => service.destroy());
    return service;
  }

  it('a success records the objects it uploaded; a process without the files serves them from the bucket; delete and retention remove them there', async (t) => {
    const service = await withService(t);
    const { job } = await service.service.submit(apiSubmit('a heron in the reeds'));
    await service.events.waitFor(jobEvent('succeeded', job.id));

    const rows = await service.running.db.prisma.jobFile.findMany({ where: { jobId: job.id }, orderBy: { kind: 'asc' } });
    assert.deepEqual(
      rows.map((row) => [row.kind, row.bytes, row.objectKey?.replace(/\/[0-9a-f]{12}\//, '/<render>/')]),
      [
        ['poster', null, `t2v/${job.id}/<render>/poster.png`],
        ['video', null, `t2v/${job.id}/<render>/video.mp4`],
      ],
      'the database holds where the files are, not the files',
    );
    assert.deepEqual(await s3.keys(), rows.map((row) => row.objectKey).sort());
    const done = await service.service.getJob(job.id);
    const uploaded = await s3.object(rows[1]!.objectKey!);

    // As on a front that shares no disk with the worker: the files are not here, the bucket has them.
    await rm(dirname(done.output!.mediaPath), { recursive: true });
    const video = await service.request('GET', `/api/v1/jobs/${job.id}/video`);
    assert.equal(video.statusCode, 200, video.body);
    assert.deepEqual(video.rawPayload, uploaded);
    assert.equal((await service.request('GET', `/api/v1/jobs/${job.id}/poster`)).body, 'PNG poster');

    await service.service.deleteVideo(job.id, { kind: 'admin', name: 'dashboard' });
    assert.deepEqual(await s3.keys(), [], "the admin's delete removes the job's objects");
    assert.equal(await service.running.db.prisma.jobFile.count({ where: { jobId: job.id } }), 0);
    assert.equal((await service.request('GET', `/api/v1/jobs/${job.id}/video`)).statusCode, 404);

    const { job: old } = await service.service.submit(apiSubmit('an old video'));
    await service.events.waitFor(jobEvent('succeeded', old.id));
    assert.equal((await s3.keys()).length, 2);
    const finishedAt = (await service.service.getJob(old.id)).finishedAt!.getTime();
    const store = new JobStore(service.running.db.prisma);
    const media = MediaStore.bucket(new S3Bucket(service.config.bucket!));
    assert.equal(await sweepOutputs(store, media, service.config.outputsDir, 7, new Date(finishedAt + 8 * DAY), service.running.logger), 1);
    assert.deepEqual(await s3.keys(), [], 'the retention sweep removes the objects');
    assert.equal((await service.service.getJob(old.id)).output, null);
  });

  it('the bucket unreachable when a render ends: retried until it is back, then recorded and charged once; video URLs answer 503 meanwhile', async (t) => {
    const renderer = new TestRenderer();
    const service = await withService(t, renderer);
    const { job: first } = await service.service.submit(apiSubmit('kept before the outage'));
    await service.events.waitFor(jobEvent('succeeded', first.id));
    await rm(join(service.config.outputsDir, first.id), { recursive: true });

    renderer.hold();
    const { job } = await service.service.submit(apiSubmit('finishes during the outage'));
    await service.events.waitFor(jobEvent('started', job.id));
    await s3.stop();
    t.after(() => s3.start().catch(() => undefined));
    renderer.release();
    await until('the worker retries recording the finished render', () =>
      service.logLines.some((line) => line.includes('retrying to record the end of a job') && line.includes(`Could not upload to the S3 bucket ${FAKE_S3_BUCKET}`)),
    );
    assert.equal((await service.service.getJob(job.id)).status, 'running');

    const video = await service.request('GET', `/api/v1/jobs/${first.id}/video`);
    assert.equal(video.statusCode, 503, video.body);
    const error = (video.json() as { error: { code: string; message: string } }).error;
    assert.equal(error.code, ErrorCode.Unavailable);
    assert.match(error.message, /^The service's video storage is not available right now\. Please try again in 30 seconds\.$/);
    assert.equal(video.headers['retry-after'], '30');
    assert.deepEqual(await healthSummary(service), { code: 200, status: 'degraded', database: 'ok', videoStorage: 'unreachable' }, 'submits still work: the videos wait');

    await s3.start();
    await service.events.waitFor(jobEvent('succeeded', job.id), 15_000);
    assert.deepEqual(await healthSummary(service), { code: 200, status: 'ok', database: 'ok', videoStorage: 'ok' });
    assert.equal(renderer.renders.length, 2, 'not rendered again');
    assert.equal(await service.running.db.prisma.usageEntry.count({ where: { jobId: job.id, kind: 'settle' } }), 1, 'charged once');
    const keys = await s3.keys();
    assert.equal(keys.filter((key) => key.startsWith(`t2v/${job.id}/`)).length, 2);
    assert.equal((await service.request('GET', `/api/v1/jobs/${first.id}/video`)).statusCode, 200);
  });

  it('a wrong S3 setting stops the start with what to fix, and never shows the secret key', async () => {
    const database = await createTestDatabase('sqlite');
    const dataDir = mkdtempSync(join(tmpdir(), 't2v-data-'));
    try {
      const start = (env: Record<string, string>) => startService(loadConfig(testEnv(database, dataDir, { ...s3.env, ...env })), { listen: false, renderer: new TestRenderer() });
      await assert.rejects(start({ S3_BUCKET: 'no-such-bucket' }), {
        message: `The S3 bucket no-such-bucket at ${s3.endpoint} does not exist: create it, or set S3_BUCKET and S3_ENDPOINT to an existing one`,
      });
      await assert.rejects(start({ S3_ACCESS_KEY_ID: 'nobody', S3_SECRET_ACCESS_KEY: 'the-secret-key' }), (error: Error) => {
        assert.match(error.message, new RegExp(`^Could not reach the S3 bucket ${FAKE_S3_BUCKET} at ${s3.endpoint}: .*check S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY and S3_REGION`));
        assert.doesNotMatch(error.message, /the-secret-key/);
        return true;
      });
      const closed = 'http://127.0.0.1:9';
      await assert.rejects(start({ S3_ENDPOINT: closed }), { message: new RegExp(`^Could not reach the S3 bucket ${FAKE_S3_BUCKET} at ${closed}: .*ECONNREFUSED`) });
      assert.equal(existsSync(join(dataDir, 'outputs')), true);
    } finally {
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
