// `t2v generate` and `t2v model pull|list|verify` run as child processes with the built-in demo model, as a user
// or a script runs them: outputs checked with ffprobe, summaries parsed from stdout, exit codes (docs/cli.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listReferenceCases } from '../../src/engine/reference_cases.js';
import { encodeSafetensors, SafetensorsFile } from '../../src/engine/weights/safetensors.js';
import { FakeHub, type FakeRepoFile } from '../fakes/hub.js';
import { ffprobe } from '../support/ffprobe.js';
import { runNode, type NodeRun, type RunNodeOptions } from '../support/run-node.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
/** The goldens folder: a diffusers model folder that also holds reference cases. */
const GOLDENS = fileURLToPath(new URL('../fixtures/goldens', import.meta.url));
const TSX = import.meta.resolve('tsx');
const work = await mkdtemp(join(tmpdir(), 't2v-cli-test-'));
const dataDir = join(work, 'data');
test.after(() => rm(work, { recursive: true, force: true }));

/** Runs `t2v ...args` in `work` (no .env there) with a clean environment plus `env`; `preload` goes before the CLI. */
function t2v(args: string[], env: Record<string, string> = {}, onStderr?: RunNodeOptions['onStderr'], preload: string[] = []): Promise<NodeRun> {
  return runNode(['--import', TSX, ...preload, MAIN, ...args], {
    cwd: work,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATA_DIR: dataDir, ENGINE_THREADS: '2', ENGINE_DEVICE: 'cpu', ...env },
    onStderr,
  });
}

test('generate writes an H.264 MP4 and a JSON summary; the same seed gives the same frames', async () => {
  const args = ['generate', 'a panda playing guitar on a boat', '--frames', '6', '--width', '96', '--height', '64', '--steps', '3', '--seed', '1234', '--fps', '12', '--json'];
  const first = await t2v([...args, '-o', 'out/first.mp4', '--frames-dir', 'frames1']);
  assert.equal(first.code, 0, first.stderr);
  const summary = JSON.parse(first.stdout) as Record<string, unknown>;
  assert.equal(summary.output, join(work, 'out/first.mp4'));
  assert.equal(summary.seed, 1234);
  assert.equal(summary.steps, 3);
  assert.equal(summary.demo, true);
  assert.equal(summary.device, 'cpu');
  assert.equal(typeof summary.secondsPerStep, 'number');
  assert.deepEqual(ffprobe(join(work, 'out/first.mp4')), { codec_name: 'h264', pix_fmt: 'yuv420p', width: 96, height: 64, r_frame_rate: '12/1', nb_read_frames: '6' });
  assert.match(first.stderr, /denoising/, 'progress on stderr');
  assert.match(first.stderr, /abstract noise/, 'the demo model is labelled');

  const second = await t2v([...args, '-o', 'out/second.mp4', '--frames-dir', 'frames2']);
  assert.equal(second.code, 0, second.stderr);
  const names = (await readdir(join(work, 'frames1'))).sort();
  assert.deepEqual(names, ['frame_0001.png', 'frame_0002.png', 'frame_0003.png', 'frame_0004.png', 'frame_0005.png', 'frame_0006.png']);
  for (const name of names) assert.deepEqual(await readFile(join(work, 'frames2', name)), await readFile(join(work, 'frames1', name)), name);
});

test('generate prints a readable summary with the seed it drew; one frame gives a PNG', async () => {
  const run = await t2v(['generate', 'a red car', '--frames', '1', '--width', '64', '--height', '64', '--steps', '2', '-o', 'still.png']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^Wrote .*still\.png \(64x64 image, [\d.]+ [KM]?B\)/m);
  assert.match(run.stdout, /^seed \d+ \| 2 steps in [\d.]+ s \([\d.]+ s\/step\)/m);
  assert.match(run.stdout, /DEMO: abstract noise/);
  const png = await readFile(join(work, 'still.png'));
  assert.equal(png.subarray(1, 4).toString(), 'PNG');
  assert.equal(png.readUInt32BE(16), 64);
});

test('generate --latents takes frames and size from the file, and reports no seed', async () => {
  const latents = Float32Array.from({ length: 1 * 4 * 3 * 8 * 10 }, (_, i) => Math.sin(i));
  await writeFile(join(work, 'noise.safetensors'), encodeSafetensors({ latents: { dtype: 'F32', shape: [1, 4, 3, 8, 10], data: latents } }));
  const run = await t2v(['generate', 'x', '--latents', 'noise.safetensors', '--steps', '2', '--guidance', '1', '-o', 'from-latents.mp4', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const summary = JSON.parse(run.stdout) as Record<string, unknown>;
  assert.deepEqual([summary.frames, summary.width, summary.height, summary.seed], [3, 80, 64, null]);
  assert.equal(ffprobe(join(work, 'from-latents.mp4')).nb_read_frames, '3');

  const mismatch = await t2v(['generate', 'x', '--latents', 'noise.safetensors', '--frames', '4', '-o', 'm.mp4']);
  assert.equal(mismatch.code, 2);
  assert.match(mismatch.stderr, /--frames 4 does not match the latents in noise\.safetensors \(shape \[1, 4, 3, 8, 10\] means --frames 3\)/);
});

test('usage errors exit 2 naming the allowed values, before any model is loaded', async () => {
  const cases: [string[], RegExp][] = [
    [['generate', 'x', '-o', 'a.mp4', '--frames', '0'], /frames must be a whole number from 1 to 256/],
    [['generate', 'x', '-o', 'a.mp4', '--width', '100'], /width must be a whole number from 64 to 2048, a multiple of 8/],
    [['generate', 'x', '-o', 'a.mp4', '--guidance', 'lots'], /guidance must be a number from 1 to 30/],
    [['generate', 'x', '-o', 'a.mp4', '--seed', '1', '--latents', 'noise.safetensors'], /cannot be used with option '--latents/],
    [['generate', 'x', '-o', 'a.png'], /the output is an MP4 video: name it \*\.mp4/],
    [['generate', 'x', '-o', 'a.mp4', '--device', 'tpu'], /Allowed choices are auto, cuda, cpu/],
    [['generate', 'x', '-o', 'a.mp4', '--latents', 'missing.safetensors'], /missing\.safetensors: cannot open/],
    [['generate', 'x'], /required option '-o, --output <file>' not specified/],
    [['model', 'verify'], /no folder given and MODEL_DIR is not set/],
    [['model', 'verify', GOLDENS, '--cases', 'no-such-cases'], /--cases .*no-such-cases is not a folder/],
    [['model', 'verify', GOLDENS, '--run', '--dtype', 'bf16'], /Allowed choices are float32, float16/],
  ];
  for (const [args, message] of cases) {
    const run = await t2v(args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, message, args.join(' '));
  }
  const badEnv = await t2v(['generate', 'x', '-o', 'a.mp4'], { ENGINE_DEVICE: 'gpu' });
  assert.equal(badEnv.code, 2);
  assert.match(badEnv.stderr, /ENGINE_DEVICE must be one of auto, cuda, cpu/);
});

test('a missing model exits 3; ENGINE_DEVICE=cuda without the CUDA provider exits 4 with the install command', async () => {
  const missing = await t2v(['generate', 'x', '-o', 'a.mp4', '--model', 'no-such-model']);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /model folder .*no-such-model does not exist/);
  const cuda = await t2v(['generate', 'x', '-o', 'a.mp4', '--frames', '2', '--width', '64', '--height', '64', '--steps', '1'], { ENGINE_DEVICE: 'cuda' });
  assert.equal(cuda.code, 4);
  assert.match(cuda.stderr, /ENGINE_DEVICE=cuda, but .*`npm run setup:cuda`/);
  assert.equal(existsSync(join(work, 'a.mp4')), false);
});

test('Ctrl-C during denoising exits 130 and leaves no output file', async () => {
  let sent = false;
  const run = await t2v(['generate', 'x', '--frames', '16', '--steps', '100', '-o', 'interrupted.mp4'], {}, (stderr, child) => {
    if (!sent && /denoising/.test(stderr)) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  assert.ok(sent, run.stderr);
  assert.equal(run.code, 130, run.stderr);
  assert.match(run.stderr, /interrupted; nothing was written/);
  assert.equal(existsSync(join(work, 'interrupted.mp4')), false);
});

test('model pull from a hub, list, verify (files and tensors), then generate with the pulled model', async () => {
  // The demo model (generated by the tests above) published on a fake hub.
  const demoDir = join(dataDir, 'models', 'demo');
  const files: FakeRepoFile[] = [];
  for (const path of (await readdir(demoDir, { recursive: true })).map(String).sort()) {
    if (!/\.(json|txt|safetensors)$/.test(path) || path.startsWith('t2v-')) continue;
    files.push({ path: relative(demoDir, join(demoDir, path)), content: await readFile(join(demoDir, path)), lfs: path.endsWith('.safetensors') });
  }
  const hub = await FakeHub.start([{ repoId: 'someone/tiny-t2v', commit: 'c'.repeat(40), files }]);
  try {
    const pull = await t2v(['model', 'pull', 'someone/tiny-t2v', '--variant', 'fp32'], { HF_ENDPOINT: hub.endpoint });
    assert.equal(pull.code, 0, pull.stderr);
    const dest = join(dataDir, 'models', 'tiny-t2v');
    assert.match(pull.stdout, new RegExp(`Downloaded .*someone/tiny-t2v @ cccccccccccc \\(fp32, ${files.length} files, .*\\) in ${dest}`));
    assert.match(pull.stderr, /download/);

    const again = await t2v(['model', 'pull', 'someone/tiny-t2v', '--variant', 'fp32'], { HF_ENDPOINT: hub.endpoint });
    assert.match(again.stdout, /^Already up to date/);

    const unknown = await t2v(['model', 'pull', 'someone/nothing'], { HF_ENDPOINT: hub.endpoint });
    assert.equal(unknown.code, 3, unknown.stderr);

    const list = await t2v(['model', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const listed = list.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      listed.map((m) => [m.name, m.repoId, m.demo, m.current]),
      [
        ['demo', null, true, true],
        ['tiny-t2v', 'someone/tiny-t2v', false, false],
      ],
    );

    const verify = await t2v(['model', 'verify', dest, '--run']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /files: \d+ present, sizes and sha256 match the manifest/);
    assert.match(verify.stdout, /unet\/diffusion_pytorch_model\.safetensors: 950 tensors, [\d,]+ parameters match config\.json/);
    // --run: the demo-sized networks on smoke inputs (text encoder 32 wide, UNet out 4 channels, VAE x8).
    assert.match(verify.stdout, /text_encoder \(float32\) on smoke inputs: \[1, 77, 32\] in [\d.]+ s, finite values/);
    assert.match(verify.stdout, /unet \(float32\) on smoke inputs: \[2, 4, 4, 16, 16\] in [\d.]+ s, finite values/);
    assert.match(verify.stdout, /vae_decoder \(float32\) on smoke inputs: \[1, 3, 128, 128\] in [\d.]+ s, finite values/);

    const generate = await t2v(['generate', 'x', '--frames', '2', '--width', '64', '--height', '64', '--steps', '1', '-o', 'pulled.mp4', '--json'], { MODEL_DIR: dest });
    assert.equal(generate.code, 0, generate.stderr);
    assert.deepEqual([(JSON.parse(generate.stdout) as Record<string, unknown>).model, (JSON.parse(generate.stdout) as Record<string, unknown>).demo], [dest, false]);

    // A config that no longer matches the weights: verify names the tensor and exits 3.
    const configPath = join(dest, 'unet', 'config.json');
    const config = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
    await writeFile(configPath, JSON.stringify({ ...config, cross_attention_dim: 48 }));
    const broken = await t2v(['model', 'verify', dest, '--no-hashes']);
    assert.equal(broken.code, 3);
    assert.match(broken.stdout, /PROBLEM unet\/config\.json: \d+ bytes instead of \d+/);
    assert.match(broken.stdout, /PROBLEM unet\/diffusion_pytorch_model\.safetensors: .*tensor down_blocks\.0\.attentions\.0\.transformer_blocks\.0\.attn2\.to_k\.weight has shape \[8,32\], expected \[8,48\]/);
    assert.match(broken.stdout, /NOT OK/);
    const brokenRun = await t2v(['model', 'verify', dest, '--no-hashes', '--run']);
    assert.equal(brokenRun.code, 3);
    assert.match(brokenRun.stdout, /run: skipped, the files and weights must check first/);
  } finally {
    await hub.close();
  }
});

test('model verify --cases runs every reference case of a goldens-format folder through the built graphs', async () => {
  const names = (await Promise.all((['text_encoder', 'unet', 'vae_decoder'] as const).map((n) => listReferenceCases(GOLDENS, n)))).flat().map((c) => [c.network, c.name]);
  assert.ok(names.length >= 3);
  const run = await t2v(['model', 'verify', GOLDENS, '--cases', GOLDENS]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  for (const [network, name] of names) {
    assert.match(run.stdout, new RegExp(`${network} \\(float32\\) on case ${name}: max abs error [\\d.]+e-\\d+ within 1\\.00e-4 \\(reference abs max [\\d.]+\\)`), `${network} case ${name}`);
  }
  assert.match(run.stdout, /unet \(float32\) on smoke inputs: \[2, 4, 4, 16, 16\]/);
  assert.match(run.stdout, /^OK$/m);
});

test('model verify --cases names a case the graph misses, a case it cannot read, and a folder without cases', async () => {
  const cases = join(work, 'cases');
  await mkdir(join(cases, 'unet'), { recursive: true });
  const golden = await SafetensorsFile.open(join(GOLDENS, 'unet', 'case_b_b1_f1_8x8_t1.safetensors'));
  const tensors: Parameters<typeof encodeSafetensors>[0] = {};
  for (const name of ['sample', 'timestep', 'encoder_hidden_states', 'noise_pred']) {
    const info = golden.info(name);
    tensors[name] = { dtype: info.dtype, shape: info.shape, data: info.dtype === 'I64' ? await golden.readInt64(name) : await golden.readFloat32(name) };
  }
  await golden.close();
  (tensors.noise_pred!.data as Float32Array)[5]! += 1e-3;
  await writeFile(join(cases, 'unet', 'case_moved.safetensors'), encodeSafetensors(tensors));
  const { noise_pred: _, ...inputs } = tensors;
  await writeFile(join(cases, 'unet', 'case_no_output.safetensors'), encodeSafetensors(inputs));
  const run = await t2v(['model', 'verify', GOLDENS, '--cases', cases]);
  assert.equal(run.code, 3, run.stdout + run.stderr);
  assert.match(run.stdout, /PROBLEM unet \(float32\) on case moved: max abs error 1\.0\de-3 is over the tolerance 1\.00e-4/);
  assert.match(run.stdout, /PROBLEM unet \(float32\) on case no_output: .*case_no_output\.safetensors: no tensor named noise_pred/);
  assert.match(run.stdout, /NOT OK/);

  const empty = join(work, 'no-cases');
  await mkdir(empty);
  const none = await t2v(['model', 'verify', GOLDENS, '--cases', empty]);
  assert.equal(none.code, 3);
  assert.match(none.stdout, /PROBLEM --cases .*no-cases: no reference cases/);
});

test('serve without the SQLite binding or the Prisma client stops with one sentence naming the command that fixes it', async () => {
  const env = { PORT: '0' };
  const noBinding = await t2v(['serve'], env, undefined, ['--require', fileURLToPath(new URL('../support/no-sqlite-binding.cjs', import.meta.url))]);
  assert.equal(noBinding.code, 1);
  assert.equal(noBinding.stdout, '');
  assert.match(noBinding.stderr, /^t2v: The SQLite driver better-sqlite3 has no native binding for this Node\.js .*: run `npm rebuild better-sqlite3`, then start again\.\n$/);

  const noClient = await t2v(['serve'], env, undefined, ['--import', fileURLToPath(new URL('../support/no-prisma-client.mjs', import.meta.url))]);
  assert.equal(noClient.code, 1);
  assert.equal(noClient.stdout, '');
  assert.equal(noClient.stderr, 't2v: The Prisma client for sqlite has not been generated: run `npm run db:generate`, then start again.\n');
});

test('worker refuses SQLite with one sentence: workers coordinate through Postgres', async () => {
  const run = await t2v(['worker']);
  assert.equal(run.code, 2);
  assert.equal(run.stdout, '');
  assert.equal(
    run.stderr,
    'Invalid configuration:\n  - DATABASE_URL is a SQLite file, but `t2v worker` needs Postgres: workers on several hosts coordinate through one Postgres database. With SQLite, run one `t2v serve`, which renders too.\n',
  );
});
