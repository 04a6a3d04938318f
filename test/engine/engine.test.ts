// The engine: background loading with status, the demo model end to end through the Renderer port, device
// selection (auto/cuda/cpu with an injected CUDA probe and simulated CUDA session failures), model errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RenderProgress } from '../../src/core/ports.js';
import { loadConfig } from '../../src/config.js';
import { CUDA_PROVIDER_LIBRARIES, onnxruntimeBinDir, planDevice, probeCudaProvider, SETUP_CUDA_COMMAND } from '../../src/engine/device.js';
import { existsSync } from 'node:fs';
import { Engine, EngineLoadError, type EngineOptions } from '../../src/engine/engine.js';
import { OrtSessionError } from '../../src/engine/onnx/session.js';
import { TextToVideoSDPipeline } from '../../src/engine/pipelines/text_to_video_synthesis/pipeline_text_to_video_synth.js';
import { createLogger } from '../../src/log.js';
import { loadEngine } from '../../src/main.js';
import { ffprobe } from '../support/ffprobe.js';

const dataDir = await mkdtemp(join(tmpdir(), 't2v-engine-test-'));
test.after(() => rm(dataDir, { recursive: true, force: true }));

function collectingLogger(): { logger: ReturnType<typeof createLogger>; lines: () => { level: number; msg: string }[] } {
  const out: string[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => void out.push(line) } });
  return { logger, lines: () => out.map((l) => JSON.parse(l) as { level: number; msg: string }) };
}

function options(overrides: Partial<EngineOptions> = {}): EngineOptions {
  return { modelDir: '', dataDir, device: 'cpu', deviceId: 0, threads: 2, ffmpegPath: '', logger: collectingLogger().logger, ...overrides };
}

test('the demo engine loads in the background, says it renders noise, and renders MP4 and PNG through the Renderer port', async () => {
  const { logger, lines } = collectingLogger();
  const engine = Engine.start(options({ logger }));
  try {
    assert.equal(engine.status().ready, false, 'start() returns before loading finishes');
    assert.match(engine.status().message ?? '', /loading/);
    const status = await engine.whenReady();
    assert.equal(status.ready, true);
    assert.equal(status.demo, true);
    assert.equal(status.device, 'cpu');
    assert.equal(status.executionProvider, 'CPUExecutionProvider');
    assert.match(status.message ?? '', /abstract noise/);
    assert.ok(lines().some((l) => /abstract noise/.test(l.msg) && l.level === 40), 'a warning in the log');

    const outputDir = await mkdtemp(join(dataDir, 'job-'));
    const progress: RenderProgress[] = [];
    const params = { prompt: 'a panda', negativePrompt: '', frames: 4, width: 64, height: 96, steps: 3, guidance: 9, seed: 7, fps: 8 };
    const video = await engine.render(params, { outputDir, onProgress: (p) => progress.push(p) });
    assert.equal(video.mediaType, 'video/mp4');
    assert.equal(video.bytes, (await stat(video.mediaPath)).size);
    assert.ok(video.gpuSeconds > 0);
    assert.ok((await stat(video.posterPath)).size > 0);
    const stream = ffprobe(video.mediaPath);
    assert.deepEqual([stream.codec_name, stream.pix_fmt, stream.width, stream.height, stream.r_frame_rate, stream.nb_read_frames], ['h264', 'yuv420p', 64, 96, '8/1', '4']);
    assert.deepEqual(
      progress.filter((p) => p.step < p.totalSteps).map((p) => p.step),
      [1, 2],
    );
    assert.ok(progress.every((p) => p.totalSteps === 3 && p.etaMs !== null && p.elapsedMs >= 0));

    // The same seed gives the same frames (the poster is the first frame, losslessly).
    const again = await mkdtemp(join(dataDir, 'job-'));
    const second = await engine.render(params, { outputDir: again });
    assert.deepEqual(await readFile(second.posterPath), await readFile(video.posterPath));

    const imageDir = await mkdtemp(join(dataDir, 'job-'));
    const image = await engine.render({ ...params, frames: 1 }, { outputDir: imageDir });
    assert.equal(image.mediaType, 'image/png');
    assert.equal(image.mediaPath, image.posterPath);
    assert.deepEqual([...(await readFile(image.mediaPath)).subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG');
  } finally {
    await engine.close();
  }
});

test('an aborted render rejects with an AbortError', async () => {
  const engine = Engine.start(options());
  try {
    await engine.whenReady();
    const controller = new AbortController();
    const outputDir = await mkdtemp(join(dataDir, 'job-'));
    await assert.rejects(
      engine.render(
        { prompt: 'x', negativePrompt: '', frames: 2, width: 64, height: 64, steps: 10, guidance: 9, seed: 1, fps: 8 },
        { outputDir, signal: controller.signal, onProgress: (p) => p.step === 1 && controller.abort({ kind: 'cancel' }) },
      ),
      (e: unknown) => e instanceof DOMException && e.name === 'AbortError',
    );
  } finally {
    await engine.close();
  }
});

test('planDevice: cpu, auto without the CUDA provider (CPU with the reason), cuda without it (the install command)', () => {
  assert.deepEqual(planDevice('cpu', null), { device: 'cpu' });
  assert.deepEqual(planDevice('cpu', 'no provider'), { device: 'cpu' });
  assert.deepEqual(planDevice('auto', null), { device: 'cuda', fallbackToCpu: true });
  assert.deepEqual(planDevice('cuda', null), { device: 'cuda', fallbackToCpu: false });
  const auto = planDevice('auto', 'libonnxruntime_providers_cuda.so missing');
  assert.equal(auto.device, 'cpu');
  assert.match(auto.device === 'cpu' ? (auto.reason ?? '') : '', /ENGINE_DEVICE=auto chose the CPU: libonnxruntime_providers_cuda.so missing.*npm run setup:cuda/);
  assert.throws(() => planDevice('cuda', 'libonnxruntime_providers_cuda.so missing'), (e: Error) => {
    assert.equal(e.name, 'EngineDeviceError');
    assert.ok(e.message.includes(`\`${SETUP_CUDA_COMMAND}\``), e.message);
    assert.match(e.message, /CUDA 12 and cuDNN 9/);
    return true;
  });
});

test('the CUDA probe answers from the provider libraries beside the onnxruntime-node binding', () => {
  const dir = onnxruntimeBinDir();
  assert.ok(existsSync(join(dir, 'onnxruntime_binding.node')), `binding in ${dir}`);
  const installed = CUDA_PROVIDER_LIBRARIES.every((name) => existsSync(join(dir, name)));
  const problem = probeCudaProvider();
  if (installed) assert.equal(problem, null);
  else assert.match(problem ?? '', new RegExp(`not installed \\(.*libonnxruntime_providers_.*missing in ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)`));
});

/** fromPretrained, except that CUDA sessions fail as they do without a usable GPU; records the dtype asked for. */
function cudaFails(dtypes: string[]): EngineOptions['loadPipeline'] {
  return async (modelDir, o) => {
    dtypes.push(`${o.sessionOptions.executionProvider}:${o.dtype}`);
    if (o.sessionOptions.executionProvider === 'cuda') {
      throw new OrtSessionError(join(modelDir, 'text_encoder.onnx'), 'cuda', 'libcudnn.so.9: cannot open shared object file');
    }
    return TextToVideoSDPipeline.fromPretrained(modelDir, o);
  };
}

test('auto with the CUDA provider present but unusable falls back to fp32 on the CPU and says why', async () => {
  const dtypes: string[] = [];
  const { logger, lines } = collectingLogger();
  const engine = Engine.start(options({ device: 'auto', logger, cudaProbe: () => null, loadPipeline: cudaFails(dtypes) }));
  try {
    const status = await engine.whenReady();
    assert.deepEqual(dtypes, ['cuda:float16', 'cpu:float32']);
    assert.equal(status.device, 'cpu');
    assert.match(status.message ?? '', /ENGINE_DEVICE=auto fell back to the CPU: .*libcudnn\.so\.9/);
    assert.ok(lines().some((l) => l.level === 40 && /fell back to the CPU/.test(l.msg)));
  } finally {
    await engine.close();
  }
});

test('auto without the CUDA provider logs why it uses the CPU', async () => {
  const { logger, lines } = collectingLogger();
  const engine = Engine.start(options({ device: 'auto', logger, cudaProbe: () => 'the CUDA execution provider of onnxruntime-node is not installed' }));
  try {
    const status = await engine.whenReady();
    assert.equal(status.device, 'cpu');
    assert.match(status.message ?? '', /chose the CPU: the CUDA execution provider of onnxruntime-node is not installed/);
    assert.ok(lines().some((l) => /chose the CPU/.test(l.msg)));
  } finally {
    await engine.close();
  }
});

test('cuda fails at start: without the provider with the install command, with a broken CUDA with the ONNX Runtime error', async () => {
  const missing = Engine.start(options({ device: 'cuda', cudaProbe: () => 'the CUDA execution provider of onnxruntime-node is not installed' }));
  await assert.rejects(missing.whenReady(), /ENGINE_DEVICE=cuda, but the CUDA execution provider .* `npm run setup:cuda`/);
  assert.equal(missing.status().ready, false);
  assert.match(missing.status().message ?? '', /could not start: ENGINE_DEVICE=cuda/);
  await missing.close();

  const dtypes: string[] = [];
  const broken = Engine.start(options({ device: 'cuda', cudaProbe: () => null, loadPipeline: cudaFails(dtypes) }));
  await assert.rejects(broken.whenReady(), (e: unknown) => e instanceof EngineLoadError && e.kind === 'runtime' && /libcudnn/.test(e.message));
  assert.deepEqual(dtypes, ['cuda:float16'], 'no CPU fallback for an explicit cuda');
  await broken.close();
});

test('model problems fail the load with kind "model", naming the folder, file or tensor', async () => {
  const absent = Engine.start(options({ modelDir: join(dataDir, 'nope') }));
  await assert.rejects(absent.whenReady(), (e: unknown) => e instanceof EngineLoadError && e.kind === 'model' && /nope does not exist/.test(e.message));
  assert.equal(absent.status().demo, false);
  await absent.close();

  // The demo folder with a UNet config that asks for other tensors than its weights hold.
  const demo = Engine.start(options());
  await demo.whenReady();
  await demo.close();
  const broken = join(dataDir, 'broken-model');
  await cp(join(dataDir, 'models', 'demo'), broken, { recursive: true });
  const configPath = join(broken, 'unet', 'config.json');
  const config = JSON.parse(await readFile(configPath, 'utf8')) as { layers_per_block: number };
  await writeFile(configPath, JSON.stringify({ ...config, layers_per_block: 2 }));
  const mismatched = Engine.start(options({ modelDir: broken }));
  await assert.rejects(mismatched.whenReady(), (e: unknown) => e instanceof EngineLoadError && e.kind === 'model' && /missing tensor down_blocks\.0\.resnets\.1\./.test(e.message));
  assert.match(mismatched.status().message ?? '', /diffusion_pytorch_model\.safetensors/);
  await mismatched.close();
});

test('the service composition root loads this engine through createEngine', async () => {
  const config = loadConfig({ DATA_DIR: dataDir, ENGINE_DEVICE: 'cpu', ENGINE_THREADS: '2' });
  const renderer = await loadEngine(config, collectingLogger().logger);
  assert.ok(renderer instanceof Engine);
  try {
    const status = await renderer.whenReady();
    assert.equal(status.demo, true);
    assert.equal(status.ready, true);
  } finally {
    await renderer.close();
  }
});
