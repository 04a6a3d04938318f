// A Postgres server of the test's own, for tests that stop, restart or kill the server (the shared one at
// TEST_POSTGRES_URL must never be touched): a fresh cluster in a temp folder, on a free loopback port, trust auth,
// removed by destroy(). The server runs as a child of runuser (as user postgres: Postgres refuses to run as root)
// or directly when the tests do not run as root; being our child's child, a killed server is reaped at once and the
// next start does not find its process still listed.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestDatabase } from './test-databases.js';

export interface PrivatePostgres {
  /** The cluster's `postgres` database; drop() is a no-op, destroy() removes the whole cluster. */
  database: TestDatabase;
  /** Resolves once the server accepts connections. */
  start(): Promise<void>;
  /** Fast shutdown, as `pg_ctl stop -m fast` (and the first half of `pg_ctlcluster … restart`): sessions are ended. */
  stop(): Promise<void>;
  /** SIGKILL to the server process; its sessions end as they notice. */
  kill(): Promise<void>;
  destroy(): Promise<void>;
}

/** POSTGRES_BIN_DIR, else the newest /usr/lib/postgresql/<version>/bin (Debian's postgresql package). */
function binDir(): string {
  const configured = process.env.POSTGRES_BIN_DIR;
  if (configured !== undefined) return configured;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (newest === undefined) throw new Error(`These tests need the Postgres server binaries (apt-get install postgresql, or set POSTGRES_BIN_DIR); none under ${root}`);
  return join(root, newest, 'bin');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const asRoot = process.getuid?.() === 0;

/** The command line that runs `binary` as the postgres user. */
function asPostgres(binary: string, args: string[]): [string, string[]] {
  return asRoot ? ['runuser', ['-u', 'postgres', '--', binary, ...args]] : [binary, args];
}

async function waitUntilAccepting(url: string, server: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (server.exitCode !== null || server.signalCode !== null) throw new Error(`the private Postgres server exited:\n${log()}`);
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`the private Postgres server did not start: ${String(error)}\n${log()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = binDir();
  const root = mkdtempSync(join(tmpdir(), 't2v-pg-'));
  const dataDir = join(root, 'data');
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
    chownSync(root, uid, gid);
  }
  execFileSync(...asPostgres(join(bin, 'initdb'), ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']), { stdio: 'ignore' });
  const port = await freePort();
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  let server: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let log = '';

  const postmasterPid = () => Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const signal = async (name: NodeJS.Signals) => {
    if (server === undefined) return;
    process.kill(postmasterPid(), name);
    await exited;
    server = undefined;
  };

  const start = async () => {
    // fsync off: the tests care about what a running server does, not about surviving a power cut.
    const args = ['-D', dataDir, '-p', String(port), '-k', root, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'];
    // After a kill, sessions that have not noticed yet keep the old shared memory: the new server refuses to start
    // until they are gone, which takes moments, so a start that failed that way is tried again.
    for (let attempt = 1; ; attempt++) {
      log = '';
      const child = spawn(...asPostgres(join(bin, 'postgres'), args), { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
      exited = new Promise((resolve) => child.once('exit', () => resolve()));
      server = child;
      try {
        await waitUntilAccepting(url, child, () => log);
        return;
      } catch (error) {
        server = undefined;
        if (attempt >= 20 || !/already exists|still in use/.test(log)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };

  await start();
  return {
    database: { provider: 'postgresql', url, drop: async () => undefined },
    start,
    stop: () => signal('SIGINT'),
    kill: () => signal('SIGKILL'),
    destroy: async () => {
      await signal('SIGINT').catch(() => undefined);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
