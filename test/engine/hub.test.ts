import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pullModel, type PullModelOptions, type PullProgress } from '../../src/engine/hub/pull_model.js';
import { HubError, type HubErrorCode } from '../../src/engine/hub/hub_errors.js';
import { listModels, MANIFEST_NAME, verifyModelFolder } from '../../src/engine/hub/manifest.js';
import { safetensorsVariant, selectPipelineFiles } from '../../src/engine/hub/file_selection.js';
import type { RepoFile } from '../../src/engine/hub/hub_api.js';
import { FakeHub, type FakeRepo, type FakeRepoFile } from '../fakes/hub.js';

const REPO_ID = 'ali-vilab/text-to-video-ms-1.7b';
const COMMIT = 'a'.repeat(40);
const NEXT_COMMIT = 'b'.repeat(40);

/** Deterministic bytes, different per seed. */
function bytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

/** The layout of text-to-video-ms-1.7b: diffusers components plus the original checkpoints at the root. */
function t2vRepoFiles(seed = 1): FakeRepoFile[] {
  return [
    { path: '.gitattributes', content: Buffer.from('*.safetensors filter=lfs\n') },
    { path: 'README.md', content: Buffer.from('# text-to-video\n') },
    { path: 'VQGAN_autoencoder.pth', content: bytes(50_000, seed + 1), lfs: true },
    { path: 'text2video_pytorch_model.pth', content: bytes(60_000, seed + 2), lfs: true },
    {
      path: 'model_index.json',
      content: json({
        _class_name: 'TextToVideoSDPipeline',
        _diffusers_version: '0.15.0.dev0',
        scheduler: ['diffusers', 'DDIMScheduler'],
        text_encoder: ['transformers', 'CLIPTextModel'],
        tokenizer: ['transformers', 'CLIPTokenizer'],
        unet: ['diffusers', 'UNet3DConditionModel'],
        vae: ['diffusers', 'AutoencoderKL'],
      }),
    },
    { path: 'scheduler/scheduler_config.json', content: json({ _class_name: 'DDIMScheduler', seed }) },
    { path: 'text_encoder/config.json', content: json({ hidden_size: 1024, seed }) },
    { path: 'text_encoder/model.safetensors', content: bytes(40_000, seed + 3), lfs: true },
    { path: 'text_encoder/model.fp16.safetensors', content: bytes(20_000, seed + 4), lfs: true },
    { path: 'text_encoder/pytorch_model.bin', content: bytes(40_000, seed + 5), lfs: true },
    { path: 'tokenizer/merges.txt', content: Buffer.from('#version: 0.2\ni n\n') },
    { path: 'tokenizer/special_tokens_map.json', content: json({ pad_token: '!' }) },
    { path: 'tokenizer/tokenizer_config.json', content: json({ model_max_length: 77 }) },
    { path: 'tokenizer/vocab.json', content: json({ '!': 0 }) },
    { path: 'unet/config.json', content: json({ sample_size: 32, seed }) },
    { path: 'unet/diffusion_pytorch_model.safetensors', content: bytes(300_000, seed + 6), lfs: true },
    { path: 'unet/diffusion_pytorch_model.fp16.safetensors', content: bytes(150_000, seed + 7), lfs: true },
    { path: 'unet/diffusion_pytorch_model.bin', content: bytes(300_000, seed + 8), lfs: true },
    { path: 'vae/config.json', content: json({ latent_channels: 4, seed }) },
    { path: 'vae/diffusion_pytorch_model.safetensors', content: bytes(30_000, seed + 9), lfs: true },
    { path: 'vae/diffusion_pytorch_model.bin', content: bytes(30_000, seed + 10), lfs: true },
  ];
}

const FP16_FILES = [
  'model_index.json',
  'scheduler/scheduler_config.json',
  'text_encoder/config.json',
  'text_encoder/model.fp16.safetensors',
  'tokenizer/merges.txt',
  'tokenizer/special_tokens_map.json',
  'tokenizer/tokenizer_config.json',
  'tokenizer/vocab.json',
  'unet/config.json',
  'unet/diffusion_pytorch_model.fp16.safetensors',
  'vae/config.json',
  // No fp16 VAE in the repo: the plain weights, as diffusers does.
  'vae/diffusion_pytorch_model.safetensors',
];

interface Setup {
  hub: FakeHub;
  repo: FakeRepo;
  dir: string;
  dest: string;
  options: (extra?: Partial<PullModelOptions>) => PullModelOptions;
}

async function setup(repo: Partial<FakeRepo> = {}, extraRepos: FakeRepo[] = []): Promise<Setup> {
  const fullRepo: FakeRepo = { repoId: REPO_ID, commit: COMMIT, files: t2vRepoFiles(), ...repo };
  const hub = await FakeHub.start([fullRepo, ...extraRepos]);
  const dir = mkdtempSync(join(tmpdir(), 't2v-hub-test-'));
  const dest = join(dir, 'models', 'text-to-video-ms-1.7b');
  const endpoint = hub.endpoint;
  const options = (extra: Partial<PullModelOptions> = {}): PullModelOptions => ({
    dest,
    endpoint,
    token: undefined,
    retryBaseDelayMs: 1,
    ...extra,
  });
  return { hub, repo: fullRepo, dir, dest, options };
}

async function teardown(s: Setup): Promise<void> {
  await s.hub.close();
  rmSync(s.dir, { recursive: true, force: true });
}

/** Files under `dir`, relative, sorted. */
function treeOf(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as Array<{ isFile(): boolean; parentPath?: string; path?: string; name: string }>)
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath ?? e.path ?? '', e.name)))
    .sort();
}

function contentOf(repo: FakeRepo, path: string): Buffer {
  const file = repo.files.find((f) => f.path === path);
  assert.ok(file, path);
  return file.content;
}

function isHubError(code: HubErrorCode, message?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof HubError, `expected a HubError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  };
}

test('pulls the fp16 pipeline files by commit, verifies them and writes a manifest', async () => {
  const s = await setup();
  try {
    const progress: PullProgress[] = [];
    const result = await pullModel(s.options({ token: 'hf_secret', onProgress: (p) => progress.push(p) }));
    assert.equal(result.commit, COMMIT);
    assert.equal(result.variant, 'fp16');
    assert.equal(result.upToDate, false);
    assert.deepEqual(treeOf(s.dest), [...FP16_FILES, MANIFEST_NAME].sort());
    for (const path of FP16_FILES) assert.ok(readFileSync(join(s.dest, path)).equals(contentOf(s.repo, path)), path);
    assert.equal(result.bytes, FP16_FILES.reduce((sum, p) => sum + contentOf(s.repo, p).length, 0));
    assert.equal(result.downloadedBytes, result.bytes);

    // Nothing else was fetched: no .bin/.pth, no root checkpoints.
    const fetched = s.hub.requests.filter((r) => r.server === 'hub' && r.url.includes('/resolve/'));
    assert.deepEqual(fetched.map((r) => r.url.split(`/resolve/${COMMIT}/`)[1]).sort(), [...FP16_FILES].sort());
    // The token goes to the hub, never to the CDN.
    for (const r of s.hub.requests.filter((r) => r.server === 'hub')) assert.equal(r.headers.authorization, 'Bearer hf_secret');
    const cdn = s.hub.requests.filter((r) => r.server === 'cdn');
    assert.equal(cdn.length, 3);
    for (const r of cdn) assert.equal(r.headers.authorization, undefined);

    const manifest = JSON.parse(readFileSync(join(s.dest, MANIFEST_NAME), 'utf8')) as { repoId: string; commit: string; files: unknown[] };
    assert.deepEqual([manifest.repoId, manifest.commit, manifest.files.length], [REPO_ID, COMMIT, FP16_FILES.length]);
    assert.deepEqual(readdirSync(join(s.dir, 'models')), ['text-to-video-ms-1.7b'], 'no staging folder or lock left');

    assert.deepEqual(progress[0]?.phase, 'listing');
    assert.equal(progress.at(-1)?.phase, 'done');
    assert.equal(progress.at(-1)?.bytesDone, result.bytes);
    const downloading = progress.filter((p) => p.phase === 'downloading');
    assert.ok(downloading.every((p, i) => i === 0 || p.bytesDone >= (downloading[i - 1] as PullProgress).bytesDone));
    assert.ok(downloading.some((p) => p.bytesPerSecond > 0));
    assert.equal(downloading.at(-1)?.filesDone, FP16_FILES.length);

    const verified = await verifyModelFolder(s.dest);
    assert.deepEqual([verified.ok, verified.hashesChecked, verified.problems], [true, true, []]);
  } finally {
    await teardown(s);
  }
});

test('variant null selects the plain safetensors', async () => {
  const s = await setup();
  try {
    await pullModel(s.options({ variant: null }));
    const weights = treeOf(s.dest).filter((p) => p.endsWith('.safetensors'));
    assert.deepEqual(weights, ['text_encoder/model.safetensors', 'unet/diffusion_pytorch_model.safetensors', 'vae/diffusion_pytorch_model.safetensors']);
  } finally {
    await teardown(s);
  }
});

test('a connection cut mid-file is resumed with a Range request in the same pull', async () => {
  const s = await setup();
  try {
    const path = 'unet/diffusion_pytorch_model.fp16.safetensors';
    s.hub.cutAfter(path, 60_000);
    const result = await pullModel(s.options());
    assert.ok(readFileSync(join(s.dest, path)).equals(contentOf(s.repo, path)));
    const cdnRequests = s.hub.downloadsOf(path).filter((r) => r.server === 'cdn');
    assert.deepEqual(
      cdnRequests.map((r) => r.headers.range),
      [undefined, 'bytes=60000-'],
    );
    assert.equal(result.downloadedBytes, result.bytes, 'no byte fetched twice');
  } finally {
    await teardown(s);
  }
});

test('an interrupted pull leaves no model folder, and the next run resumes the partial file', async () => {
  const s = await setup();
  try {
    const path = 'unet/diffusion_pytorch_model.fp16.safetensors';
    s.hub.cutAfter(path, 70_000, 2);
    await assert.rejects(pullModel(s.options({ retries: 1 })), isHubError('network', /broke off at \d+ of 150000 bytes[\s\S]*Run the pull again/));
    assert.equal(existsSync(s.dest), false);
    const partial = `${s.dest}.partial/${path}.partial`;
    const partialBytes = statSync(partial).size;
    assert.ok(partialBytes >= 70_000 && partialBytes < 150_000, `partial file of ${partialBytes} bytes`);
    const finishedBytes = treeOf(`${s.dest}.partial`)
      .filter((p) => !p.endsWith('.partial') && !p.startsWith('.'))
      .reduce((sum, p) => sum + contentOf(s.repo, p).length, 0);

    const result = await pullModel(s.options());
    assert.ok(readFileSync(join(s.dest, path)).equals(contentOf(s.repo, path)));
    assert.equal(s.hub.downloadsOf(path).filter((r) => r.server === 'cdn').at(-1)?.headers.range, `bytes=${partialBytes}-`);
    assert.equal(result.downloadedBytes, result.bytes - finishedBytes - partialBytes, 'finished files and the partial file were not fetched again');
    assert.equal(existsSync(`${s.dest}.partial`), false);
  } finally {
    await teardown(s);
  }
});

test('a download that stalls is cut and resumed', async () => {
  const s = await setup();
  try {
    const path = 'text_encoder/model.fp16.safetensors';
    s.hub.stallAfter(path, 5_000);
    await pullModel(s.options({ stallTimeoutMs: 200 }));
    assert.ok(readFileSync(join(s.dest, path)).equals(contentOf(s.repo, path)));
    assert.equal(s.hub.downloadsOf(path).filter((r) => r.server === 'cdn').at(-1)?.headers.range, 'bytes=5000-');
  } finally {
    await teardown(s);
  }
});

test('a file whose sha256 does not match is rejected and deleted', async () => {
  const s = await setup();
  try {
    const path = 'unet/diffusion_pytorch_model.fp16.safetensors';
    s.hub.corrupt(path);
    await assert.rejects(pullModel(s.options()), isHubError('integrity', /unet\/diffusion_pytorch_model\.fp16\.safetensors[\s\S]*sha256/));
    assert.equal(existsSync(s.dest), false);
    assert.equal(existsSync(`${s.dest}.partial/${path}.partial`), false);
    assert.equal(existsSync(`${s.dest}.partial/${path}`), false);
  } finally {
    await teardown(s);
  }
});

test('a regular file is checked against its git blob sha1', async () => {
  const s = await setup();
  try {
    s.hub.corrupt('unet/config.json');
    await assert.rejects(pullModel(s.options()), isHubError('integrity', /unet\/config\.json[\s\S]*git blob sha1/));
    assert.equal(existsSync(s.dest), false);
  } finally {
    await teardown(s);
  }
});

test('private repository: 401 without a token names HF_TOKEN; the token header opens it', async () => {
  const s = await setup({ private: true, tokens: ['hf_good'] });
  try {
    await assert.rejects(pullModel(s.options()), isHubError('unauthorized', /not found[\s\S]*private[\s\S]*HF_TOKEN/));
    await assert.rejects(pullModel(s.options({ token: 'hf_bad' })), isHubError('unauthorized', /HF_TOKEN is valid/));
    const result = await pullModel(s.options({ token: 'hf_good' }));
    assert.equal(result.files, FP16_FILES.length);
    assert.equal(s.hub.requests.at(-1)?.headers.authorization, undefined, 'the last request went to the CDN without the token');
  } finally {
    await teardown(s);
  }
});

test('gated repository: 401/403 GatedRepo say to accept the terms and set HF_TOKEN', async () => {
  const s = await setup({ gated: true, tokens: ['hf_granted'] });
  try {
    await assert.rejects(pullModel(s.options()), isHubError('gated', /Accept its terms at .*ali-vilab\/text-to-video-ms-1\.7b[\s\S]*HF_TOKEN/));
    await assert.rejects(pullModel(s.options({ token: 'hf_other' })), (error: unknown) => {
      assert.ok(error instanceof HubError && error.code === 'gated' && error.status === 403);
      assert.match(error.message, /current HF_TOKEN has no access/);
      return true;
    });
    assert.equal((await pullModel(s.options({ token: 'hf_granted' }))).upToDate, false);
  } finally {
    await teardown(s);
  }
});

test('unknown revision is 404, unknown repository is reported as not found or private', async () => {
  const s = await setup();
  try {
    await assert.rejects(pullModel(s.options({ revision: 'v9' })), isHubError('not_found', /revision "v9" does not exist/));
    await assert.rejects(pullModel(s.options({ repoId: 'nobody/nothing' })), isHubError('unauthorized', /nobody\/nothing was not found/));
    await assert.rejects(pullModel(s.options({ repoId: '../etc' })), /invalid repo id/);
  } finally {
    await teardown(s);
  }
});

test('5xx answers are retried; an unreachable hub fails with a network error after the retries', async () => {
  const s = await setup();
  try {
    s.hub.failWith('model_index.json', 503, 2);
    await pullModel(s.options({ retries: 2 }));
    assert.equal(s.hub.downloadsOf('model_index.json').length, 3);

    const closedPort = s.hub.endpoint;
    await s.hub.close();
    await assert.rejects(
      pullModel(s.options({ dest: join(s.dir, 'other'), endpoint: closedPort, retries: 2 })),
      isHubError('network', /after 3 attempts[\s\S]*HF_ENDPOINT/),
    );
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('an up-to-date model is not downloaded again; a new commit replaces it whole', async () => {
  const s = await setup({ refs: { main: COMMIT } });
  try {
    await pullModel(s.options());
    const before = s.hub.requests.length;
    const again = await pullModel(s.options());
    assert.equal(again.upToDate, true);
    assert.deepEqual(
      s.hub.requests.slice(before).map((r) => r.url),
      [`/api/models/${REPO_ID}/revision/main?blobs=true`],
    );

    // The branch moves to a commit whose unet has no fp16 weights any more.
    s.repo.commit = NEXT_COMMIT;
    s.repo.refs = { main: NEXT_COMMIT };
    s.repo.files = t2vRepoFiles(7).filter((f) => f.path !== 'unet/diffusion_pytorch_model.fp16.safetensors');
    const updated = await pullModel(s.options());
    assert.equal(updated.commit, NEXT_COMMIT);
    assert.ok(treeOf(s.dest).includes('unet/diffusion_pytorch_model.safetensors'));
    assert.ok(!treeOf(s.dest).includes('unet/diffusion_pytorch_model.fp16.safetensors'), 'no file of the old commit is left');
    assert.ok(readFileSync(join(s.dest, 'unet/config.json')).equals(contentOf(s.repo, 'unet/config.json')));
    assert.deepEqual(readdirSync(join(s.dir, 'models')), ['text-to-video-ms-1.7b']);
  } finally {
    await teardown(s);
  }
});

test('aborting stops the download; the next run resumes', async () => {
  const s = await setup();
  try {
    const controller = new AbortController();
    const path = 'unet/diffusion_pytorch_model.fp16.safetensors';
    s.hub.stallAfter(path, 10_000);
    const pulling = pullModel(
      s.options({
        signal: controller.signal,
        onProgress: (p) => {
          if (p.file === path) controller.abort();
        },
      }),
    );
    await assert.rejects(pulling, { name: 'AbortError' });
    assert.equal(existsSync(s.dest), false);
    await pullModel(s.options());
    assert.ok(readFileSync(join(s.dest, path)).equals(contentOf(s.repo, path)));
  } finally {
    await teardown(s);
  }
});

test('a destination that a pull did not create is never overwritten', async () => {
  const s = await setup();
  try {
    mkdirSync(s.dest, { recursive: true });
    writeFileSync(join(s.dest, 'notes.txt'), 'mine');
    await assert.rejects(pullModel(s.options()), isHubError('destination_exists', /was not created by a pull/));
    assert.equal(readFileSync(join(s.dest, 'notes.txt'), 'utf8'), 'mine');
  } finally {
    await teardown(s);
  }
});

test('repositories that are not diffusers pipelines with safetensors are refused', async () => {
  const noIndex: FakeRepo = { repoId: 'someone/checkpoint-only', commit: COMMIT, files: [{ path: 'model.ckpt', content: bytes(100, 1), lfs: true }] };
  const binOnly: FakeRepo = {
    repoId: 'someone/bin-only',
    commit: COMMIT,
    files: t2vRepoFiles().filter((f) => !(f.path.startsWith('unet/') && f.path.endsWith('.safetensors'))),
  };
  const s = await setup({}, [noIndex, binOnly]);
  try {
    await assert.rejects(pullModel(s.options({ repoId: noIndex.repoId })), isHubError('unsupported_repo', /no model_index\.json/));
    await assert.rejects(pullModel(s.options({ repoId: binOnly.repoId })), isHubError('unsupported_repo', /"unet" has no \.safetensors weights \(found diffusion_pytorch_model\.bin\)/));
  } finally {
    await teardown(s);
  }
});

test('verifyModelFolder finds changed and missing files; listModels lists pulled and hand-made folders', async () => {
  const s = await setup();
  try {
    await pullModel(s.options());
    const vae = join(s.dest, 'vae/diffusion_pytorch_model.safetensors');
    const changed = readFileSync(vae);
    changed[0] = (changed[0] as number) ^ 1;
    writeFileSync(vae, changed);
    rmSync(join(s.dest, 'tokenizer/vocab.json'));
    const result = await verifyModelFolder(s.dest);
    assert.equal(result.ok, false);
    assert.deepEqual(
      result.problems.map((p) => [p.path, p.problem]),
      [
        ['tokenizer/vocab.json', 'missing'],
        ['vae/diffusion_pytorch_model.safetensors', 'hash'],
      ],
    );
    const quick = await verifyModelFolder(s.dest, { hashes: false });
    assert.deepEqual([quick.hashesChecked, quick.problems.length], [false, 1]);

    const models = join(s.dir, 'models');
    mkdirSync(join(models, 'hand-made', 'unet'), { recursive: true });
    writeFileSync(join(models, 'hand-made', 'model_index.json'), JSON.stringify({ unet: ['diffusers', 'UNet3DConditionModel'], vae: ['diffusers', 'AutoencoderKL'] }));
    writeFileSync(join(models, 'hand-made', 'unet', 'config.json'), '{}');
    mkdirSync(join(models, 'half.partial'));
    writeFileSync(join(models, 'half.partial', 'model_index.json'), '{}');
    const listed = await listModels(models);
    assert.deepEqual(
      listed.map((m) => [m.name, m.manifest?.commit ?? null]),
      [
        ['hand-made', null],
        ['text-to-video-ms-1.7b', COMMIT],
      ],
    );
    const handMade = await verifyModelFolder(join(models, 'hand-made'));
    assert.deepEqual(
      [handMade.hashesChecked, handMade.problems.map((p) => p.detail)],
      [false, ['folder vae/ named in model_index.json is missing']],
    );
    assert.deepEqual(await listModels(join(s.dir, 'nowhere')), []);
  } finally {
    await teardown(s);
  }
});

test('selectPipelineFiles: sharded variant weights bring their index; variant names parse', () => {
  const file = (path: string): RepoFile => ({ path, size: 1, sha256: null, gitBlobSha1: null });
  const files = [
    'model_index.json',
    'unet/config.json',
    'unet/diffusion_pytorch_model.fp16-00001-of-00002.safetensors',
    'unet/diffusion_pytorch_model.fp16-00002-of-00002.safetensors',
    'unet/diffusion_pytorch_model.safetensors.index.fp16.json',
    'unet/diffusion_pytorch_model-00001-of-00002.safetensors',
    'unet/diffusion_pytorch_model-00002-of-00002.safetensors',
    'unet/diffusion_pytorch_model.safetensors.index.json',
    'unet/onnx/model.onnx',
  ].map(file);
  const modelIndex = { _class_name: 'X', unet: ['diffusers', 'UNet3DConditionModel'], safety_checker: [null, null] };
  assert.deepEqual(
    selectPipelineFiles(files, modelIndex, 'fp16').map((f) => f.path),
    [
      'model_index.json',
      'unet/config.json',
      'unet/diffusion_pytorch_model.fp16-00001-of-00002.safetensors',
      'unet/diffusion_pytorch_model.fp16-00002-of-00002.safetensors',
      'unet/diffusion_pytorch_model.safetensors.index.fp16.json',
    ],
  );
  assert.deepEqual(
    selectPipelineFiles(files, modelIndex, null).map((f) => f.path).slice(2),
    ['unet/diffusion_pytorch_model-00001-of-00002.safetensors', 'unet/diffusion_pytorch_model-00002-of-00002.safetensors', 'unet/diffusion_pytorch_model.safetensors.index.json'],
  );
  assert.equal(safetensorsVariant('model.fp16.safetensors'), 'fp16');
  assert.equal(safetensorsVariant('model-00001-of-00003.safetensors'), null);
  assert.equal(safetensorsVariant('model.bf16-00002-of-00003.safetensors'), 'bf16');
});
