// The processes under test, as real child processes: one `t2v serve` (HTTP API, Slack adapter, queue and engine in one
// process), or with `workers`, a front (`t2v serve --no-engine`) and that many `t2v worker` processes on one Postgres
// database, each with its own data folder as on separate hosts. The traffic sees only `url` and the readiness of the
// set; the faults strike the `killable` members (the workers, when there are any).
//
// Each incarnation of a member writes stdout and stderr straight into its own log file (a file descriptor, not a
// pipe), so a SIGKILL loses no line the process had written, and the logs are an independent record of what it did.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(REPO, 'src/cli/main.ts');
/** Refuses any connection beyond loopback in the child, as in the tests: the soak must stay on this machine. */
const LOOPBACK_GUARD = join(REPO, 'test/loopback-guard.cjs');
const TSX = import.meta.resolve('tsx');

/** How often readiness is polled while a member starts. */
const READY_POLL_MS = 50;

export interface ReadyTime {
  member: string;
  /** Spawn to ready, in milliseconds. */
  ms: number;
  /** The first start of a fresh data folder also generates the demo model; it is not a restart. */
  firstStart: boolean;
}

export interface UnexpectedExit {
  member: string;
  incarnation: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServiceMember {
  readonly name: string;
  /** One log file per incarnation, in start order. */
  readonly logFiles: readonly string[];
  /** Spawns the next incarnation and resolves with the milliseconds from spawn to ready. */
  start(): Promise<number>;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<void>;
  /** SIGTERM, waits up to `timeoutMs` for the exit (then SIGKILL); resolves with the exit code or signal. */
  stop(timeoutMs: number): Promise<number | string>;
}

interface MemberOptions {
  name: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  logDir: string;
  /** True once the incarnation started at `spawnedAt` (epoch ms) serves. */
  isReady(spawnedAt: number): Promise<boolean>;
  onUnexpectedExit(exit: UnexpectedExit): void;
}

class ChildMember implements ServiceMember {
  readonly name: string;
  readonly logFiles: string[] = [];
  readonly #o: MemberOptions;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  /** Set before the soak signals the child, so that the exit it causes is not reported as unexpected. */
  #expectingExit = false;

  constructor(options: MemberOptions) {
    this.name = options.name;
    this.#o = options;
  }

  async start(): Promise<number> {
    const incarnation = this.logFiles.length + 1;
    const logFile = join(this.#o.logDir, `${this.name}-${incarnation}.log`);
    this.logFiles.push(logFile);
    const log = openSync(logFile, 'a');
    const spawnedAt = performance.now();
    const spawnedAtEpoch = Date.now();
    const child = spawn(process.execPath, ['--require', LOOPBACK_GUARD, '--import', TSX, ...this.#o.args], {
      cwd: this.#o.cwd,
      env: this.#o.env,
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    this.#child = child;
    this.#expectingExit = false;
    let exited = false;
    this.#exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        exited = true;
        if (!this.#expectingExit) this.#o.onUnexpectedExit({ member: this.name, incarnation, code, signal });
        resolve();
      }),
    );
    while (!(await this.#o.isReady(spawnedAtEpoch))) {
      if (exited) throw new Error(`${this.name} exited before it was ready; see ${logFile}`);
      await sleep(READY_POLL_MS);
    }
    return performance.now() - spawnedAt;
  }

  async kill(): Promise<void> {
    this.#expectingExit = true;
    this.#child?.kill('SIGKILL');
    await this.#exited;
  }

  async stop(timeoutMs: number): Promise<number | string> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return 'not running';
    this.#expectingExit = true;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await this.#exited;
    clearTimeout(timer);
    return child.exitCode ?? child.signalCode ?? 'unknown';
  }
}

export interface ServiceSetOptions {
  /** The service's environment (nothing is inherited but PATH and HOME). */
  env: Record<string, string>;
  /** 0: one `t2v serve`; more: a front and this many workers (Postgres). */
  workers: number;
  /** For the workers' readiness, read from the front's /api/v1/queue. */
  adminToken: string;
  /** Working directory of the children: not the checkout, whose .env would otherwise be read. */
  cwd: string;
  logDir: string;
  /** Base URL of the HTTP API and of /slack/events. */
  url: string;
}

export class ServiceSet {
  readonly url: string;
  /** 0: one `t2v serve`; more: a front and this many workers. */
  readonly workers: number;
  readonly members: readonly ServiceMember[];
  /** The members the faults strike. */
  readonly killable: readonly ServiceMember[];
  readonly readyTimes: ReadyTime[] = [];
  readonly unexpectedExits: UnexpectedExit[] = [];
  /** Members not serving now (being killed, restarting). */
  readonly #down = new Set<ServiceMember>();
  #becameReady: { promise: Promise<void>; resolve: () => void } = settled();
  #restarts: Promise<unknown> = Promise.resolve();

  constructor(options: ServiceSetOptions) {
    this.url = options.url;
    this.workers = options.workers;
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? options.cwd, ...options.env };
    const member = (name: string, args: string[], memberEnv: Record<string, string>, isReady: (spawnedAt: number) => Promise<boolean>): ServiceMember => {
      const child: ServiceMember = new ChildMember({
        name,
        args: [CLI, ...args],
        env: { ...env, ...memberEnv },
        cwd: options.cwd,
        logDir: options.logDir,
        isReady,
        onUnexpectedExit: (exit) => this.#restartAfterCrash(child, exit),
      });
      return child;
    };
    if (options.workers === 0) {
      this.members = [member('serve', ['serve'], {}, () => healthOk(this.url, ['ok']))];
      this.killable = this.members;
    } else {
      // The front renders nothing: it serves once /healthz answers, whatever the workers do.
      const front = member('front', ['serve', '--no-engine'], {}, () => healthOk(this.url, ['ok', 'degraded']));
      const workers = Array.from({ length: options.workers }, (_, i) => {
        const name = `worker${i + 1}`;
        const dataDir = `${options.env.DATA_DIR}-${name}`;
        return member(name, ['worker'], { DATA_DIR: dataDir, WORKER_NAME: name, PORT: '0' }, (spawnedAt) => workerReady(this.url, options.adminToken, name, spawnedAt));
      });
      this.members = [front, ...workers];
      this.killable = workers;
    }
  }

  /** Whether every member serves now. */
  get ready(): boolean {
    return this.#down.size === 0;
  }

  /** Resolves once every member serves (at once if they do). */
  whenReady(): Promise<void> {
    return this.#becameReady.promise;
  }

  async start(): Promise<void> {
    for (const member of this.members) {
      this.#markDown(member);
      this.readyTimes.push({ member: member.name, ms: await member.start(), firstStart: true });
      this.#markUp(member);
    }
  }

  /**
   * Kills `member` with SIGKILL and starts it again after `downMs` (a host that stays away, as after a power loss);
   * resolves when it serves again.
   */
  killAndRestart(member: ServiceMember, downMs = 0): Promise<void> {
    return this.restart(member, async () => {
      await member.kill();
      await sleep(downMs);
    });
  }

  async restart(member: ServiceMember, stopIt: () => Promise<void>): Promise<void> {
    this.#markDown(member);
    await stopIt();
    this.readyTimes.push({ member: member.name, ms: await member.start(), firstStart: false });
    this.#markUp(member);
  }

  /** SIGTERM to every member (a graceful drain); resolves with each exit code or signal. */
  async stop(timeoutMs: number): Promise<Record<string, number | string>> {
    await this.#restarts;
    const exits: Record<string, number | string> = {};
    for (const member of this.members) {
      this.#markDown(member);
      exits[member.name] = await member.stop(timeoutMs);
    }
    return exits;
  }

  /** Leaves nothing running, whatever state the soak stopped in. */
  async killAll(): Promise<void> {
    for (const member of this.members) await member.kill();
  }

  /** Every process start's log file; all but a member's last ended by a SIGKILL (or a crash the soak reports). */
  logs(): { file: string; killed: boolean }[] {
    return this.members.flatMap((member) => member.logFiles.map((file, i) => ({ file, killed: i < member.logFiles.length - 1 })));
  }

  /** A member that died by itself once it served is started again, as a supervisor (systemd) would; it is reported. */
  #restartAfterCrash(member: ServiceMember, exit: UnexpectedExit): void {
    this.unexpectedExits.push(exit);
    if (this.#down.has(member)) return;
    this.#restarts = this.#restarts.then(() => this.restart(member, () => Promise.resolve()));
  }

  #markDown(member: ServiceMember): void {
    if (this.#down.size === 0) this.#becameReady = deferred();
    this.#down.add(member);
  }

  #markUp(member: ServiceMember): void {
    this.#down.delete(member);
    if (this.#down.size === 0) this.#becameReady.resolve();
  }
}

async function healthOk(url: string, statuses: string[]): Promise<boolean> {
  try {
    const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
    return response.ok && statuses.includes(String(((await response.json()) as { status?: string }).status));
  } catch {
    return false;
  }
}

/** Whether the front lists the incarnation of worker `name` started at `spawnedAt` (or later) as ready. */
async function workerReady(url: string, adminToken: string, name: string, spawnedAt: number): Promise<boolean> {
  try {
    const response = await fetch(`${url}/api/v1/queue`, { headers: { authorization: `Bearer ${adminToken}` }, signal: AbortSignal.timeout(2_000) });
    const queue = (await response.json()) as { workers?: { name: string; ready: boolean; startedAt: string }[] };
    return (queue.workers ?? []).some((w) => w.name === name && w.ready && Date.parse(w.startedAt) >= spawnedAt - 1_000);
  } catch {
    return false;
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function settled(): { promise: Promise<void>; resolve: () => void } {
  return { promise: Promise.resolve(), resolve: () => undefined };
}
