// `npm run soak`: the service as real child processes under a steady stream of API and Slack requests, cancels and
// re-rolls, killed with SIGKILL at random moments and restarted; then the traffic stops, the queue drains, SIGTERM
// stops the service, and the figures are computed from the database, the fake Slack's records and the service's
// logs (scripts/soak/report.ts). Exits 1 when a must-be-zero figure is not zero. Loopback only; bounded in time and
// count; leaves nothing behind (its temporary folder, its Postgres database and its children go).
// docs/reliability.md ("Soak") describes the figures and records a run.
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { Command, InvalidArgumentError, Option } from 'commander';
import { startFakeS3 } from '../test/fakes/s3.js';
import { startFakeSlack } from '../test/fakes/slack.js';
import { createTestDatabase } from '../test/support/test-databases.js';
import { killAtRandom } from './soak/faults.js';
import { formatFigures } from './soak/print.js';
import { SeededRandom } from './soak/random.js';
import { computeFigures, mustBeZero } from './soak/report.js';
import { ServiceSet } from './soak/service-set.js';
import { Traffic } from './soak/traffic.js';

type Provider = 'sqlite' | 'postgres';

interface SoakOptions {
  database: Provider | 'both';
  seconds: number;
  maxJobs: number;
  maxSteps: number;
  seed: number;
  killEvery: number;
  videosPerDay: number | undefined;
  drainSeconds: number;
  keepLogs: string | undefined;
  workers: number;
  bucket: boolean;
}

const API_USERS = ['ada', 'brian', 'chen'];
const SLACK_USERS = ['dora', 'emeka', 'farah'];
/** The drain after SIGTERM may take this long (DRAIN_TIMEOUT_SECONDS, then the shutdown itself). */
const DRAIN_TIMEOUT_SECONDS = 10;
/** A killed worker's job comes back after at most one and a half of this; the default 30 s would mostly measure waiting. */
const LEASE_TIMEOUT_SECONDS = 5;
const STOP_TIMEOUT_MS = 60_000;
/** Slack calls after the queue drained (the last videos' uploads) are done once the fake sees none for this long. */
const SLACK_QUIET_MS = 2_000;
const SLACK_QUIET_MAX_MS = 30_000;

const whole = (min: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`must be a whole number from ${min}`);
  return n;
};

const program = new Command('soak')
  .description('run t2v serve as child processes under steady traffic and random SIGKILLs, then print what happened to every request')
  .addOption(new Option('--database <which>', 'database(s) to soak').choices(['sqlite', 'postgres', 'both']).default('both'))
  .option('--seconds <n>', 'seconds of traffic and kills per database', whole(5), 60)
  .option('--max-jobs <n>', 'job requests (submits, mentions, re-rolls) per database at most', whole(1), 80)
  .option('--max-steps <n>', "a job's denoising steps at most (from 2); more make renders longer, so more kills land mid-render", whole(2), 6)
  .option('--seed <n>', 'seed of every random choice (default: a new one, printed)', whole(0))
  .option('--kill-every <seconds>', 'mean seconds between SIGKILLs', whole(1), 10)
  .option('--videos-per-day <n>', 'QUOTA_VIDEOS_PER_DAY (default: low enough that some submits are refused)', whole(0))
  .option('--drain-seconds <n>', 'how long the queue may take to drain after the traffic', whole(1), 180)
  .option('--keep-logs <dir>', 'copy the service logs of each run into this folder')
  .option('--workers <n>', 'run a front and this many `t2v worker` processes (Postgres), and kill workers instead of the service', whole(0), 0)
  .option('--bucket', 'keep the videos in an S3-compatible bucket (MEDIA_STORE=bucket, a loopback s3rver)', false)
  .showHelpAfterError();

const options = program.parse().opts<Omit<SoakOptions, 'seed'> & { seed?: number }>();
const soak: SoakOptions = { ...options, seed: options.seed ?? randomBytes(4).readUInt32BE() % 1_000_000 };
if (soak.workers > 0 && soak.database === 'sqlite') program.error('--workers needs Postgres: workers coordinate through one Postgres database (--database postgres)');
const providers: Provider[] = soak.workers > 0 ? ['postgres'] : soak.database === 'both' ? ['sqlite', 'postgres'] : [soak.database];

/** What the current run must undo if the soak itself is interrupted. */
const cleanups: (() => Promise<void>)[] = [];
const cleanUp = async () => {
  for (const undo of cleanups.splice(0).reverse()) await undo().catch((error: unknown) => console.error(`cleanup: ${String(error)}`));
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the service and removing what the soak made`);
    void cleanUp().then(() => process.exit(130));
  });
}

let failed = false;
for (const provider of providers) {
  const { title, figures, zeroes } = await soakOne(provider);
  console.log(`\n${formatFigures(title, figures)}`);
  if (Object.values(zeroes).some((n) => n !== 0)) failed = true;
}
process.exit(failed ? 1 : 0);

async function soakOne(provider: Provider) {
  const rng = new SeededRandom(soak.seed);
  const runDir = mkdtempSync(join(tmpdir(), `t2v-soak-${provider}-`));
  const dataDir = join(runDir, 'data');
  const logDir = join(runDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  cleanups.push(async () => rmSync(runDir, { recursive: true, force: true }));
  try {
    let databaseUrl = `file:${join(dataDir, 't2v.db')}`;
    if (provider === 'postgres') {
      const database = await createTestDatabase('postgresql');
      cleanups.push(() => database.drop());
      databaseUrl = database.url;
    }
    const fake = await startFakeSlack();
    cleanups.push(() => fake.close());
    const bucket = soak.bucket ? await startFakeS3() : undefined;
    if (bucket !== undefined) cleanups.push(() => bucket.destroy());
    const adminToken = randomBytes(24).toString('hex');
    const url = `http://127.0.0.1:${await freePort()}`;
    const users = API_USERS.length + SLACK_USERS.length;
    const serviceEnv: Record<string, string> = {
      DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl,
      HOST: '127.0.0.1',
      PORT: new URL(url).port,
      ADMIN_TOKEN: adminToken,
      LOG_LEVEL: 'info',
      MODEL_DIR: '',
      ENGINE_DEVICE: 'cpu',
      // One engine thread: the other core stays with the soak, the fake and whoever else shares the machine.
      ENGINE_THREADS: '1',
      DRAIN_TIMEOUT_SECONDS: String(DRAIN_TIMEOUT_SECONDS),
      // Three quarters of an even share of the job requests: the busier users run out, as the soak wants.
      QUOTA_VIDEOS_PER_DAY: String(soak.videosPerDay ?? Math.max(1, Math.floor((0.75 * soak.maxJobs) / users))),
      MAX_QUEUED_PER_USER: '3',
      SLACK_BOT_TOKEN: fake.botToken,
      SLACK_SIGNING_SECRET: fake.signingSecret,
      SLACK_API_URL: fake.apiUrl,
      LEASE_TIMEOUT_SECONDS: String(LEASE_TIMEOUT_SECONDS),
      ...bucket?.env,
    };
    const set = new ServiceSet({ env: serviceEnv, cwd: runDir, logDir, url, workers: soak.workers, adminToken });
    cleanups.push(() => set.killAll());
    const shape = `${soak.workers === 0 ? 't2v serve' : `a front and ${soak.workers} workers`}${bucket === undefined ? '' : ', videos in a bucket'}`;
    console.log(`soak ${provider} (${shape}): seed ${soak.seed}, ${soak.seconds} s, at most ${soak.maxJobs} job requests, a SIGKILL every ${soak.killEvery} s on average, QUOTA_VIDEOS_PER_DAY=${serviceEnv.QUOTA_VIDEOS_PER_DAY}`);
    await set.start();

    const traffic = new Traffic({ set, fake, rng, adminToken, seconds: soak.seconds, maxJobs: soak.maxJobs, maxSteps: soak.maxSteps, apiUsers: API_USERS, slackUsers: SLACK_USERS });
    const trafficOver = new AbortController();
    const faults = killAtRandom({
      set,
      rng,
      adminToken,
      meanIntervalSeconds: soak.killEvery,
      workerDownMs: (LEASE_TIMEOUT_SECONDS * 1.5 + 2) * 1000,
      signal: trafficOver.signal,
    });
    await traffic.send();
    trafficOver.abort();
    const kills = await faults;
    await traffic.settle();
    console.log(`soak ${provider}: traffic over (${kills.length} SIGKILLs); draining the queue`);
    await drainQueue(url, adminToken, soak.drainSeconds * 1000);
    await slackQuiet(() => fake.log.items.length);
    const finalExits = await set.stop(STOP_TIMEOUT_MS);

    if (soak.keepLogs !== undefined) cpSync(logDir, join(soak.keepLogs, provider), { recursive: true });
    const figures = await computeFigures({
      databaseUrl,
      serviceEnv,
      fake,
      logs: set.logs(),
      traffic: traffic.records,
      kills,
      readyTimes: set.readyTimes,
      unexpectedExits: set.unexpectedExits,
      finalExits,
    });
    const title = `${provider === 'sqlite' ? 'SQLite' : 'Postgres'}${soak.workers === 0 ? '' : ` with a front and ${soak.workers} workers`}${bucket === undefined ? '' : ', videos in an S3-compatible bucket'}: seed ${soak.seed}, ${soak.seconds} s, max ${soak.maxJobs} job requests of 2 to ${soak.maxSteps} steps, ${availableParallelism()} CPU cores`;
    return { title, figures, zeroes: mustBeZero(figures) };
  } finally {
    await cleanUp();
  }
}

/** Waits until the service reports no job waiting or running, or `timeoutMs` passed (the report then shows them). */
async function drainQueue(url: string, adminToken: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    try {
      const response = await fetch(`${url}/api/v1/queue`, { headers: { authorization: `Bearer ${adminToken}` }, signal: AbortSignal.timeout(5_000) });
      const queue = (await response.json()) as { running: unknown[]; queued: unknown[] };
      if (queue.running.length === 0 && queue.queued.length === 0) return;
    } catch {
      // A slow answer while the last renders finish: ask again.
    }
    await sleep(500);
  }
}

/** Waits until the fake Slack has seen no new call for SLACK_QUIET_MS (the bot has posted what it will post). */
async function slackQuiet(seen: () => number): Promise<void> {
  const deadline = performance.now() + SLACK_QUIET_MAX_MS;
  let last = seen();
  let quietSince = performance.now();
  while (performance.now() < deadline && performance.now() - quietSince < SLACK_QUIET_MS) {
    await sleep(200);
    if (seen() !== last) {
      last = seen();
      quietSince = performance.now();
    }
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
