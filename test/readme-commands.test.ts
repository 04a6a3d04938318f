// The README's commands, run as a new operator runs them: every line of every ```sh block of README.md, in README
// order, with bash, in a fresh copy of the repository (the files git knows, uncommitted ones included, and a
// hard-linked copy of node_modules; `npm install` then brings it up to date as it would after a clone). Lines are
// taken from README.md, never retyped here: only the placeholders a reader fills in are filled (`...` after
// TOKEN= with the admin token the first start prints, `<id>` with the job id the submit returned), and the one line
// that cannot run inside the tests (`npm test` itself) is skipped. A line that starts the service (`npm start`)
// runs in the background until the next one does. The hub is a loopback fake (HF_ENDPOINT) publishing the demo
// model under the README's repository name.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FakeHub, type FakeRepoFile } from './fakes/hub.js';
import { ffprobe } from './support/ffprobe.js';

const README_PORT = 8080;
const SKIPPED: Record<string, string> = { 'npm test': 'the command running this test' };

interface Shell {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The command lines of README.md's ```sh blocks, continuation lines joined, blank lines dropped. */
function readmeCommands(readme: string): string[] {
  const lines: string[] = [];
  for (const block of readme.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const text = block[1]!.replace(/\\\n\s*/g, ' ');
    lines.push(...text.split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('#')));
  }
  return lines;
}

async function freshCopy(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 't2v-readme-'));
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { encoding: 'utf8' })
    .split('\0')
    .filter((file) => file !== '' && existsSync(file));
  execFileSync('tar', ['--null', '-T', '-', '-cf', join(dir, '.copy.tar')], { input: files.join('\0') });
  execFileSync('tar', ['-xf', '.copy.tar'], { cwd: dir });
  await rm(join(dir, '.copy.tar'));
  execFileSync('cp', ['-al', 'node_modules', join(dir, 'node_modules')]);
  return dir;
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

test('the README commands work as written on a fresh copy of the repository', { timeout: 600_000 }, async () => {
  assert.ok(await portIsFree(README_PORT), `port ${README_PORT} is in use; the README's commands use it`);
  const repo = await freshCopy();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    // The install must not reach beyond this machine: no audit or funding requests, no update check.
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    ENGINE_THREADS: '2',
  };
  let service: { child: ChildProcess; output: string } | undefined;
  let hub: FakeHub | undefined;
  const stopService = async () => {
    if (service === undefined) return;
    const { child } = service;
    service = undefined;
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
  };
  after(async () => {
    await stopService();
    await hub?.close();
    await rm(repo, { recursive: true, force: true });
  });

  const shell = (line: string): Promise<Shell> =>
    new Promise((resolve, reject) => {
      const child = spawn('bash', ['-c', line], { cwd: repo, env });
      const run: Shell = { code: null, stdout: '', stderr: '' };
      child.stdout.on('data', (d: Buffer) => (run.stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (run.stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ ...run, code }));
    });
  const health = async () => {
    const response = await fetch(`http://127.0.0.1:${README_PORT}/healthz`).catch(() => undefined);
    return response === undefined ? undefined : ((await response.json()) as { status: string; engine: { ready: boolean; model: string; demo: boolean } });
  };
  const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; service output:\n${service?.output.slice(-3000) ?? ''}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };

  let token: string | undefined;
  let jobId: string | undefined;
  const lines = readmeCommands(await readFile('README.md', 'utf8'));
  assert.ok(lines.length >= 10, `found only ${lines.length} command lines in README.md`);
  const ran: string[] = [];
  for (const written of lines) {
    const skip = Object.keys(SKIPPED).find((command) => written.trim().replace(/\s+#.*$/, '') === command);
    if (skip !== undefined) continue;
    let line = written;
    if (/^TOKEN=\.\.\./.test(line)) line = line.replace('...', token ?? assert.fail('the first start printed no admin token'));
    if (line.includes('<id>')) line = line.replaceAll('<id>', jobId ?? assert.fail(`no job id to put into: ${written}`));
    ran.push(written);

    if (/\bnpm start\b/.test(line)) {
      await stopService();
      const child = spawn('bash', ['-c', line], { cwd: repo, env, detached: true });
      const started = { child, output: '' };
      service = started;
      child.stdout!.on('data', (d: Buffer) => (started.output += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (started.output += d.toString()));
      const model = /MODEL_DIR=(\S+)/.exec(line)?.[1];
      const ready = await waitFor(`the service started by: ${written}`, async () => {
        const status = await health();
        return status?.engine.ready === true ? status : undefined;
      }, 240_000);
      assert.equal(ready.status, 'ok');
      if (model === undefined) assert.equal(ready.engine.demo, true);
      else assert.equal(ready.engine.model, join(repo, model), 'the service runs the model MODEL_DIR names');
      if (line.startsWith('npm install')) {
        const install = started.output.slice(0, started.output.indexOf('> t2v-bot@0.1.0 start'));
        assert.doesNotMatch(install, /npm warn/i, `npm install printed a warning:\n${install}`);
      }
      token ??= /Admin token: (\S+)/.exec(started.output)?.[1];
      continue;
    }

    if (/\bt2v model pull\b/.test(line) && hub === undefined) {
      hub = await FakeHub.start([{ repoId: 'ali-vilab/text-to-video-ms-1.7b', commit: 'a'.repeat(40), files: await demoModelFiles(repo) }]);
      env.HF_ENDPOINT = hub.endpoint;
    }
    const assignment = /^([A-Z_]+)=(\S+)(\s+#.*)?$/.exec(line);
    if (assignment !== null) {
      env[assignment[1]!] = (await shell(`printf %s ${assignment[2]}`)).stdout;
      continue;
    }
    if (/\/jobs\/[^/\s]+\/video\b/.test(line)) {
      await waitFor('the job to succeed', async () => {
        const job = JSON.parse((await shell(`curl -s http://127.0.0.1:${README_PORT}/api/v1/jobs/${jobId} -H "Authorization: Bearer $TOKEN"`)).stdout) as { status: string };
        assert.notEqual(job.status, 'failed');
        return job.status === 'succeeded' ? job : undefined;
      }, 120_000);
    }

    const run = await shell(line);
    assert.equal(run.code, 0, `${written}\nexited ${run.code}:\n${run.stdout}\n${run.stderr}`);
    if (/curl .*\/healthz/.test(line)) assert.match(run.stdout, /"status":"(ok|degraded)"/);
    if (/curl .*-X POST .*\/api\/v1\/jobs\b/.test(line)) {
      const submitted = JSON.parse(run.stdout) as { id?: string; status?: string };
      assert.equal(submitted.status, 'queued', run.stdout);
      jobId = submitted.id;
    }
    const output = /-o (\S+\.(mp4|png))/.exec(line)?.[1];
    if (output !== undefined) {
      const probe = ffprobe(join(repo, output));
      assert.equal(probe.codec_name, output.endsWith('.png') ? 'png' : 'h264', `${written} wrote ${output}`);
    }
    if (/t2v model verify/.test(line)) assert.match(run.stdout, /^OK$/m);
    const seed = /--seed (\d+)/.exec(line)?.[1];
    if (/--json/.test(line) && seed !== undefined) assert.equal((JSON.parse(run.stdout) as { seed: number }).seed, Number(seed));
  }
  // Every kind of command the README shows was reached (a README edit that drops a block fails here, not silently).
  for (const expected of [/^npm install && npm start/, /curl .*healthz/, /^TOKEN=/, /-X POST/, /\/video\b/, /t2v model pull/, /t2v model verify/, /^MODEL_DIR=/, /t2v generate/]) {
    assert.ok(ran.some((line) => expected.test(line)), `no README command matched ${expected}`);
  }

  const scripts = await shell('npm install-scripts ls');
  assert.match(scripts.stdout, /No packages with unreviewed install scripts/, 'every dependency install script is declared in allowScripts');
});

/** The demo model the first start generated, as a hub repository's files. */
async function demoModelFiles(repo: string): Promise<FakeRepoFile[]> {
  const demoDir = join(repo, 'data', 'models', 'demo');
  const files: FakeRepoFile[] = [];
  for (const path of (await readdir(demoDir, { recursive: true })).map(String).sort()) {
    if (!/\.(json|txt|safetensors)$/.test(path) || path.startsWith('t2v-')) continue;
    files.push({ path, content: await readFile(join(demoDir, path)), lfs: path.endsWith('.safetensors') });
  }
  return files;
}
