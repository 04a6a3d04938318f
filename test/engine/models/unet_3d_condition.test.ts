// UNet3DConditionModel against the diffusers 0.26.3 goldens (test/fixtures/goldens/unet, README section 3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { buildUNet3DGraph, parseUNet3DConditionConfig } from '../../../src/engine/models/unets/unet_3d_condition.js';
import type { FloatType } from '../../../src/engine/nn/module.js';
import { SafetensorsFile } from '../../../src/engine/weights/safetensors.js';
import { SafetensorsWeights, VarBuilder } from '../../../src/engine/weights/var_builder.js';
import { f32, i64, maxAbsDiff, openGraph } from '../graph-helpers.js';

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
