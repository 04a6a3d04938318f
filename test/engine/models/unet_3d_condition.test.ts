// UNet3DConditionModel against the diffusers 0.26.3 goldens (the goldens folder's unet/, README section 3): every
// case its cases.json lists, with its own config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findWeightFiles, readComponentConfig } from '../../../src/engine/models/model_graphs.js';
import { UNet3DConditionModel } from '../../../src/engine/models/unets/unet_3d_condition.js';
import { BuildContext } from '../../../src/engine/nn/module.js';
import { GraphBuilder } from '../../../src/engine/onnx/graph_builder.js';
import { SafetensorsFile } from '../../../src/engine/weights/safetensors.js';
import { SafetensorsWeights, VarBuilder } from '../../../src/engine/weights/var_builder.js';
import { assertGoldenCases, GOLDENS_DIR, readPipelineCases } from '../goldens.js';
import { f32, i64, maxAbsDiff, runGraph } from '../graph-helpers.js';

const config = await readComponentConfig(GOLDENS_DIR, 'unet');

for (const dtype of ['float32', 'float16'] as const) {
  test(`UNet3D ${dtype} matches diffusers on every golden case`, (t) => assertGoldenCases(t, 'unet', dtype));
}

test('UNet3DConditionModel.forward composes inside a larger graph (classifier-free guidance step of the pipeline goldens)', async (t) => {
  // A graph that feeds the UNet cat([latents, latents]) with [negative, prompt] embeddings and applies guidance,
  // as a whole-step graph would; checked against each guided pipeline golden's first UNet call.
  const guided = (await readPipelineCases()).filter((c) => c.guidance_scale > 1);
  if (guided.length === 0) return void t.skip('no pipeline case uses classifier-free guidance');
  const weights = await SafetensorsWeights.open(await findWeightFiles(GOLDENS_DIR, 'unet', 'float32'));
  try {
    for (const c of guided) {
      const golden = await SafetensorsFile.open(c.path);
      try {
        // step0_unet_sample is cat([latents, latents]) (N = 2); the graph gets one row and duplicates it.
        const [, channels, frames, height, width] = golden.info('step0_unet_sample').shape as number[];
        const [, contextLength, contextWidth] = golden.info('prompt_embeds').shape as number[];
        const graph = new GraphBuilder('guided_unet');
        const ctx = new BuildContext(graph, 'float32');
        const o = ctx.ops('guidance');
        const latents = graph.input('latents', 'float32', [1, channels!, 'frames', 'height', 'width']);
        const timestep = graph.input('timestep', 'int64', [1]);
        const context = graph.input('context', 'float32', [2, contextLength!, contextWidth!]);
        const unet = new UNet3DConditionModel(VarBuilder.from(weights), config);
        const raw = unet.forward(ctx, { sample: o.concat([latents, latents], 0), timestep, encoderHiddenStates: context }); // [2, C, F, H, W]
        const [uncond, cond] = o.split(raw, [1, 1], 0);
        const noise = o.add(uncond!, o.mul(o.f32([c.guidance_scale], []), o.sub(cond!, uncond!))); // [1, C, F, H, W]
        graph.output(raw, 'noise_pred_raw', [2, channels!, 'frames', 'height', 'width']);
        graph.output(noise, 'noise_pred', [1, channels!, 'frames', 'height', 'width']);

        const sample = await golden.readFloat32('step0_unet_sample');
        const embeds = Float32Array.from([...(await golden.readFloat32('negative_prompt_embeds')), ...(await golden.readFloat32('prompt_embeds'))]);
        const out = await runGraph(graph, {
          latents: f32(sample.subarray(0, sample.length / 2), [1, channels!, frames!, height!, width!]),
          timestep: i64(await golden.readInt64('step0_unet_timestep'), [1]),
          context: f32(embeds, [2, contextLength!, contextWidth!]),
        });
        const expectedRaw = await golden.readFloat32('step0_unet_noise_pred_raw');
        const rawErr = maxAbsDiff(out.noise_pred_raw!.data as Float32Array, expectedRaw);
        assert.ok(rawErr <= 1e-4, `${c.name}: UNet rows max abs error ${rawErr}`);
        const half = expectedRaw.length / 2;
        const expectedGuided = Float32Array.from({ length: half }, (_, i) => expectedRaw[i]! + c.guidance_scale * (expectedRaw[half + i]! - expectedRaw[i]!));
        const guidedErr = maxAbsDiff(out.noise_pred!.data as Float32Array, expectedGuided);
        assert.ok(guidedErr <= 1e-3, `${c.name}: guided noise max abs error ${guidedErr}`);
      } finally {
        await golden.close();
      }
    }
  } finally {
    await weights.close();
  }
});
