// Real processes sharing one Postgres database, as an operator starts them: a front (`t2v serve --no-engine`) and
// workers (`t2v worker`) with the built-in demo model, each with its own DATA_DIR, run with the CLI through tsx.
// Their JSON log lines are recorded, so tests wait on what a process says and count renders from the workers' own
// 'render finished' lines (not from job statuses). SIGKILL, SIGSTOP and SIGCONT are the real signals.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Recorder } from '../fakes/recorder.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const GUARD = fileURLToPath(new URL('../loopback-guard.cjs', import.meta.url));
const TSX = import.meta.resolve('tsx');

export const POOL_ADMIN_TOKEN = 'pool-tests-admin-token-0123456789';

export interface LogLine {
  msg?: string;
  jobId?: string;
  [key: string]: unknown;
}

export interface PoolProcess {
  name: string;
  /** Its DATA_DIR (the demo model is generated under models/demo there). */
  dataDir: string;
  child: ChildProcess;
  logs: Recorder<LogLine>;
  /** Resolves with the exit code, or the signal's name. */
  exited: Promise<number | string>;
  /** Non-JSON output (stderr), for failure messages. */
  readonly stderr: string;
}

export interface PoolOptions {
  databaseUrl: string;
  /** Environment for every process (LEASE_TIMEOUT_SECONDS, ...). */
  env?: Record<string, string>;
}

export class Pool {
  readonly processes: PoolProcess[] = [];

  constructor(private readonly options: PoolOptions) {}

  /** `t2v serve --no-engine` on a free loopback port; resolves with its base URL once it listens. */
  async startFront(env: Record<string, string> = {}): Promise<PoolProcess & { url: string }> {
    const front = this.#spawn('front', ['serve', '--no-engine'], env);
    const listening = await front.logs.waitFor((line) => line.msg === 'listening', 60_000);
    return Object.assign(front, { url: String(listening.url) });
  }

  /** `t2v worker` named `name`; resolves once its engine is ready to take jobs. */
  async startWorker(name: string, env: Record<string, string> = {}): Promise<PoolProcess> {
    const worker = this.spawnWorker(name, env);
    await worker.logs.waitFor((line) => line.msg === 'engine ready' && line.component === 'worker', 60_000);
    return worker;
  }

  /** `t2v worker` named `name`, without waiting for anything. */
  spawnWorker(name: string, env: Record<string, string> = {}): PoolProcess {
    return this.#spawn(name, ['worker'], { WORKER_NAME: name, ...env });
  }

  /** Kills every process still running (SIGCONT first, so stopped ones can die), waits for them, removes their data. */
  async stopAll(): Promise<void> {
    for (const { child } of this.processes) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    await Promise.all(this.processes.map((p) => p.exited));
    await Promise.all(this.processes.map((p) => rm(p.dataDir, { recursive: true, force: true })));
  }

  /** Render completions per job id, from every worker's log. */
  rendersByJob(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const process of this.processes) {
      for (const line of process.logs.items) {
        if (line.msg === 'render finished' && typeof line.jobId === 'string') counts.set(line.jobId, (counts.get(line.jobId) ?? 0) + 1);
      }
    }
    return counts;
  }

  #spawn(name: string, args: string[], env: Record<string, string>): PoolProcess {
    const dataDir = mkdtempSync(join(tmpdir(), `t2v-pool-${name}-`));
    const child = spawn(process.execPath, ['--require', GUARD, '--import', TSX, CLI, ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        DATABASE_URL: this.options.databaseUrl,
        DATA_DIR: dataDir,
        ADMIN_TOKEN: POOL_ADMIN_TOKEN,
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
        ENGINE_DEVICE: 'cpu',
        ENGINE_THREADS: '1',
        DRAIN_TIMEOUT_SECONDS: '2',
        ...this.options.env,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let pending = '';
    const logs = new Recorder<LogLine>((line) => `${line.msg ?? ''}${line.jobId === undefined ? '' : ` ${line.jobId}`}`, {
      timeoutMs: 30_000,
      detail: () => `${name} stderr:\n${stderr.slice(-4000)}`,
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const text of lines) {
        if (!text.startsWith('{')) continue;
        try {
          logs.push(JSON.parse(text) as LogLine);
        } catch {
          // A line cut by a kill.
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
    const started: PoolProcess = {
      name,
      dataDir,
      child,
      logs,
      exited,
      get stderr() {
        return stderr;
      },
    };
    this.processes.push(started);
    return started;
  }
}
