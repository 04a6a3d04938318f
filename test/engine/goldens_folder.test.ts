// The parity tests follow T2V_GOLDENS_DIR and enumerate what the folder holds, not the case names of our copy.
// Each folder below is made from test/fixtures/goldens by transformations whose reference outputs are known
// exactly without diffusers (rows of a batch permuted, cases renamed, subsets, optional fields dropped, a pad
// token changed, set_alpha_to_one and steps_offset changed), and the parity tests run against it in a child
// process. A folder with one reference value moved must make them fail: they do read the folder they are given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { encodeSafetensors, SafetensorsFile, type SafetensorsDType } from '../../src/engine/weights/safetensors.js';
import { FIXTURE_GOLDENS_DIR } from './goldens.js';
import { runNode, type NodeRun } from '../support/run-node.js';

const SOURCE = resolve(FIXTURE_GOLDENS_DIR);
const work = await mkdtemp(join(tmpdir(), 't2v-goldens-variant-'));
test.after(() => rm(work, { recursive: true, force: true }));

/** The test files that read T2V_GOLDENS_DIR. */
const PARITY_TESTS = ['engine/tokenizer', 'engine/scheduler', 'engine/rng', 'models/modeling_clip', 'models/unet_3d_condition', 'models/autoencoder_kl', 'engine/pipeline'];

type Tensors = Record<string, { dtype: SafetensorsDType; shape: readonly number[]; data: ArrayBufferView }>;

async function readTensors(path: string): Promise<Tensors> {
  const file = await SafetensorsFile.open(path);
  try {
    const tensors: Tensors = {};
    for (const [name, info] of file.tensors) {
      const data = info.dtype === 'I64' ? await file.readInt64(name) : info.dtype === 'U8' ? new Uint8Array(await file.readBytes(name)) : await file.readFloat32(name);
      tensors[name] = { dtype: info.dtype, shape: info.shape, data };
    }
    return tensors;
  } finally {
    await file.close();
  }
}

/** The rows `rows` (in that order) of a tensor's first axis. */
function takeRows(t: Tensors[string], rows: readonly number[]): Tensors[string] {
  const data = t.data as Float32Array | BigInt64Array;
  const rowSize = data.length / t.shape[0]!;
  const out = new (data.constructor as Float32ArrayConstructor)(rows.length * rowSize);
  rows.forEach((r, i) => out.set((data as Float32Array).subarray(r * rowSize, (r + 1) * rowSize), i * rowSize));
  return { dtype: t.dtype, shape: [rows.length, ...t.shape.slice(1)], data: out };
}


const sourceJson = async <T>(...parts: string[]): Promise<T> => JSON.parse(await readFile(join(SOURCE, ...parts), 'utf8')) as T;

/** A goldens folder whose files are links to ours, except those `transform` writes. */
async function variant(name: string, transform: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir);
  for (const entry of await readdir(SOURCE, { withFileTypes: true })) {
    if (!entry.isDirectory()) {
      await symlink(join(SOURCE, entry.name), join(dir, entry.name));
      continue;
    }
    await mkdir(join(dir, entry.name));
    for (const file of await readdir(join(SOURCE, entry.name))) await symlink(join(SOURCE, entry.name, file), join(dir, entry.name, file));
  }
  await transform(dir);
  return dir;
}

/** Replaces a link made by variant() with a file of our own. */
async function replace(path: string, content: string | Buffer): Promise<void> {
  await rm(path);
  await writeFile(path, content);
}

function runParityTests(goldensDir: string, files: readonly string[]): Promise<NodeRun> {
  // Without NODE_TEST_CONTEXT, which would make the inner test runner report to this one instead of running.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  return runNode(['scripts/test.mjs', ...files], { env: { ...env, T2V_GOLDENS_DIR: goldensDir } });
}

test('every parity test passes on a folder with renamed, reordered, subset cases and optional fields left out', async (t) => {
  const dir = await variant('renamed', async (dir) => {
    // UNet: case a with its two videos swapped (each row is computed independently: the reference rows swap),
    // case c cut to its second video (batch 1), case b listed by name only (file case_<name>.safetensors).
    const a = await readTensors(join(SOURCE, 'unet', 'case_a_b2_f5_8x12_t981.safetensors'));
    const c = await readTensors(join(SOURCE, 'unet', 'case_c_b2_f3_16x16_t500_ctx77.safetensors'));
    const rows = (t: Tensors, r: number[]): Tensors => ({ ...t, sample: takeRows(t.sample!, r), encoder_hidden_states: takeRows(t.encoder_hidden_states!, r), noise_pred: takeRows(t.noise_pred!, r) });
    await writeFile(join(dir, 'unet', 'videos_swapped.safetensors'), encodeSafetensors(rows(a, [1, 0])));
    await writeFile(join(dir, 'unet', 'second_video.safetensors'), encodeSafetensors(rows(c, [1])));
    await replace(
      join(dir, 'unet', 'cases.json'),
      JSON.stringify({ cases: [{ name: 'swapped', file: 'videos_swapped.safetensors' }, { file: 'second_video.safetensors' }, { name: 'b_b1_f1_8x8_t1' }] }),
    );
    // Text encoder: no case list (as in our copy), one case file under another name with its prompts reversed.
    const encode = await readTensors(join(SOURCE, 'text_encoder', 'case_encode.safetensors'));
    await rm(join(dir, 'text_encoder', 'case_encode.safetensors'));
    await writeFile(
      join(dir, 'text_encoder', 'case_reversed.safetensors'),
      encodeSafetensors({ input_ids: takeRows(encode.input_ids!, [3, 2, 1, 0]), last_hidden_state: takeRows(encode.last_hidden_state!, [3, 2, 1, 0]) }),
    );
    // VAE: frames decode independently: three of the five frames, reordered.
    const decode = await readTensors(join(SOURCE, 'vae', 'case_decode.safetensors'));
    await writeFile(join(dir, 'vae', 'three_frames.safetensors'), encodeSafetensors({ latents: takeRows(decode.latents!, [4, 0, 2]), image: takeRows(decode.image!, [4, 0, 2]) }));
    await replace(join(dir, 'vae', 'cases.json'), JSON.stringify({ cases: [{ file: 'three_frames.safetensors' }] }));
    // Pipeline: both cases renamed; the second keeps only its prompt and guidance (1, not the default 9), so its
    // frames, size and steps come from its tensors.
    const { cases } = await sourceJson<{ cases: Record<string, unknown>[] }>('pipeline', 'cases.json');
    await symlink(join(SOURCE, 'pipeline', 'case1_cfg9.safetensors'), join(dir, 'pipeline', 'guided.safetensors'));
    await replace(
      join(dir, 'pipeline', 'cases.json'),
      JSON.stringify({ cases: [{ ...cases[0], name: 'guided', file: 'guided.safetensors' }, { name: 'case2_nocfg', prompt: cases[1]!.prompt, guidance_scale: cases[1]!.guidance_scale }] }),
    );
    // Scheduler: two of the step counts, three of the five step calls.
    const scheduler = await sourceJson<{ timesteps: Record<string, number[]>; step_calls: unknown[] }>('scheduler', 'scheduler_golden.json');
    await replace(join(dir, 'scheduler', 'scheduler_golden.json'), JSON.stringify({ ...scheduler, timesteps: { 3: scheduler.timesteps['3'], 50: scheduler.timesteps['50'] }, step_calls: scheduler.step_calls.slice(2) }));
    // Tokenizer: every third prompt, without the debugging fields.
    const tokenizer = await sourceJson<{ cases: { prompt: string; input_ids: number[] }[] }>('tokenizer_golden.json');
    await replace(
      join(dir, 'tokenizer_golden.json'),
      JSON.stringify({ ...tokenizer, cases: tokenizer.cases.filter((_, i) => i % 3 === 0).map((c) => ({ prompt: c.prompt, input_ids: c.input_ids })) }),
    );
  });
  const run = await runParityTests(dir, PARITY_TESTS);
  assert.equal(run.code, 0, run.output);
  for (const line of run.output.match(/^# (\w+ \(float32\): max abs error .*|\w+: final latents .*)$/gm) ?? []) t.diagnostic(line.slice(2));
  assert.doesNotMatch(run.output, /^# (fail|skipped) [1-9]/m, 'nothing failed or was skipped');
  for (const name of ['swapped (float32)', 'second_video (float32)', 'b_b1_f1_8x8_t1 (float32)', 'reversed (float32)', 'three_frames (float32)', 'guided: final latents', 'case2_nocfg: final latents']) {
    assert.ok(run.output.includes(name), `the run reports case ${name}`);
  }
  assert.doesNotMatch(run.output, /a_b2_f5_8x12_t981|c_b2_f3_16x16_t500_ctx77|encode \(float32\)|decode \(float32\)/, 'cases not listed are not run');
});

test('the tokenizer and scheduler tests follow the folder: pad token <|endoftext|>, set_alpha_to_one, steps_offset 0', async () => {
  const dir = await variant('other-configs', async (dir) => {
    // Padding with <|endoftext|> (49407) instead of "!" (0): the same ids up to the pads, for prompts without "!"
    // (which is no longer a special token and goes through BPE).
    for (const file of ['special_tokens_map.json', 'tokenizer_config.json']) {
      await replace(join(dir, 'tokenizer', file), JSON.stringify({ ...(await sourceJson<object>('tokenizer', file)), pad_token: '<|endoftext|>' }));
    }
    const tokenizer = await sourceJson<{ cases: { prompt: string; input_ids: number[]; attention_mask: number[] }[] }>('tokenizer_golden.json');
    const cases = tokenizer.cases
      .filter((c) => !c.prompt.includes('!'))
      .map((c) => ({ ...c, input_ids: c.input_ids.map((id, i) => (c.attention_mask[i] === 0 ? 49407 : id)) }));
    await replace(join(dir, 'tokenizer_golden.json'), JSON.stringify({ ...tokenizer, pad_token_id: 49407, cases }));
    // set_alpha_to_one: the step after t = 0 sees alpha 1, so its x_{t-1} is its x0 exactly; steps_offset 0
    // moves every leading timestep down by one. The step calls keep their timesteps and drop their indices.
    const config = { ...(await sourceJson<object>('scheduler', 'scheduler_config.json')), set_alpha_to_one: true, steps_offset: 0 };
    await replace(join(dir, 'scheduler', 'scheduler_config.json'), JSON.stringify(config));
    const golden = await sourceJson<{ timesteps: Record<string, number[]>; step_calls: { name: string; step_index: number; prev_timestep: number; alpha_prod_t_prev: number }[] }>(
      'scheduler',
      'scheduler_golden.json',
    );
    const tensors = await readTensors(join(SOURCE, 'scheduler', 'scheduler_golden.safetensors'));
    tensors.final_alpha_cumprod = { dtype: 'F32', shape: [1], data: Float32Array.from([1]) };
    const finalCalls = golden.step_calls.filter((c) => c.prev_timestep < 0);
    assert.ok(finalCalls.length > 0, 'a step call reaches past t = 0');
    for (const c of finalCalls) tensors[`${c.name}_prev_sample`] = tensors[`${c.name}_pred_original_sample`]!;
    for (const n of Object.keys(golden.timesteps)) delete tensors[`timesteps_${n}`];
    await replace(join(dir, 'scheduler', 'scheduler_golden.safetensors'), encodeSafetensors(tensors));
    await replace(
      join(dir, 'scheduler', 'scheduler_golden.json'),
      JSON.stringify({
        ...golden,
        config,
        timesteps: Object.fromEntries(Object.entries(golden.timesteps).map(([n, ts]) => [n, ts.map((t) => t - 1)])),
        step_calls: golden.step_calls.map(({ step_index: _, ...c }) => (c.prev_timestep < 0 ? { ...c, alpha_prod_t_prev: 1 } : c)),
      }),
    );
  });
  const run = await runParityTests(dir, ['engine/tokenizer', 'engine/scheduler']);
  assert.equal(run.code, 0, run.output);
});

test('a folder with one reference value moved fails the parity test that reads it', async () => {
  const dir = await variant('moved', async (dir) => {
    const tensors = await readTensors(join(SOURCE, 'scheduler', 'scheduler_golden.safetensors'));
    const prev = tensors.step2_prev_sample!.data as Float32Array;
    prev[7] = prev[7]! + 1e-5;
    await replace(join(dir, 'scheduler', 'scheduler_golden.safetensors'), encodeSafetensors(tensors));
  });
  const run = await runParityTests(dir, ['engine/scheduler']);
  assert.notEqual(run.code, 0);
  assert.match(run.output, /step2 prev_sample max abs err 0\.0000100\d*/);
});
