// Several GPU workers on one Postgres, with real processes: a front (`t2v serve --no-engine`) and workers
// (`t2v worker`) with the demo model, as docs/scale-out.md has an operator start them. What must hold: the global
// fair order of a single queue, every job rendered, posted and charged exactly once, crashed, hung and cut-off
// workers' jobs taken over after their lease, cancels and progress crossing processes.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode } from '../../src/core/errors.js';
import { connectDatabase, databaseTarget, type Database } from '../../src/db/database.js';
import { migrateDatabase } from '../../src/db/migrations.js';
import { restoreScheduler, type PastCharge, type PendingJob } from '../../src/queue/scheduler.js';
import { startFakeS3 } from '../fakes/s3.js';
import { startFakeSlack } from '../fakes/slack.js';
import { CuttableLink } from '../support/cuttable-link.js';
import { Pool, POOL_ADMIN_TOKEN, type PoolProcess } from '../support/pool.js';
import { createTestDatabase, type TestDatabase } from '../support/test-databases.js';
import { until } from '../support/until.js';

const LEASE_SECONDS = 3;
const HALF_LIFE_MINUTES = 60;
const FRONT_ENV = { MAX_QUEUED_PER_USER: '20', QUOTA_VIDEOS_PER_DAY: '100', QUOTA_GPU_SECONDS_PER_DAY: '100000' };
/** A render of a few seconds on this machine: long enough to be killed, stopped or cancelled halfway. */
const LONG_JOB = { frames: 4, width: 96, height: 96, steps: 40 };
const SHORT_JOB = { frames: 2, width: 64, height: 64, steps: 2 };
/** How far apart a success's recorded times and a claim's recorded start must be for the records to say which came first. */
const AMBIGUOUS_MS = 250;

interface ApiJob {
  id: string;
  status: string;
  progress: { step: number; totalSteps: number };
  error: { code: string; message: string } | null;
}

describe('several workers on one Postgres', { concurrency: false }, () => {
  let database: TestDatabase;
  let db: Database;

  before(async () => {
    database = await createTestDatabase('postgresql');
    await migrateDatabase(databaseTarget(database.url));
    db = await connectDatabase(databaseTarget(database.url));
  });
  after(async () => {
    await db.close();
    await database.drop();
  });

  async function withPool(t: { after: (fn: () => Promise<void>) => void }): Promise<Pool> {
    const pool = new Pool({ databaseUrl: database.url, env: { LEASE_TIMEOUT_SECONDS: String(LEASE_SECONDS), FAIR_SHARE_HALF_LIFE_MINUTES: String(HALF_LIFE_MINUTES) } });
    t.after(() => pool.stopAll());
    await db.prisma.$executeRawUnsafe('TRUNCATE "Job", "UsageEntry", "User", "Worker", "JobFile", "Delivery" CASCADE');
    return pool;
  }

  it('30 jobs from 5 users on 3 workers: the single queue\'s fair order, each rendered and charged once', { timeout: 240_000 }, async (t) => {
    const pool = await withPool(t);
    const front = await pool.startFront(FRONT_ENV);
    const api = apiClient(front.url);
    // One heavy user queues 14 jobs first; four others queue 4 each after.
    const plan = [...repeat('heavy', 14), ...['ana', 'ben', 'cleo', 'dev'].flatMap((user) => repeat(user, 4))];
    const submitted: string[] = [];
    for (const [i, user] of plan.entries()) submitted.push((await api.submit(user, `job ${i} of ${user}`, SHORT_JOB)).id);

    const workers = await Promise.all(['w1', 'w2', 'w3'].map((name) => pool.startWorker(name)));
    await api.waitUntil(submitted, (job) => job.status === 'succeeded', 180_000);

    const renders = pool.rendersByJob();
    assert.deepEqual(submitted.filter((id) => renders.get(id) !== 1), [], 'every job rendered exactly once');
    const ledger = await db.prisma.usageEntry.groupBy({ by: ['jobId', 'kind'], _count: { _all: true } });
    assert.deepEqual(
      ledger.filter((row) => row._count._all !== 1 || row.kind === 'refund').map((row) => `${row.jobId} ${row.kind} x${row._count._all}`),
      [],
      'one reservation and one settlement per job, no refund',
    );
    const rows = await db.prisma.job.findMany({ include: { user: true } });
    assert.equal(new Set(rows.map((row) => row.workerId)).size, workers.length, 'every worker rendered');
    assert.deepEqual(claimsOutOfFairOrder(rows), [], 'each claim was the pick of the fair-share policy at its time');
    // The fair policy interleaves users: the heavy user's 14 jobs do not delay the others' first ones.
    const byStart = [...rows].sort((a, b) => a.startedAt!.getTime() - b.startedAt!.getTime());
    assert.deepEqual(new Set(byStart.slice(0, 5).map((row) => row.user.platformUserId)), new Set(['heavy', 'ana', 'ben', 'cleo', 'dev']));

    // Each worker reports itself: the API's queue, the dashboard's overview and /metrics list all three.
    const queue = (await (await fetch(`${front.url}/api/v1/queue`, { headers: { authorization: `Bearer ${POOL_ADMIN_TOKEN}` } })).json()) as {
      workers: { name: string; host: string; device: string; ready: boolean; slots: number; secondsPerUnit: number | null }[];
    };
    assert.deepEqual(queue.workers.map((w) => w.name).sort(), ['w1', 'w2', 'w3']);
    for (const w of queue.workers) {
      assert.deepEqual([w.host, w.device, w.ready, w.slots], [hostname(), 'cpu', true, 1], w.name);
      assert.ok(w.secondsPerUnit !== null && w.secondsPerUnit > 0, `${w.name} measured its speed`);
    }
    const metrics = await (await fetch(`${front.url}/metrics`)).text();
    for (const name of ['w1', 'w2', 'w3']) assert.match(metrics, new RegExp(`^t2v_worker_ready\\{worker="${name}",host="[^"]+",device="cpu"\\} 1$`, 'm'));
    const overview = await fetch(`${front.url}/admin`, { headers: { cookie: await signIn(front.url) } });
    const page = await overview.text();
    for (const name of ['w1', 'w2', 'w3']) assert.ok(page.includes(`data-worker="${name}"`), `the overview lists ${name}`);
  });

  it('kill -9 of a worker mid-render: its job completes elsewhere after the lease, posted and settled once; a second crash fails it plainly', { timeout: 240_000 }, async (t) => {
    const pool = await withPool(t);
    const slack = await startFakeSlack();
    t.after(() => slack.close());
    const front = await pool.startFront({ ...FRONT_ENV, SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: slack.signingSecret, SLACK_API_URL: slack.apiUrl });
    slack.eventsUrl = `${front.url}/slack/events`;
    const api = apiClient(front.url);
    const workers = new Map((await Promise.all(['w1', 'w2', 'w3'].map((name) => pool.startWorker(name)))).map((w) => [w.name, w]));

    const flags = `--frames ${LONG_JOB.frames} --width ${LONG_JOB.width} --height ${LONG_JOB.height} --steps ${LONG_JOB.steps}`;
    await slack.deliverEvent({ type: 'app_mention', user: slack.user('alice'), text: `<@${slack.botUserId}> a lighthouse ${flags}`, channel: slack.channelId });
    const jobId = await waitForJobId(db);

    const first = await killWhileRendering(db, workers, jobId);
    const done = await api.waitUntil([jobId], (job) => job.status === 'succeeded', 120_000);
    assert.equal(done[0]!.status, 'succeeded');
    const finished = await db.prisma.job.findUniqueOrThrow({ where: { id: jobId } });
    assert.notEqual(finished.workerId, first.workerId, 'another worker finished it');
    assert.equal(finished.attempts, 2);
    const uploaded = await slack.waitFor((r) => r.kind === 'upload', 30_000);
    assert.ok(uploaded);
    await sleep(1_000);
    assert.equal(slack.uploads.length, 1, 'the thread got the video once');
    assert.equal(await db.prisma.usageEntry.count({ where: { jobId, kind: 'settle' } }), 1, 'one settlement');
    assert.equal(pool.rendersByJob().get(jobId), 1, 'rendered to the end once (the killed render never finished)');

    // A job whose render crashes twice fails with the plain sentence, refunded, and the thread says so.
    await slack.deliverEvent({ type: 'app_mention', user: slack.user('bob'), text: `<@${slack.botUserId}> a storm ${flags}`, channel: slack.channelId });
    const second = await waitForJobId(db, [jobId]);
    await killWhileRendering(db, workers, second);
    await killWhileRendering(db, workers, second, 2);
    const [failed] = await api.waitUntil([second], (job) => job.status === 'failed', 60_000);
    assert.equal(failed!.error?.code, ErrorCode.JobInterrupted);
    assert.match(failed!.error!.message, /interrupted/i);
    assert.equal(await db.prisma.usageEntry.count({ where: { jobId: second, kind: 'refund' } }), 1);
    const notice = await slack.waitFor((r) => r.kind === 'call' && r.method === 'chat.postMessage' && String(r.params.text).includes(failed!.error!.message.slice(0, 30)), 30_000);
    assert.ok(notice);
  });

  it('a worker stopped past its lease (SIGSTOP, then SIGCONT) neither posts nor settles the job another worker took over', { timeout: 240_000 }, async (t) => {
    const pool = await withPool(t);
    const front = await pool.startFront(FRONT_ENV);
    const api = apiClient(front.url);
    const workers = new Map((await Promise.all(['w1', 'w2'].map((name) => pool.startWorker(name)))).map((w) => [w.name, w]));
    const { id } = await api.submit('alice', 'a slow sunrise', LONG_JOB);
    const holder = await waitForRender(db, workers, id);
    holder.child.kill('SIGSTOP');
    // It goes on as soon as the other worker has taken the job, so it is steps ahead of the new render: the lease, not
    // the job's status, stops it.
    const holderId = (await workerRow(db, holder.name)).id;
    await until('another worker takes the job over', async () => {
      const job = await db.prisma.job.findUniqueOrThrow({ where: { id } });
      return job.status === 'running' && job.attempts === 2 && job.workerId !== holderId;
    }, 60_000);
    const taken = await db.prisma.job.findUniqueOrThrow({ where: { id } });

    holder.child.kill('SIGCONT');
    await holder.logs.waitFor((line) => line.jobId === id && /lease/.test(String(line.msg)), 30_000);
    const done = await api.waitUntil([id], (job) => job.status === 'succeeded', 120_000);
    assert.equal(done[0]!.status, 'succeeded');
    await sleep(LEASE_SECONDS * 1000);
    assert.equal(await db.prisma.usageEntry.count({ where: { jobId: id, kind: 'settle' } }), 1, 'settled once, by the worker that took over');
    assert.equal(holder.logs.items.some((line) => line.jobId === id && line.msg === 'job succeeded'), false, 'the stopped worker recorded nothing');
    const after = await db.prisma.job.findUniqueOrThrow({ where: { id } });
    assert.equal(after.workerId, taken.workerId);
    assert.equal(after.status, 'succeeded');
  });

  it('a worker cut off from Postgres past its lease (the line held, not closed) neither posts nor settles the job taken over, and takes jobs again once reconnected', { timeout: 240_000 }, async (t) => {
    const pool = await withPool(t);
    const link = await CuttableLink.start(database.url);
    t.after(() => link.close());
    const front = await pool.startFront(FRONT_ENV);
    const api = apiClient(front.url);
    const cutOff = await pool.startWorker('w1', { DATABASE_URL: link.via(database.url) });
    const { id } = await api.submit('alice', 'a slow tide', LONG_JOB);
    await waitForRender(db, new Map([[cutOff.name, cutOff]]), id);
    const cutOffId = (await workerRow(db, cutOff.name)).id;
    link.cut();

    const other = await pool.startWorker('w2');
    // The line comes back while the cut-off worker holds a finished render and the other one renders the job again:
    // what decides which of them may record it is the lease, not the job's status.
    await cutOff.logs.waitFor((line) => line.jobId === id && line.msg === 'render finished', 60_000);
    await waitForRender(db, new Map([[other.name, other]]), id, 2);
    const restoredAt = new Date();
    link.restore();
    await cutOff.logs.waitFor((line) => line.jobId === id && /taken over/.test(String(line.msg)), 60_000);
    await api.waitUntil([id], (job) => job.status === 'succeeded', 120_000);
    await until('the reconnected worker reports itself again', async () => (await workerRow(db, cutOff.name)).heartbeatAt > restoredAt, 30_000);
    assert.deepEqual(await db.prisma.job.findUniqueOrThrow({ where: { id }, select: { status: true, workerId: true } }), { status: 'succeeded', workerId: (await workerRow(db, other.name)).id });
    assert.equal(await db.prisma.usageEntry.count({ where: { jobId: id, kind: 'settle' } }), 1, 'settled once, by the worker that took over');
    assert.equal(cutOff.logs.items.some((line) => line.jobId === id && line.msg === 'job succeeded'), false, 'the cut-off worker recorded nothing');

    // Reconnected, it is a worker like the others: with the other one gone, it renders the next job.
    other.child.kill('SIGTERM');
    await other.exited;
    const { id: next } = await api.submit('bob', 'a quick wave', SHORT_JOB);
    await api.waitUntil([next], (job) => job.status === 'succeeded', 60_000);
    assert.equal((await db.prisma.job.findUniqueOrThrow({ where: { id: next } })).workerId, cutOffId);
  });

  it('videos through an S3-compatible bucket: the front serves what a worker rendered, with no disk in common', { timeout: 120_000 }, async (t) => {
    const s3 = await startFakeS3();
    t.after(() => s3.destroy());
    const pool = await withPool(t);
    const front = await pool.startFront({ ...FRONT_ENV, ...s3.env });
    const worker = await pool.startWorker('w1', s3.env);
    const api = apiClient(front.url);
    const { id } = await api.submit('alice', 'a lighthouse at dusk', SHORT_JOB);
    await api.waitUntil([id], (job) => job.status === 'succeeded', 60_000);

    const files = await db.prisma.jobFile.findMany({ where: { jobId: id }, orderBy: { kind: 'asc' } });
    assert.deepEqual(files.map((file) => [file.kind, file.bytes]), [['poster', null], ['video', null]], 'the database records keys, not bytes');
    assert.deepEqual(await s3.keys(), files.map((file) => file.objectKey!).sort());
    assert.equal(existsSync(join(worker.dataDir, 'outputs', id)), false, 'the worker keeps no copy once the bucket has the files');
    // The front fetched its copy when the success reached it (to post it); a front on a new disk fetches it again.
    await rm(join(front.dataDir, 'outputs', id), { recursive: true, force: true });

    const video = await fetch(`${front.url}/api/v1/jobs/${id}/video`, { headers: { authorization: `Bearer ${POOL_ADMIN_TOKEN}` } });
    assert.equal(video.status, 200);
    const bytes = Buffer.from(await video.arrayBuffer());
    assert.deepEqual(bytes, await s3.object(files[1]!.objectKey!));
    assert.equal(bytes.subarray(4, 8).toString('latin1'), 'ftyp', 'an MP4');
  });

  it('a worker whose model differs from the pool\'s takes no job and exits saying why', { timeout: 120_000 }, async (t) => {
    const pool = await withPool(t);
    const first = await pool.startWorker('w1');
    const other = await differentModel(join(first.dataDir, 'models', 'demo'));
    t.after(() => rm(other, { recursive: true, force: true }));
    const second = pool.spawnWorker('w2', { MODEL_DIR: other });
    assert.equal(await second.exited, 1);
    assert.match(second.stderr, /t2v worker: This worker loads the model .*, but worker w1 of the same pool renders with built-in demo model, a different model .*Every worker of a pool must load the same model/);
    const rows = await db.prisma.worker.findMany({ where: { name: 'w2' } });
    assert.deepEqual(rows.map((row) => row.engineReady), [false]);
  });

  it('cancel from the API stops a job on a worker within one step; its progress reaches an SSE client on the front', { timeout: 240_000 }, async (t) => {
    const pool = await withPool(t);
    const front = await pool.startFront(FRONT_ENV);
    const api = apiClient(front.url);
    await pool.startWorker('w1');
    const events = await dashboardEvents(front.url);
    t.after(() => events.close());
    const { id } = await api.submit('alice', 'a long river', { ...LONG_JOB, frames: 8, steps: 50 });
    const progress = await events.waitFor((event) => event.type === 'progress' && event.data.jobId === id && Number(event.data.step) >= 3);
    assert.equal(Number(progress.data.totalSteps), 50);

    const asked = Date.now();
    const cancelled = await api.cancel(id);
    const answeredMs = Date.now() - asked;
    assert.equal(cancelled.status, 'cancelled', 'the API answered after the render stopped');
    const row = await db.prisma.job.findUniqueOrThrow({ where: { id } });
    assert.ok(row.progressStep < 50, 'stopped before the end');
    const stepMs = msPerStep(events.items.filter((e) => e.type === 'progress' && e.data.jobId === id).map((e) => ({ step: Number(e.data.step), at: e.at })));
    // Within one step: the worker stops at its next denoising step; the notification round trip adds milliseconds.
    assert.ok(answeredMs < 2 * stepMs + 1_000, `the cancel took ${answeredMs} ms with steps of ${Math.round(stepMs)} ms`);
    assert.equal(await db.prisma.usageEntry.count({ where: { jobId: id, kind: 'refund' } }), 1);
  });
});

async function differentModel(from: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 't2v-other-model-'));
  await cp(from, dir, { recursive: true });
  const schedulerConfig = join(dir, 'scheduler', 'scheduler_config.json');
  const config = JSON.parse(await readFile(schedulerConfig, 'utf8')) as { beta_end: number };
  await writeFile(schedulerConfig, JSON.stringify({ ...config, beta_end: config.beta_end * 1.01 }));
  return dir;
}

function repeat<T>(value: T, times: number): T[] {
  return Array.from({ length: times }, () => value);
}

function apiClient(url: string) {
  const headers = { authorization: `Bearer ${POOL_ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const get = async (id: string) => (await (await fetch(`${url}/api/v1/jobs/${id}`, { headers })).json()) as ApiJob;
  return {
    async submit(user: string, prompt: string, options: object): Promise<ApiJob> {
      const response = await fetch(`${url}/api/v1/jobs`, { method: 'POST', headers, body: JSON.stringify({ user: { platform: 'api', id: user }, prompt, ...options }) });
      const body = (await response.json()) as ApiJob;
      assert.equal(response.status, 202, JSON.stringify(body));
      return body;
    },
    async cancel(id: string): Promise<ApiJob> {
      const response = await fetch(`${url}/api/v1/jobs/${id}`, { method: 'DELETE', headers: { authorization: headers.authorization } });
      return (await response.json()) as ApiJob;
    },
    async waitUntil(ids: string[], done: (job: ApiJob) => boolean, timeoutMs: number): Promise<ApiJob[]> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const jobs = await Promise.all(ids.map(get));
        if (jobs.every(done)) return jobs;
        if (Date.now() > deadline) throw new Error(`timed out; jobs: ${jobs.map((j) => `${j.id.slice(0, 8)} ${j.status}`).join(', ')}`);
        await sleep(200);
      }
    },
  };
}

async function waitForJobId(db: Database, except: string[] = []): Promise<string> {
  for (let i = 0; i < 300; i++) {
    const job = await db.prisma.job.findFirst({ where: { id: { notIn: except } }, orderBy: { seq: 'desc' } });
    if (job !== null) return job.id;
    await sleep(100);
  }
  throw new Error('no job was made');
}

async function workerRow(db: Database, name: string) {
  return db.prisma.worker.findFirstOrThrow({ where: { name }, orderBy: { startedAt: 'desc' } });
}

/** The worker process rendering `jobId` once it is past its first denoising steps. */
async function waitForRender(db: Database, workers: Map<string, PoolProcess>, jobId: string, attempt = 1): Promise<PoolProcess> {
  for (let i = 0; i < 600; i++) {
    const job = await db.prisma.job.findUniqueOrThrow({ where: { id: jobId } });
    if (job.status === 'running' && job.attempts === attempt && job.workerId !== null && job.progressStep >= 2) {
      const row = await db.prisma.worker.findUniqueOrThrow({ where: { id: job.workerId } });
      const process = workers.get(row.name);
      if (process !== undefined) return process;
    }
    await sleep(50);
  }
  throw new Error(`job ${jobId} did not start rendering (attempt ${attempt})`);
}

async function killWhileRendering(db: Database, workers: Map<string, PoolProcess>, jobId: string, attempt = 1): Promise<{ workerId: string }> {
  const holder = await waitForRender(db, workers, jobId, attempt);
  const { workerId } = await db.prisma.job.findUniqueOrThrow({ where: { id: jobId } });
  holder.child.kill('SIGKILL');
  assert.equal(await holder.exited, 'SIGKILL');
  workers.delete(holder.name);
  return { workerId: workerId! };
}

type JobRow = Awaited<ReturnType<Database['prisma']['job']['findMany']>>[number] & { user: { id: string; role: 'user' | 'trusted' | 'admin' } };

/**
 * Every claim, replayed from the database's records: the job a worker took must be the one the fair-share policy
 * picks from the state at that moment (charges of the jobs started before it, at their actual cost once finished,
 * else their estimate; the jobs still waiting). Where the records cannot say which came first (two claims in one
 * millisecond, a job that finished within moments of a claim), each possibility is tried. Returns the claims no
 * possibility explains.
 */
function claimsOutOfFairOrder(rows: JobRow[]): string[] {
  const started = rows.filter((row) => row.startedAt !== null).sort((a, b) => a.startedAt!.getTime() - b.startedAt!.getTime());
  const problems: string[] = [];
  for (const claim of started) {
    const at = claim.startedAt!.getTime();
    const certainBefore = started.filter((row) => row.startedAt!.getTime() < at);
    const ties = started.filter((row) => row.id !== claim.id && row.startedAt!.getTime() === at);
    // A success is written between its finishedAt (the render's end) and its updatedAt (the success's update, the last
    // one of a job here), which commits moments later; a claim reads moments after its startedAt. A success that may
    // have committed on either side of the claim's read is one of the choices.
    const unsure = certainBefore.filter(
      (row) => row.finishedAt !== null && at > row.finishedAt.getTime() - AMBIGUOUS_MS && at < row.updatedAt.getTime() + AMBIGUOUS_MS,
    );
    const choices = [...ties, ...unsure];
    if (choices.length > 14) throw new Error(`too many ambiguous records around ${claim.id}`);
    let explained = false;
    for (let mask = 0; mask < 2 ** choices.length && !explained; mask++) {
      const chosen = new Set(choices.filter((_, i) => (mask >> i) & 1).map((row) => row.id));
      const before = [...certainBefore, ...ties.filter((row) => chosen.has(row.id))];
      const history: PastCharge[] = before.map((row) => {
        const finishedFirst = unsure.includes(row) ? chosen.has(row.id) : row.finishedAt !== null && row.updatedAt.getTime() < at;
        return { userId: row.userId, startedAt: row.startedAt!, seconds: finishedFirst ? row.gpuSeconds! : row.estimatedSeconds };
      });
      const waiting: PendingJob[] = rows
        .filter((row) => row.createdAt.getTime() <= at && !before.includes(row))
        .map((row) => ({ id: row.id, userId: row.userId, seq: row.seq, cost: row.estimatedSeconds, promotedAt: null }));
      const picked = restoreScheduler({ halfLifeMs: HALF_LIFE_MINUTES * 60_000 }, history, waiting).next(at);
      explained = picked?.id === claim.id;
    }
    if (!explained) problems.push(`${claim.id} (seq ${claim.seq}, ${claim.user.id}) at ${claim.startedAt!.toISOString()}`);
  }
  return problems;
}

/** Signs in to the dashboard as a browser does; resolves with the Cookie header of the session. */
async function signIn(url: string): Promise<string> {
  const cookies = new Map<string, string>();
  const keep = (response: Response) => {
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const [name, value] = pair!.split('=');
      cookies.set(name!.trim(), value ?? '');
    }
  };
  const cookieHeader = () => [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  const login = await fetch(`${url}/admin/login`);
  keep(login);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await login.text())?.[1] ?? '';
  const signedIn = await fetch(`${url}/admin/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookieHeader() },
    body: new URLSearchParams({ token: POOL_ADMIN_TOKEN, _csrf: csrf }).toString(),
  });
  keep(signedIn);
  assert.equal(signedIn.status, 303, 'signed in to the dashboard');
  return cookieHeader();
}

/** The dashboard's live event stream, read as a browser would after signing in. */
async function dashboardEvents(url: string) {
  const controller = new AbortController();
  const response = await fetch(`${url}/admin/api/events`, { headers: { cookie: await signIn(url), accept: 'text/event-stream' }, signal: controller.signal });
  assert.equal(response.status, 200);
  const items: { type: string; data: Record<string, unknown>; at: number }[] = [];
  const waiters = new Set<{ pred: (e: (typeof items)[number]) => boolean; resolve: (e: (typeof items)[number]) => void }>();
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body!) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (type === undefined || data === undefined) continue;
          const event = { type, data: JSON.parse(data) as Record<string, unknown>, at: Date.now() };
          items.push(event);
          for (const waiter of waiters) if (waiter.pred(event)) (waiters.delete(waiter), waiter.resolve(event));
        }
      }
    } catch {
      // Closed by the test.
    }
  })();
  return {
    items,
    waitFor(pred: (event: (typeof items)[number]) => boolean): Promise<(typeof items)[number]> {
      const found = items.find(pred);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no such dashboard event; saw ${items.length}`)), 60_000);
        waiters.add({ pred, resolve: (event) => (clearTimeout(timer), resolve(event)) });
      });
    },
    close: () => controller.abort(),
  };
}

function msPerStep(points: { step: number; at: number }[]): number {
  if (points.length < 2) return 1_000;
  const first = points[0]!;
  const last = points.at(-1)!;
  return (last.at - first.at) / Math.max(1, last.step - first.step);
}
