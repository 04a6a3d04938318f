// The real service (startService) on a loopback port with the dashboard, for browser tests: a fresh SQLite database
// and DATA_DIR, the built-in demo model as the engine (real MP4s), and the SteppedRenderer for marked prompts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../../src/config.js';
import { createEngine } from '../../../src/engine/index.js';
import { createLogger } from '../../../src/log.js';
import { startService, type RunningService } from '../../../src/main.js';
import { EventRecorder } from '../../support/events.js';
import { TEST_ADMIN_TOKEN } from '../../support/test-service.js';
import { PromptRouter, SteppedRenderer } from './stepped-renderer.js';

/** Small demo-model renders: a real H.264 MP4 in well under a second on a CPU. */
export const SMALL_VIDEO = { frames: 8, width: 64, height: 64, steps: 4, fps: 8 } as const;

export interface DashboardService {
  running: RunningService;
  config: Config;
  url: string;
  stepped: SteppedRenderer;
  events: EventRecorder;
  logLines: string[];
  /** POST /api/v1/jobs as the HTTP API adapter would get it; returns status and JSON body. */
  submit(user: { platform: 'discord' | 'slack' | 'api'; id: string; name?: string }, prompt: string, options?: Record<string, unknown>): Promise<{ status: number; body: any }>;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export async function startDashboardService(env: Record<string, string> = {}): Promise<DashboardService> {
  const dataDir = mkdtempSync(join(tmpdir(), 't2v-admin-'));
  const config = loadConfig({
    DATA_DIR: dataDir,
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    DRAIN_TIMEOUT_SECONDS: '2',
    ...env,
  });
  const logLines: string[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => void logLines.push(line) } });
  const stepped = new SteppedRenderer();
  const renderer = new PromptRouter(createEngine(config, logger.child({ component: 'engine' })), stepped);
  const running = await startService(config, { logger, renderer, enginePollMs: 50 });
  const url = running.url;
  const events = new EventRecorder(running.service, { replay: true });
  if (!running.service.engineStatus().ready) await events.waitFor((e) => e.type === 'engine' && e.status.ready, 60_000);

  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: await response.json() };
  };
  return {
    running,
    config,
    url,
    stepped,
    events,
    logLines,
    api,
    submit: (user, prompt, options = {}) => api('POST', '/api/v1/jobs', { user, prompt, ...SMALL_VIDEO, ...options }),
    close: async () => {
      events.unsubscribe();
      stepped.step(1_000);
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
