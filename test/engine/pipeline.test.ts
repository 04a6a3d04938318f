// TextToVideoSDPipeline against the diffusers 0.26.3 pipeline goldens (the goldens folder's pipeline/, README
// section 6), run end to end from the goldens folder as a diffusers model folder, given each case's initial
// latents: final latents within 1e-4 relative to their range, uint8 frames within 1 level. Then the
// orchestration paths the goldens leave out, over fake networks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  foldFrames,
  type OnnxModel,
  PipelineInputError,
  TextToVideoSDPipeline,
  type TextToVideoSDPipelineOutput,
  unfoldFrames,
} from '../../src/engine/pipelines/text_to_video_synthesis/pipeline_text_to_video_synth.js';
import { readComponentConfig } from '../../src/engine/models/model_graphs.js';
import type { FloatType } from '../../src/engine/nn/module.js';
import { DDIMScheduler } from '../../src/engine/schedulers/scheduling_ddim.js';
import { Generator } from '../../src/engine/utils/generator.js';
import { randnTensor } from '../../src/engine/utils/torch_utils.js';
import { SafetensorsFile } from '../../src/engine/weights/safetensors.js';
import { CLIPTokenizer } from '../../src/engine/models/clip/tokenization_clip.js';
import { FIXTURE_GOLDENS_DIR, GOLDENS_DIR, type PipelineCase, readPipelineCases } from './goldens.js';
import { maxAbsDiff } from './graph-helpers.js';

const cases = await readPipelineCases();
const vaeScaleFactor = 2 ** ((await readComponentConfig(GOLDENS_DIR, 'vae')).block_out_channels.length - 1);

const absMax = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

function uint8Stats(actual: Uint8Array, expected: Uint8Array): { maxLevels: number; meanLevels: number; differing: number } {
  assert.equal(actual.length, expected.length, 'uint8 frame sizes');
  let maxLevels = 0;
  let sum = 0;
  let differing = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (d > 0) differing++;
    sum += d;
    maxLevels = Math.max(maxLevels, d);
  }
  return { maxLevels, meanLevels: sum / actual.length, differing };
}

interface CaseRun {
  out: TextToVideoSDPipelineOutput;
  finalLatents: Float32Array;
  /** Max abs error of the final latents over their abs-max. */
  latentRel: number;
  /** frames_uint8_export: `(frames * 255).astype(uint8)`, what diffusers' export_to_video writes. */
  exported: Uint8Array;
}

/**
 * Runs every pipeline case on the goldens folder loaded as a model with `dtype` graphs, from the case's
 * initial latents; options the case leaves out follow its tensors (sizes from the latents, steps from the
 * recorded UNet calls) or diffusers' defaults.
 */
async function forEachCase(dtype: FloatType, check: (c: PipelineCase, run: CaseRun) => void): Promise<void> {
  const cacheDir = await mkdtemp(join(tmpdir(), 't2v-pipeline-test-'));
  const pipeline = await TextToVideoSDPipeline.fromPretrained(GOLDENS_DIR, { dtype, cacheDir, sessionOptions: { intraOpNumThreads: 2 } });
  try {
    for (const c of cases) {
      // The pipeline runs deterministic DDIM; eta > 0 would need the reference's variance noise.
      assert.equal(c.eta, 0, `${c.name}: eta`);
      const golden = await SafetensorsFile.open(c.path);
      try {
        const [, , frames, h, w] = golden.info('initial_latents').shape as number[];
        const recordedSteps = [...golden.tensors.keys()].filter((k) => /^step\d+_unet_timestep$/.test(k)).length;
        const visited: number[] = [];
        const out = await pipeline.call({
          prompt: c.prompt,
          negativePrompt: c.negative_prompt ?? '',
          numFrames: c.num_frames ?? frames,
          height: c.height ?? h! * vaeScaleFactor,
          width: c.width ?? w! * vaeScaleFactor,
          numInferenceSteps: c.num_inference_steps ?? recordedSteps,
          guidanceScale: c.guidance_scale,
          latents: await golden.readFloat32('initial_latents'),
          callback: (p) => {
            if (p.phase === 'denoise') visited.push(p.timestep);
          },
        });
        const recorded = await Promise.all(visited.map(async (_, i) => Number((await golden.readInt64(`step${i}_unet_timestep`))[0])));
        assert.deepEqual(visited, recorded, `${c.name}: timesteps visited vs the recorded UNet calls`);
        if (c.timesteps !== undefined) assert.deepEqual(visited, c.timesteps, `${c.name}: timesteps visited`);
        assert.equal(visited.length, recordedSteps, `${c.name}: one UNet call per recorded step`);
        const finalLatents = await golden.readFloat32('final_latents');
        const exported = new Uint8Array(await golden.readBytes('frames_uint8_export'));
        const [expectedFrames, expectedHeight, expectedWidth] = golden.info('frames_uint8_export').shape;
        assert.deepEqual([out.frames.frames, out.frames.height, out.frames.width], [expectedFrames, expectedHeight, expectedWidth], `${c.name}: frames, height, width`);
        check(c, { out, finalLatents, latentRel: maxAbsDiff(out.latents, finalLatents) / absMax(finalLatents), exported });
      } finally {
        await golden.close();
      }
    }
  } finally {
    await pipeline.release();
    await rm(cacheDir, { recursive: true, force: true });
  }
}

test('TextToVideoSDPipeline reproduces every diffusers pipeline golden (final latents within 1e-4 relative, uint8 frames within 1 level)', async (t) => {
  await forEachCase('float32', (c, { out, finalLatents, latentRel, exported }) => {
    const vsExport = uint8Stats(out.frames.data, exported);
    t.diagnostic(
      `${c.name}: final latents ${latentRel.toExponential(2)} of abs-max ${absMax(finalLatents).toFixed(2)}; ` +
        `uint8 vs frames_uint8_export: max ${vsExport.maxLevels} level(s), ${vsExport.differing} of ${exported.length} values differ`,
    );
    assert.ok(latentRel <= 1e-4, `${c.name}: final latents relative error ${latentRel}`);
    assert.ok(vsExport.maxLevels <= 1, `${c.name}: uint8 frames differ by ${vsExport.maxLevels} levels`);
    // Truncation, not rounding: a rounding pipeline would differ from the export frames in about half the values.
    assert.ok(vsExport.differing < exported.length / 1000, `${c.name}: ${vsExport.differing} uint8 values differ by one level`);
  });
});

test('with fp16 graphs (the CUDA dtype, run here on the CPU EP) the pipeline stays within fp16 precision of the goldens', async (t) => {
  await forEachCase('float16', (c, { out, latentRel, exported }) => {
    const levels = uint8Stats(out.frames.data, exported);
    t.diagnostic(`${c.name} fp16: final latents ${latentRel.toExponential(2)} of abs-max; uint8 max ${levels.maxLevels} levels, mean ${levels.meanLevels.toFixed(3)}`);
    assert.ok(latentRel <= 1e-2, `${c.name}: fp16 final latents relative error ${latentRel}`);
    assert.ok(levels.maxLevels <= 4 && levels.meanLevels <= 0.5, `${c.name}: fp16 frames differ by up to ${levels.maxLevels} levels, ${levels.meanLevels} on average`);
  });
});

/** A pipeline over recording fakes of the three networks, for the orchestration paths the goldens leave out. */
async function fakePipeline(): Promise<{ pipeline: TextToVideoSDPipeline; calls: { network: string; dims: Record<string, readonly number[]> }[] }> {
  const calls: { network: string; dims: Record<string, readonly number[]> }[] = [];
  const fake = (network: string, respond: (feeds: Record<string, ort.Tensor>) => Record<string, ort.Tensor>): OnnxModel => ({
    run: (async (feeds: Record<string, ort.Tensor>) => {
      calls.push({ network, dims: Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, v.dims])) });
      return respond(feeds);
    }) as OnnxModel['run'],
  });
  const pipeline = new TextToVideoSDPipeline({
    tokenizer: await CLIPTokenizer.fromPretrained(`${FIXTURE_GOLDENS_DIR}/tokenizer`),
    textEncoder: fake('text_encoder', (f) => ({ last_hidden_state: new ort.Tensor('float32', new Float32Array(f.input_ids!.dims[0]! * 77 * 4), [f.input_ids!.dims[0]!, 77, 4]) })),
    unet: fake('unet', (f) => ({ out_sample: new ort.Tensor('float32', new Float32Array((f.sample!.data as Float32Array).length).fill(0.1), f.sample!.dims) })),
    vae: fake('vae', (f) => {
      const [k, , h, w] = f.latent_sample!.dims as number[];
      return { sample: new ort.Tensor('float32', new Float32Array(k! * 3 * h! * 8 * w! * 8).fill(2), [k!, 3, h! * 8, w! * 8]) };
    }),
    scheduler: new DDIMScheduler(JSON.parse(await readFile(`${FIXTURE_GOLDENS_DIR}/scheduler/scheduler_config.json`, 'utf8')) as Record<string, unknown>),
    unetConfig: { in_channels: 4 },
    vaeConfig: { scaling_factor: 0.18215, block_out_channels: [8, 8, 8, 8] },
  });
  return { pipeline, calls };
}

test('guidance 1 runs the UNet on one row and never encodes a negative prompt; CFG uses a batch of 2', async () => {
  const { pipeline, calls } = await fakePipeline();
  await pipeline.call({ prompt: 'a cat', negativePrompt: 'ignored', numFrames: 3, height: 64, width: 64, numInferenceSteps: 2, guidanceScale: 1, generator: new Generator(1) });
  assert.deepEqual(calls.filter((c) => c.network === 'text_encoder').map((c) => c.dims.input_ids), [[1, 77]]);
  assert.deepEqual(calls.filter((c) => c.network === 'unet').map((c) => c.dims.sample), [[1, 4, 3, 8, 8], [1, 4, 3, 8, 8]]);
  calls.length = 0;
  await pipeline.call({ prompt: 'a cat', numFrames: 3, height: 64, width: 64, numInferenceSteps: 2, guidanceScale: 9, generator: new Generator(1) });
  assert.deepEqual(calls.filter((c) => c.network === 'text_encoder').map((c) => c.dims.input_ids), [[2, 77]]);
  assert.deepEqual(calls.filter((c) => c.network === 'unet').map((c) => c.dims.encoder_hidden_states), [[2, 77, 4], [2, 77, 4]]);
});

test('the VAE decodes slices of frames, never the whole video at once; output is clamped', async () => {
  const { pipeline, calls } = await fakePipeline();
  const out = await pipeline.call({ prompt: 'x', numFrames: 5, height: 64, width: 96, numInferenceSteps: 1, generator: new Generator(3), decodeChunkSize: 2 });
  assert.deepEqual(calls.filter((c) => c.network === 'vae').map((c) => c.dims.latent_sample), [[2, 4, 8, 12], [2, 4, 8, 12], [1, 4, 8, 12]]);
  // The fake VAE returns 2.0 everywhere: (2 / 2 + 0.5) clamps to 1, so 255.
  assert.ok(out.frames.data.every((v) => v === 255));
  assert.equal(out.frames.data.length, 5 * 64 * 96 * 3);
});

test('a seed gives torch.randn latents (bit for bit: rng.test.ts): the same seed, the same noise', async () => {
  const { pipeline } = await fakePipeline();
  const shape = pipeline.latentShape(5, 64, 96);
  assert.deepEqual(shape, [1, 4, 5, 8, 12]);
  const drawn = pipeline.prepareLatents(shape, new Generator(42), undefined);
  assert.deepEqual(drawn, randnTensor(shape, new Generator(42)));
  assert.deepEqual(pipeline.prepareLatents(shape, new Generator(42), undefined), drawn);
  assert.notDeepEqual(pipeline.prepareLatents(shape, new Generator(43), undefined), drawn);
});

test('invalid options are rejected with every allowed range named', async () => {
  const { pipeline, calls } = await fakePipeline();
  await assert.rejects(
    pipeline.call({ prompt: 'x', numFrames: 0, height: 100, width: 64, numInferenceSteps: 101, guidanceScale: 0.5, generator: new Generator(1) }),
    (e: unknown) => {
      assert.ok(e instanceof PipelineInputError);
      assert.deepEqual(
        e.issues.map((i) => i.field),
        ['numFrames', 'height', 'numInferenceSteps', 'guidanceScale'],
      );
      assert.match(e.message, /numFrames must be a whole number from 1 to 256 \(got 0\)/);
      assert.match(e.message, /height must be a whole number from 64 to 2048, a multiple of 8 \(got 100\)/);
      assert.match(e.message, /numInferenceSteps must be a whole number from 1 to 100 \(got 101\)/);
      assert.match(e.message, /guidanceScale must be a number from 1 to 30 \(got 0.5\)/);
      return true;
    },
  );
  await assert.rejects(pipeline.call({ prompt: 'x', numFrames: 2, height: 64, width: 64, latents: new Float32Array(10) }), /latents must have shape \(1, 4, 2, 8, 8\), 512 values/);
  await assert.rejects(pipeline.call({ prompt: 'x', numFrames: 2, height: 64, width: 64 }), /a generator \(seed\) or initial latents are needed/);
  assert.equal(calls.length, 0, 'nothing ran');
});

test('an abort stops the loop before the next step and before decoding, with an AbortError', async () => {
  const { pipeline, calls } = await fakePipeline();
  const controller = new AbortController();
  await assert.rejects(
    pipeline.call({
      prompt: 'x',
      numFrames: 2,
      height: 64,
      width: 64,
      numInferenceSteps: 5,
      generator: new Generator(1),
      signal: controller.signal,
      callback: (p) => {
        if (p.phase === 'denoise' && p.step === 2) controller.abort();
      },
    }),
    (e: unknown) => e instanceof DOMException && e.name === 'AbortError',
  );
  assert.equal(calls.filter((c) => c.network === 'unet').length, 2);
  assert.equal(calls.filter((c) => c.network === 'vae').length, 0);
});

test('progress after every step with elapsed time and an ETA that includes decoding', async () => {
  const { pipeline } = await fakePipeline();
  const events: { step: number; totalSteps: number; etaMs: number }[] = [];
  await pipeline.call({
    prompt: 'x',
    numFrames: 2,
    height: 64,
    width: 64,
    numInferenceSteps: 3,
    generator: new Generator(1),
    decodeMsPerFrameEstimate: 1000,
    callback: (p) => {
      if (p.phase === 'denoise') events.push(p);
    },
  });
  assert.deepEqual(events.map((e) => [e.step, e.totalSteps]), [[1, 3], [2, 3], [3, 3]]);
  assert.ok(events.every((e) => e.etaMs >= 2000), 'two frames to decode at 1 s each stay in the ETA');
});

test('the frames<->batch fold is the permutation diffusers applies around scheduler.step', () => {
  const shape = [1, 2, 3, 1, 2] as const;
  const x = Float32Array.from({ length: 12 }, (_, i) => i); // (1, C=2, F=3, 1, 2)
  // (F, C, h, w): frame 0 = channel 0 frame 0, channel 1 frame 0, ...
  assert.deepEqual([...foldFrames(x, shape)], [0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11]);
  assert.deepEqual(unfoldFrames(foldFrames(x, shape), shape), x);
});
