// Starts the real service in-process for tests: a fresh database (SQLite or Postgres), a temp DATA_DIR, the test
// renderer, no open port (requests go through app.inject), logs captured in memory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { configSecrets, loadConfig, type Config } from '../../src/config.js';
import type { Renderer } from '../../src/core/ports.js';
import type { VideoService } from '../../src/service/video-service.js';
import type { DatabaseProvider } from '../../src/db/database-url.js';
import { createLogger } from '../../src/log.js';
import { startService, type RunningService } from '../../src/main.js';
import { EventRecorder } from './events.js';
import { createTestDatabase, type TestDatabase } from './test-databases.js';
import { TestRenderer } from './test-renderer.js';

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestServiceOptions {
  provider?: DatabaseProvider;
  /** Reuse a database (restart tests); otherwise a fresh one is created and dropped by destroy(). */
  database?: TestDatabase;
  dataDir?: string;
  /** null = no engine at all. Default: a fresh TestRenderer. */
  renderer?: Renderer | null;
  /** More environment variables (limits, quotas, ...). */
  env?: Record<string, string>;
  enginePollMs?: number;
  clock?: () => Date;
}

export interface TestService {
  running: RunningService;
  service: VideoService;
  config: Config;
  renderer: Renderer | undefined;
  database: TestDatabase;
  dataDir: string;
  events: EventRecorder;
  logLines: string[];
  request(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, token?: string | null): Promise<LightMyRequestResponse>;
  /** Stops the service (drain), keeping database and files. */
  stop(): Promise<void>;
  /** Stops the service and removes its database and files. */
  destroy(): Promise<void>;
}

export function testEnv(database: TestDatabase, dataDir: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    LOG_LEVEL: 'info',
    DRAIN_TIMEOUT_SECONDS: '5',
    ...env,
  };
}

export async function startTestService(options: TestServiceOptions = {}): Promise<TestService> {
  const database = options.database ?? (await createTestDatabase(options.provider ?? 'sqlite'));
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 't2v-data-'));
  const config = loadConfig(testEnv(database, dataDir, options.env));
  const renderer = options.renderer === null ? undefined : (options.renderer ?? new TestRenderer());
  const logLines: string[] = [];
  const logger = createLogger({ level: 'info', secrets: configSecrets(config), destination: { write: (line: string) => void logLines.push(line) } });
  const events = new EventRecorder();
  let recording = true;
  const running = await startService(config, {
    logger,
    listeners: [
      (event) => {
        if (recording) events.push(event);
      },
    ],
    listen: false,
    enginePollMs: options.enginePollMs ?? 20,
    ...(renderer === undefined ? {} : { renderer }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    recording = false;
    await running.close();
  };
  return {
    running,
    service: running.service,
    config,
    renderer,
    database,
    dataDir,
    events,
    logLines,
    request: (method, url, body, token = TEST_ADMIN_TOKEN) =>
      running.app.inject({
        method,
        url,
        ...(token === null ? {} : { headers: { authorization: `Bearer ${token}` } }),
        ...(body === undefined ? {} : { payload: body as string | object }),
      }),
    stop,
    destroy: async () => {
      await stop();
      if (options.database === undefined) await database.drop();
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** What /healthz says of the service's state: its status code and the parts a fault changes. */
export async function healthSummary(t: TestService): Promise<{ code: number; status: string; database: string; videoStorage?: string }> {
  const response = await t.request('GET', '/healthz', undefined, null);
  const body = response.json() as { status: string; database: string; videoStorage?: string };
  return {
    code: response.statusCode,
    status: body.status,
    database: body.database,
    ...(body.videoStorage === undefined ? {} : { videoStorage: body.videoStorage }),
  };
}
