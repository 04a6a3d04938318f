// UNet3DConditionModel against the diffusers 0.26.3 goldens (test/fixtures/goldens/unet, README section 3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { buildUNet3DGraph, parseUNet3DConditionConfig, UNet3DConditionModel } from '../../../src/engine/models/unets/unet_3d_condition.js';
import { BuildContext, type FloatType } from '../../../src/engine/nn/module.js';
import { GraphBuilder } from '../../../src/engine/onnx/graph_builder.js';
import { SafetensorsFile } from '../../../src/engine/weights/safetensors.js';
import { SafetensorsWeights, VarBuilder } from '../../../src/engine/weights/var_builder.js';
import { f32, i64, maxAbsDiff, openGraph, runGraph } from '../graph-helpers.js';

const DIR = 'test/fixtures/goldens/unet';
const CASES = ['a_b2_f5_8x12_t981', 'b_b1_f1_8x8_t1', 'c_b2_f3_16x16_t500_ctx77'];
/** fp32: the README's acceptance (its fp32-vs-fp64 noise is 2-3e-6). fp16 on the CPU EP: 1% of the output range. */
const TOLERANCE: Record<FloatType, (absMax: number) => number> = { float32: () => 1e-4, float16: (absMax) => 1e-2 * absMax };

const config = parseUNet3DConditionConfig(JSON.parse(await readFile(`${DIR}/config.json`, 'utf8')));

for (const dtype of ['float32', 'float16'] as const) {
  test(`UNet3D ${dtype} matches diffusers on every golden case`, async () => {
    const weights = await SafetensorsWeights.open([`${DIR}/diffusion_pytorch_model.safetensors`]);
    const vb = VarBuilder.from(weights);
    const { graph } = buildUNet3DGraph(vb, config, { dtype });
    vb.check();
    const { session, dispose } = await openGraph(graph);
    try {
      for (const name of CASES) {
        const file = await SafetensorsFile.open(`${DIR}/case_${name}.safetensors`);
        const sample = file.info('sample').shape;
        const ehs = file.info('encoder_hidden_states').shape;
        const out = await session.run({
          sample: f32(await file.readFloat32('sample'), sample),
          timestep: i64(await file.readInt64('timestep'), file.info('timestep').shape),
          encoder_hidden_states: f32(await file.readFloat32('encoder_hidden_states'), ehs),
        });
        const expected = await file.readFloat32('noise_pred');
        await file.close();
        const result = out.out_sample!;
        assert.deepEqual(result.dims, sample, `${name} output shape`);
        const absMax = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const err = maxAbsDiff(result.data as Float32Array, expected);
        assert.ok(err <= TOLERANCE[dtype](absMax), `${name} (${dtype}): max abs error ${err} over ${TOLERANCE[dtype](absMax)}`);
      }
    } finally {
      await dispose();
      await weights.close();
    }
  });
}

test('UNet3DConditionModel.forward composes inside a larger graph (classifier-free guidance step of the pipeline golden)', async () => {
  // A graph that feeds the UNet cat([latents, latents]) with [negative, prompt] embeddings and applies guidance,
  // as a whole-step graph would; checked against the pipeline golden's first UNet call.
  const golden = await SafetensorsFile.open('test/fixtures/goldens/pipeline/case1_cfg9.safetensors');
  const weights = await SafetensorsWeights.open([`${DIR}/diffusion_pytorch_model.safetensors`]);
  try {
    const graph = new GraphBuilder('guided_unet');
    const ctx = new BuildContext(graph, 'float32');
    const o = ctx.ops('guidance');
    const latents = graph.input('latents', 'float32', [1, 4, 'frames', 'height', 'width']);
    const timestep = graph.input('timestep', 'int64', [1]);
    const context = graph.input('context', 'float32', [2, 77, 32]);
    const unet = new UNet3DConditionModel(VarBuilder.from(weights), config);
    const raw = unet.forward(ctx, { sample: o.concat([latents, latents], 0), timestep, encoderHiddenStates: context }); // [2, 4, F, H, W]
    const [uncond, cond] = o.split(raw, [1, 1], 0);
    const guided = o.add(uncond!, o.mul(o.f32([9], []), o.sub(cond!, uncond!))); // [1, 4, F, H, W]
    graph.output(raw, 'noise_pred_raw', [2, 4, 'frames', 'height', 'width']);
    graph.output(guided, 'noise_pred', [1, 4, 'frames', 'height', 'width']);
    const embeds = Float32Array.from([...(await golden.readFloat32('negative_prompt_embeds')), ...(await golden.readFloat32('prompt_embeds'))]);
    const out = await runGraph(graph, {
      latents: f32(await golden.readFloat32('initial_latents'), [1, 4, 5, 8, 12]),
      timestep: i64(await golden.readInt64('step0_unet_timestep'), [1]),
      context: f32(embeds, [2, 77, 32]),
    });
    const expectedRaw = await golden.readFloat32('step0_unet_noise_pred_raw');
    assert.ok(maxAbsDiff(out.noise_pred_raw!.data as Float32Array, expectedRaw) <= 1e-4);
    const half = expectedRaw.length / 2;
    const expectedGuided = Float32Array.from({ length: half }, (_, i) => expectedRaw[i]! + 9 * (expectedRaw[half + i]! - expectedRaw[i]!));
    assert.ok(maxAbsDiff(out.noise_pred!.data as Float32Array, expectedGuided) <= 1e-3);
  } finally {
    await weights.close();
    await golden.close();
  }
});
