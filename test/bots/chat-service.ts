// The whole service as `t2v serve` runs it (startService: database, queue, worker, HTTP server, chat adapters turned
// on by their tokens in the environment), with the engine's built-in demo model rendering for real at a tiny size,
// pointed at the loopback fakes. Shared by the Discord and Slack end-to-end tests.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { configSecrets, loadConfig, type Config } from '../../src/config.js';
import { createEngine } from '../../src/engine/index.js';
import { startService, type RunningService } from '../../src/main.js';
import type { Recorder } from '../fakes/recorder.js';
import { ffprobe as probeFile, type ProbedStream } from '../support/ffprobe.js';
import { captureLogs } from './captured-logs.js';

/** A render the demo model does in a fraction of a second: 4 frames of 64x64, 2 steps. */
export const TINY = { frames: 4, size: '64x64', steps: 2 } as const;

/** Generous bound for waits that include a render; a test that works finishes far sooner. */
export const RENDER_WAIT_MS = 60_000;

// One data folder per test file: the demo model's weights and graph cache are made once and reused by every service
// the file starts (each gets its own database).
const dataDir = mkdtempSync(join(tmpdir(), 't2v-chat-'));
process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
let databases = 0;

interface TestResources {
  services: ChatService[];
  fakes: { close(): Promise<void> }[];
}

const resources = new WeakMap<TestContext, TestResources>();

/**
 * One cleanup per test: every service stops before any fake closes. A fake gateway or Socket Mode server closed
 * under a live client makes the client reconnect (discord.js retries forever), which keeps the test process alive.
 */
function resourcesOf(t: TestContext): TestResources {
  let found = resources.get(t);
  if (found === undefined) {
    const created: TestResources = { services: [], fakes: [] };
    resources.set(t, created);
    t.after(async () => {
      for (const service of created.services) await service.stop();
      for (const fake of created.fakes) await fake.close();
    });
    found = created;
  }
  return found;
}

/** Closes `fake` when the test ends, after the services the test started have stopped. */
export function closeAfterServices<F extends { close(): Promise<void> }>(t: TestContext, fake: F): F {
  resourcesOf(t).fakes.push(fake);
  return fake;
}

export interface ChatService {
  running: RunningService;
  config: Config;
  /** The service's JSON log lines, as written; tests can wait on them. */
  logs: Recorder<string>;
  databaseUrl: string;
  /** Stops the service (drain, adapters, server), keeping the database for a restart. */
  stop(): Promise<void>;
}

export interface ChatServiceOptions {
  env: Record<string, string>;
  /** Reuse a database (restart tests). */
  databaseUrl?: string;
  /** false: no engine, so every job stays queued (a service whose engine is not ready yet). Default true. */
  engine?: boolean;
}

export async function startChatService(t: TestContext, options: ChatServiceOptions): Promise<ChatService> {
  const databaseUrl = options.databaseUrl ?? `file:${join(dataDir, `test-${++databases}.db`)}`;
  const config = loadConfig({
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    ADMIN_TOKEN: 'chat-tests-admin-token-0123456789',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'debug',
    ENGINE_DEVICE: 'cpu',
    ENGINE_THREADS: '2',
    DRAIN_TIMEOUT_SECONDS: '5',
    ...options.env,
  });
  const { logger, lines: logs } = captureLogs(configSecrets(config));
  const renderer = options.engine === false ? undefined : createEngine(config, logger.child({ component: 'engine' }));
  const running = await startService(config, {
    ...(renderer === undefined ? {} : { renderer }),
    logger,
    enginePollMs: 20,
    // Every progress step becomes an edit, so the tests see them; the 2 s default is tested in message-updater.
    chat: { progressIntervalMs: 0, discordRest: { retries: 0, timeoutMs: 10_000 }, slackRetries: 0 },
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await running.close();
  };
  const service = { running, config, logs, databaseUrl, stop };
  resourcesOf(t).services.push(service);
  return service;
}

/** Jobs and quota reservations (the usage ledger's `reserve` entries) in the service's database. */
export async function jobsAndCharges(service: ChatService): Promise<{ jobs: number; charges: number }> {
  const prisma = service.running.db.prisma;
  return { jobs: await prisma.job.count(), charges: await prisma.usageEntry.count({ where: { kind: 'reserve' } }) };
}

/** The adapter's log line for a delivery it dropped as handled already (`key`: its delivery key). */
export function dropped(service: ChatService, key: string): Promise<string> {
  return service.logs.waitFor((line) => line.includes('handled already') && line.includes(`"delivery":"${key}"`));
}

/** Writes uploaded bytes to a file and asks ffprobe what it is; throws if ffprobe does not accept it. */
export function ffprobe(bytes: Buffer, extension = 'mp4'): Pick<ProbedStream, 'codec_name' | 'width' | 'height' | 'nb_read_frames'> {
  const dir = mkdtempSync(join(tmpdir(), 't2v-probe-'));
  try {
    const path = join(dir, `upload.${extension}`);
    writeFileSync(path, bytes);
    return probeFile(path, ['codec_name', 'width', 'height', 'nb_read_frames']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
