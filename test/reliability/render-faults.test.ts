// Runtime faults of a render, with the real engine (the built-in demo model) under the real service: ffmpeg killed
// mid-encode or missing, the outputs disk full, the model's files truncated under a running engine. Each failed job
// ends `failed` with a plain sentence for its requester and a log line naming what the operator must fix, its
// reservation is refunded, nothing half-written is left or served, the next job succeeds (at once for a one-shot
// fault, once the fault is gone otherwise), and the process stays up (docs/reliability.md#render-faults).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { chmod, copyFile, cp, mkdtemp, readdir, rename, rm, statfs, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '../../src/core/errors.js';
import type { ServiceEvent } from '../../src/core/events.js';
import type { Job } from '../../src/core/jobs.js';
import { ensureDemoModel } from '../../src/engine/demo/demo_model.js';
import { Engine, EngineLoadError } from '../../src/engine/engine.js';
import { createLogger } from '../../src/log.js';
import { ffprobe } from '../support/ffprobe.js';
import { createTestDatabase, type TestDatabase } from '../support/test-databases.js';
import { startTestService, type TestService } from '../support/test-service.js';

const work = await mkdtemp(join(tmpdir(), 't2v-render-faults-'));
/** One DATA_DIR for every service here: the demo model and its graphs are made once. */
const dataDir = join(work, 'data');
const outputsDir = join(dataDir, 'outputs');

const BUNDLED_FFMPEG = (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;
/** Debian's ffmpeg 5.1 (installed with the ffprobe these tests read videos with). */
const SYSTEM_FFMPEG = execFileSync('sh', ['-c', 'command -v ffmpeg'], { encoding: 'utf8' }).trim();

/**
 * FFMPEG_PATH for these tests: runs the ffmpeg named in `real-ffmpeg` beside it, except that while `kill-next-encode`
 * exists the next encode reads part of its frames and is killed by SIGKILL, as the kernel's OOM killer or an operator
 * would (the file is removed first: one-shot).
 */
const ffmpegWrapper = join(work, 'ffmpeg');
const realFfmpegFile = join(work, 'real-ffmpeg');
const killMarker = join(work, 'kill-next-encode');
async function writeFfmpegWrapper(): Promise<void> {
  await writeFile(
    ffmpegWrapper,
    `#!/bin/sh
real=$(cat '${realFfmpegFile}')
case " $* " in *" -version "*) exec "$real" "$@";; esac
if rm '${killMarker}' 2>/dev/null; then head -c 4096 >/dev/null; kill -9 $$; fi
exec "$real" "$@"
`,
  );
  await chmod(ffmpegWrapper, 0o755);
}
await writeFile(realFfmpegFile, BUNDLED_FFMPEG);
await writeFfmpegWrapper();

interface FaultService extends TestService {
  engine: Engine;
  engineLog: string[];
}

async function startFaultService(options: { modelDir?: string; database?: TestDatabase } = {}): Promise<FaultService> {
  const engineLog: string[] = [];
  const engine = Engine.start({
    modelDir: options.modelDir ?? '',
    dataDir,
    device: 'cpu',
    deviceId: 0,
    threads: 2,
    ffmpegPath: ffmpegWrapper,
    logger: createLogger({ level: 'info', destination: { write: (line: string) => void engineLog.push(line) } }),
  });
  const service = await startTestService({ renderer: engine, dataDir, ...(options.database === undefined ? {} : { database: options.database }) });
  return Object.assign(service, { engine, engineLog });
}

const requester = { platform: 'api' as const, platformUserId: 'render-faults' };

/** Queues a 4-frame 64x64 video with 1 step (fixed seed: the same file sizes every time). */
async function submit(svc: TestService, prompt: string): Promise<Job> {
  const { job } = await svc.service.submit({ requester, options: { prompt, frames: 4, width: 64, height: 64, steps: 1, seed: 1 }, reply: { platform: 'api', channelId: 'faults' } });
  return job;
}

type JobEnd = Extract<ServiceEvent, { type: 'succeeded' | 'failed' }>;

async function ended(svc: TestService, job: Job): Promise<JobEnd> {
  return svc.events.waitFor((e): e is JobEnd => (e.type === 'succeeded' || e.type === 'failed') && e.job.id === job.id, 30_000);
}

async function render(svc: TestService, prompt: string): Promise<JobEnd> {
  return ended(svc, await submit(svc, prompt));
}

/** The job failed with `message`, its reservation was refunded, no file of it is left or served. */
async function assertFailedAndRefunded(svc: TestService, end: JobEnd, message: string): Promise<void> {
  assert.equal(end.type, 'failed', `${end.job.params.prompt} should fail`);
  const stored = await svc.service.getJob(end.job.id);
  assert.equal(stored.status, 'failed');
  assert.deepEqual(stored.error, { code: ErrorCode.EngineFailed, message });
  assert.equal(stored.output, null);
  const ledger = await svc.running.db.prisma.usageEntry.findMany({ where: { jobId: end.job.id }, orderBy: { createdAt: 'asc' } });
  assert.deepEqual(
    ledger.map((e) => [e.kind, e.videos]),
    [
      ['reserve', 1],
      ['refund', -1],
    ],
  );
  assert.ok(!(await readdir(outputsDir)).includes(end.job.id), 'the failed job left its folder behind');
  const video = await svc.request('GET', `/api/v1/jobs/${end.job.id}/video`);
  assert.equal(video.statusCode, 409, video.body);
}

/** The operator's log line for the job's failure. */
function failureLog(svc: TestService, jobId: string): string {
  const line = svc.logLines.map((l) => JSON.parse(l) as { msg: string; jobId?: string; err?: { message: string } }).find((l) => l.msg === 'job failed' && l.jobId === jobId);
  assert.ok(line?.err, `no "job failed" log line for ${jobId}`);
  return line.err.message;
}

async function assertSucceeded(svc: TestService, end: JobEnd): Promise<void> {
  assert.equal(end.type, 'succeeded', end.type === 'failed' ? end.error.message : '');
  const { output } = await svc.service.getJob(end.job.id);
  assert.equal(ffprobe(output!.mediaPath, ['nb_read_frames']).nb_read_frames, '4');
}

async function assertServiceUp(svc: TestService, engineReady: boolean): Promise<void> {
  const health = await svc.request('GET', '/healthz', undefined, null);
  assert.equal(health.statusCode, 200);
  assert.equal((JSON.parse(health.body) as { status: string }).status, engineReady ? 'ok' : 'degraded');
}

const ENCODER_FAILED = 'Rendering failed: the video encoder stopped before the video was finished. Your quota for it was refunded. Please try again.';
const ENCODER_MISSING = "Rendering failed: the server's video encoder (ffmpeg) is missing. Your quota for it was refunded. Please try again later.";
const DISK_FULL = 'Rendering failed: the server ran out of disk space while saving the video. Your quota for it was refunded. Please try again later.';

const svc = await startFaultService();
test.after(async () => {
  await svc.destroy();
  await rm(work, { recursive: true, force: true });
});
await svc.engine.whenReady();

test('ffmpeg killed mid-encode: the job fails and is refunded, the next one runs at once', async () => {
  await writeFile(killMarker, '');
  const killed = await render(svc, 'killed mid-encode');
  await assertFailedAndRefunded(svc, killed, ENCODER_FAILED);
  assert.match(failureLog(svc, killed.job.id), /ffmpeg \(FFMPEG_PATH: .*ffmpeg\) was killed by SIGKILL/);

  await assertSucceeded(svc, await render(svc, 'after the kill'));
  await assertServiceUp(svc, true);
});

test('ffmpeg missing: jobs fail naming the binary to the operator until it is back, then the next one runs', async () => {
  await rename(ffmpegWrapper, `${ffmpegWrapper}.away`);
  try {
    // The binary found at the first video has gone, then it is looked up again (FFMPEG_PATH) and still missing.
    for (const [prompt, operatorText] of [
      ['ffmpeg gone', /ffmpeg .*\/ffmpeg \(FFMPEG_PATH\) can no longer be started \(spawn .* ENOENT\).*set FFMPEG_PATH to a working ffmpeg/],
      ['ffmpeg still gone', /FFMPEG_PATH=.*\/ffmpeg does not work: .*ENOENT.*Point it at a working ffmpeg with libx264, or unset it/],
    ] as const) {
      const end = await render(svc, prompt);
      await assertFailedAndRefunded(svc, end, ENCODER_MISSING);
      assert.match(failureLog(svc, end.job.id), operatorText);
      await assertServiceUp(svc, true);
    }
  } finally {
    await rename(`${ffmpegWrapper}.away`, ffmpegWrapper);
  }
  await assertSucceeded(svc, await render(svc, 'ffmpeg back'));
});

test('outputs disk full (a tmpfs): the poster or the MP4 write fails cleanly with either ffmpeg, the next job runs once there is room', async () => {
  const filler = join(outputsDir, 'filler');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', outputsDir]);
  try {
    /** The folders of the videos made on the tmpfs. */
    const kept: string[] = [];
    for (const ffmpeg of [BUNDLED_FFMPEG, SYSTEM_FFMPEG]) {
      await writeFile(realFfmpegFile, ffmpeg);
      // No room at all (the poster PNG, written by Node), then room for the poster only (the MP4, written by ffmpeg;
      // poster and MP4 take 3 pages each).
      for (const [what, roomBytes] of [
        ['poster', 0],
        ['MP4', 4 * 4096],
      ] as const) {
        const free = await statfs(outputsDir);
        await writeFile(filler, Buffer.alloc(free.bavail * free.bsize - roomBytes));
        const end = await render(svc, `disk full at the ${what} (${ffmpeg})`);
        await assertFailedAndRefunded(svc, end, DISK_FULL);
        assert.match(failureLog(svc, end.job.id), new RegExp(`no space left on the disk holding ${outputsDir}/${end.job.id}: free space on it`));
        assert.deepEqual((await readdir(outputsDir)).sort(), [...kept, 'filler'].sort(), 'nothing half-written is left');
        await rm(filler);
        await assertServiceUp(svc, true);
      }
      const again = await render(svc, `room again (${ffmpeg})`);
      await assertSucceeded(svc, again);
      kept.push(again.job.id);
    }
  } finally {
    await writeFile(realFfmpegFile, BUNDLED_FFMPEG);
    execFileSync('umount', [outputsDir]);
  }
});

test('model files truncated under a running engine: renders go on; a restart fails the load naming the file and keeps jobs queued', async () => {
  const modelDir = join(work, 'model');
  await cp(await ensureDemoModel(dataDir), modelDir, { recursive: true });
  const weights = join(modelDir, 'unet', 'diffusion_pytorch_model.safetensors');
  const database = await createTestDatabase('sqlite');
  try {
    const running = await startFaultService({ modelDir, database });
    try {
      await running.engine.whenReady();
      await assertSucceeded(running, await render(running, 'before the truncation'));
      // What the sessions were made from: the weights and the graph cache (whose data files ONNX Runtime memory-maps
      // when given a path).
      await truncate(weights, 1000);
      const cacheDir = join(dataDir, 'cache', 'graphs');
      for (const entry of await readdir(cacheDir)) {
        for (const file of await readdir(join(cacheDir, entry))) if (file.startsWith('model.onnx')) await truncate(join(cacheDir, entry, file), 0);
      }
      await assertSucceeded(running, await render(running, 'after the truncation'));
    } finally {
      await running.stop();
    }

    const restarted = await startFaultService({ modelDir, database });
    let queued: Job;
    try {
      await assert.rejects(restarted.engine.whenReady(), (e: unknown) => e instanceof EngineLoadError && e.kind === 'model' && e.message.includes(weights));
      queued = await submit(restarted, 'queued while the model is damaged');
      await restarted.events.waitFor((e) => e.type === 'engine' && e.status.message?.includes('could not start') === true);
      await assertServiceUp(restarted, false);
      const health = JSON.parse((await restarted.request('GET', '/healthz', undefined, null)).body) as { engine: { message: string } };
      assert.ok(health.engine.message.includes(`the engine could not start: ${weights}`), health.engine.message);
      assert.ok(restarted.engineLog.some((l) => l.includes('the engine could not start') && l.includes(weights)), 'the log names the damaged file');
      assert.deepEqual(
        restarted.service.listQueue().queued.map((q) => q.job.id),
        [queued.id],
      );
      assert.equal((await restarted.service.getJob(queued.id)).status, 'queued');
    } finally {
      await restarted.stop();
    }

    await copyFile(join(dataDir, 'models', 'demo', 'unet', 'diffusion_pytorch_model.safetensors'), weights);
    const repaired = await startFaultService({ modelDir, database });
    try {
      await assertSucceeded(repaired, await ended(repaired, queued));
    } finally {
      await repaired.stop();
    }
  } finally {
    await database.drop();
  }
});
