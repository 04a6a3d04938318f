import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DDIMScheduler } from '../../src/engine/schedulers/scheduling_ddim.js';
import { Generator } from '../../src/engine/utils/generator.js';
import { randnTensor } from '../../src/engine/utils/torch_utils.js';
import { SafetensorsFile } from '../../src/engine/weights/safetensors.js';
import { goldensPath, readSchedulerGolden } from './goldens.js';
import { maxAbsDiff, wave } from './graph-helpers.js';

// Parity: the goldens' scheduler folder (scheduler_config.json, scheduler_golden.json and .safetensors).
const SCHEDULER_DIR = goldensPath('scheduler');
const goldenJson = await readSchedulerGolden();
const golden = new Map<string, Float32Array | BigInt64Array>();
const goldenFile = await SafetensorsFile.open(`${SCHEDULER_DIR}/scheduler_golden.safetensors`);
for (const [name, info] of goldenFile.tensors) golden.set(name, info.dtype === 'I64' ? await goldenFile.readInt64(name) : await goldenFile.readFloat32(name));
await goldenFile.close();

function fixture(name: string): Float32Array {
  const tensor = golden.get(name);
  if (!(tensor instanceof Float32Array)) throw new Error(`scheduler_golden.safetensors has no float tensor ${name}`);
  return tensor;
}

test('betas and alphas_cumprod are bit-identical to torch float32', async () => {
  const scheduler = await DDIMScheduler.fromPretrained(SCHEDULER_DIR);
  assert.deepEqual(scheduler.betas, fixture('betas'));
  assert.deepEqual(scheduler.alphasCumprod, fixture('alphas_cumprod'));
  assert.equal(scheduler.finalAlphaCumprod, fixture('final_alpha_cumprod')[0]);
});

test('timesteps are exact for every step count of the goldens', async () => {
  const scheduler = await DDIMScheduler.fromPretrained(SCHEDULER_DIR);
  const counts = Object.keys(goldenJson.timesteps);
  assert.ok(counts.length > 0, 'scheduler_golden.json lists no timesteps');
  for (const n of counts) {
    scheduler.setTimesteps(Number(n));
    assert.deepEqual(scheduler.timesteps, goldenJson.timesteps[n], `${n} steps`);
    const stored = golden.get(`timesteps_${n}`);
    if (stored !== undefined) assert.deepEqual(Array.from(stored, Number), goldenJson.timesteps[n], `timesteps_${n} agrees with the JSON`);
  }
});

test('step outputs are within 1e-6 of diffusers for every golden call', async () => {
  const scheduler = await DDIMScheduler.fromPretrained(SCHEDULER_DIR);
  scheduler.setTimesteps(goldenJson.step_num_inference_steps);
  for (const call of goldenJson.step_calls) {
    if (call.step_index !== undefined) assert.equal(scheduler.timesteps[call.step_index], call.timestep, `${call.name}: timestep at index ${call.step_index}`);
    const prev = call.timestep - Math.floor(scheduler.config.num_train_timesteps / goldenJson.step_num_inference_steps);
    if (call.prev_timestep !== undefined) assert.equal(prev, call.prev_timestep, `${call.name}: previous timestep`);
    if (call.alpha_prod_t !== undefined) assert.equal(scheduler.alphasCumprod[call.timestep], Math.fround(call.alpha_prod_t), `${call.name}: alpha_prod_t`);
    if (call.alpha_prod_t_prev !== undefined) {
      assert.equal(prev >= 0 ? scheduler.alphasCumprod[prev] : scheduler.finalAlphaCumprod, Math.fround(call.alpha_prod_t_prev), `${call.name}: alpha_prod_t_prev`);
    }
    const sample = fixture(`${call.name}_sample`);
    // Thresholding works per sample: the first axis of the (N, C, H, W) tensors diffusers stepped.
    const batchSize = goldenFile.info(`${call.name}_sample`).shape[0];
    // diffusers draws eta > 0 noise from a generator the format does not record; a golden with eta > 0 must
    // store the noise it drew.
    const varianceNoise = goldenJson.step_eta > 0 ? fixture(`${call.name}_variance_noise`) : undefined;
    const out = scheduler.step(fixture(`${call.name}_model_output`), call.timestep, sample, { eta: goldenJson.step_eta, varianceNoise, batchSize });
    const prevErr = maxAbsDiff(out.prevSample, fixture(`${call.name}_prev_sample`));
    const x0Err = maxAbsDiff(out.predOriginalSample, fixture(`${call.name}_pred_original_sample`));
    assert.ok(prevErr <= 1e-6, `${call.name} prev_sample max abs err ${prevErr}`);
    assert.ok(x0Err <= 1e-6, `${call.name} pred_original_sample max abs err ${x0Err}`);
  }
});

// The tests below check the scheduler's other options on synthetic inputs, against formulas.

/** text-to-video-ms-1.7b's scheduler_config.json. */
const MS_CONFIG = { beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, clip_sample: false, set_alpha_to_one: false, steps_offset: 1 };

test('trailing and linspace spacings match numpy (round half to even)', () => {
  const trailing = new DDIMScheduler({ timestep_spacing: 'trailing' });
  const spaced = new DDIMScheduler({ timestep_spacing: 'linspace' });
  trailing.setTimesteps(3);
  assert.deepEqual(trailing.timesteps, [999, 666, 332]);
  trailing.setTimesteps(7);
  assert.deepEqual(trailing.timesteps, [999, 856, 713, 570, 428, 285, 142]);
  trailing.setTimesteps(25);
  assert.deepEqual(trailing.timesteps.slice(-3), [119, 79, 39]);
  spaced.setTimesteps(3);
  assert.deepEqual(spaced.timesteps, [999, 500, 0]);
  spaced.setTimesteps(7);
  assert.deepEqual(spaced.timesteps, [999, 832, 666, 500, 333, 166, 0]);
  spaced.setTimesteps(1);
  assert.deepEqual(spaced.timesteps, [0]);
});

test('steps_offset shifts the leading grid', () => {
  const scheduler = new DDIMScheduler({ steps_offset: 0 });
  scheduler.setTimesteps(4);
  assert.deepEqual(scheduler.timesteps, [750, 500, 250, 0]);
});

test('sample and v_prediction parameterisations reach the same x_{t-1} as epsilon', () => {
  const epsilon = new DDIMScheduler(MS_CONFIG);
  const sampleParam = new DDIMScheduler({ ...MS_CONFIG, prediction_type: 'sample' });
  const vParam = new DDIMScheduler({ ...MS_CONFIG, prediction_type: 'v_prediction' });
  for (const s of [epsilon, sampleParam, vParam]) s.setTimesteps(25);
  const t = 481;
  const x = wave(1920, 1, 2);
  const eps = wave(1920, 2, 1);
  const reference = epsilon.step(eps, t, x);
  const a = epsilon.alphasCumprod[t] as number;
  const v = eps.map((e, i) => Math.sqrt(a) * e - Math.sqrt(1 - a) * (reference.predOriginalSample[i] as number));
  const viaSample = sampleParam.step(reference.predOriginalSample, t, x);
  const viaV = vParam.step(v, t, x);
  assert.ok(maxAbsDiff(viaSample.prevSample, reference.prevSample) < 1e-5);
  assert.ok(maxAbsDiff(viaV.prevSample, reference.prevSample) < 1e-5);
  assert.ok(maxAbsDiff(viaV.predOriginalSample, reference.predOriginalSample) < 1e-5);
});

test('eta > 0 adds σ_t·z with σ_t from formula (16), z from the generator or given', () => {
  const scheduler = new DDIMScheduler(MS_CONFIG);
  scheduler.setTimesteps(25);
  const t = 481;
  const x = wave(1920, 3, 2);
  const eps = wave(1920, 4, 1);
  const noise = randnTensor([x.length], new Generator(7));
  const withGenerator = scheduler.step(eps, t, x, { eta: 1, generator: new Generator(7) });
  const withNoise = scheduler.step(eps, t, x, { eta: 1, varianceNoise: noise });
  assert.deepEqual(withGenerator.prevSample, withNoise.prevSample);

  const aT = scheduler.alphasCumprod[t] as number;
  const aPrev = scheduler.alphasCumprod[t - 40] as number;
  const sigma = Math.sqrt((1 - aPrev) / (1 - aT)) * Math.sqrt(1 - aT / aPrev);
  const x0 = withNoise.predOriginalSample;
  for (const i of [0, 17, x.length - 1]) {
    const expected = Math.sqrt(aPrev) * (x0[i] as number) + Math.sqrt(1 - aPrev - sigma ** 2) * (eps[i] as number) + sigma * (noise[i] as number);
    assert.ok(Math.abs((withNoise.prevSample[i] as number) - expected) < 1e-5, `element ${i}`);
  }
  assert.throws(() => scheduler.step(eps, t, x, { eta: 1 }), /needs a generator/);
  assert.throws(() => scheduler.step(eps, t, x, { eta: 1, generator: new Generator(1), varianceNoise: noise }), /not both/);
});

test('clip_sample clamps x0 to clip_sample_range', () => {
  const scheduler = new DDIMScheduler({ clip_sample: true, clip_sample_range: 0.5 });
  scheduler.setTimesteps(10);
  const x = Float32Array.from([3, -3, 0.001, 0]);
  const out = scheduler.step(new Float32Array(4), 901, x);
  const sqrtA = Math.sqrt(scheduler.alphasCumprod[901] as number);
  assert.deepEqual(Array.from(out.predOriginalSample), [0.5, -0.5, Math.fround(Math.fround(0.001) / Math.fround(sqrtA)), 0]);
});

test('thresholding scales each sample by its own quantile of |x0|', () => {
  const scheduler = new DDIMScheduler({ thresholding: true, dynamic_thresholding_ratio: 1, sample_max_value: 4, prediction_type: 'sample' });
  scheduler.setTimesteps(10);
  // Row 0 has max |x0| 2 (scaled by 2), row 1 stays within [-1, 1] (s clamps to 1, no change).
  const x0 = Float32Array.from([2, -1, 0.5, -0.5, 0.25, 1]);
  const out = scheduler.step(x0, 901, new Float32Array(6), { batchSize: 2 });
  assert.deepEqual(Array.from(out.predOriginalSample), [1, -0.5, 0.25, -0.5, 0.25, 1]);
  assert.throws(() => scheduler.step(x0, 901, new Float32Array(6)), /thresholding needs options.batchSize/);
});

test('other beta schedules: linear endpoints, Glide cosine values, zero terminal SNR', () => {
  const linear = new DDIMScheduler({ beta_schedule: 'linear', beta_start: 0.0001, beta_end: 0.02 });
  assert.equal(linear.betas[0], Math.fround(0.0001));
  assert.equal(linear.betas[999], Math.fround(0.02));
  const cosine = new DDIMScheduler({ beta_schedule: 'squaredcos_cap_v2' });
  // float32 of diffusers' betas_for_alpha_bar(1000) computed in float64 by Python.
  assert.equal(cosine.betas[0], 4.128422369831242e-5);
  assert.equal(cosine.betas[500], 0.003155691549181938);
  assert.equal(cosine.betas[999], 0.9990000128746033);
  const plain = new DDIMScheduler({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012 });
  const rescaled = new DDIMScheduler({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, rescale_betas_zero_snr: true });
  assert.equal(rescaled.alphasCumprod[999], 0);
  assert.ok(Math.abs((rescaled.alphasCumprod[0] as number) - (plain.alphasCumprod[0] as number)) < 1e-6);
  assert.equal(new DDIMScheduler({ trained_betas: [0.1, 0.2], num_train_timesteps: 2 }).alphasCumprod[1], Math.fround(Math.fround(0.9) * Math.fround(0.8)));
});

test('bad configs and calls fail with messages naming the allowed values', () => {
  assert.throws(() => new DDIMScheduler({ beta_schedule: 'cosine' }), /"scaled_linear"[\s\S]*at beta_schedule/);
  assert.throws(() => new DDIMScheduler({ timestep_spacing: 'middle' }), /timestep_spacing/);
  assert.throws(() => new DDIMScheduler({ trained_betas: [0.1], num_train_timesteps: 2 }), /trained_betas has 1 values/);
  const scheduler = new DDIMScheduler();
  assert.throws(() => scheduler.step(new Float32Array(1), 1, new Float32Array(1)), /before setTimesteps/);
  assert.throws(() => scheduler.setTimesteps(0), /from 1 to 1000/);
  assert.throws(() => scheduler.setTimesteps(1001), /from 1 to 1000/);
  scheduler.setTimesteps(10);
  assert.throws(() => scheduler.step(new Float32Array(2), 1, new Float32Array(3)), /must match/);
  assert.throws(() => scheduler.step(new Float32Array(1), 1000, new Float32Array(1)), /from 0 to 999/);
});
