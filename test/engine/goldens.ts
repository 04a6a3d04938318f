// Where the parity tests find their reference data, and the goldens' index files parsed (format:
// test/fixtures/goldens/README.md). Every parity test enumerates its cases and reads its configs from
// GOLDENS_DIR, so `T2V_GOLDENS_DIR=/other/goldens node scripts/test.mjs engine` checks parity on another folder
// of the same format (docs/engine.md). Tests that only need some fixed tokenizer or tensors as inputs use
// FIXTURE_GOLDENS_DIR, the copy in this repository, whatever T2V_GOLDENS_DIR says.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { z } from 'zod';
import { readModelConfig } from '../../src/engine/models/model_config.js';
import { type ComponentName, findWeightFiles, type GraphRecipe, NETWORK_RECIPES, type NetworkName, readComponentConfig } from '../../src/engine/models/model_graphs.js';
import type { FloatType } from '../../src/engine/nn/module.js';
import { compareWithReference, listReferenceCases, readReferenceCase } from '../../src/engine/reference_cases.js';
import { SafetensorsWeights, VarBuilder } from '../../src/engine/weights/var_builder.js';
import { openGraph } from './graph-helpers.js';

export const FIXTURE_GOLDENS_DIR = 'test/fixtures/goldens';
export const GOLDENS_DIR = process.env.T2V_GOLDENS_DIR || FIXTURE_GOLDENS_DIR;

export const goldensPath = (...parts: string[]): string => join(GOLDENS_DIR, ...parts);

/** Fails with the file and the offending fields when an index file does not have the goldens' format. */
function readIndex<S extends z.ZodType>(schema: S, ...parts: string[]): Promise<z.output<S>> {
  return readModelConfig(schema, goldensPath(...parts));
}

const TokenizerGoldenSchema = z.object({
  bos_token_id: z.number().int(),
  eos_token_id: z.number().int(),
  pad_token_id: z.number().int(),
  cases: z
    .array(
      z.object({
        prompt: z.string(),
        input_ids: z.array(z.number().int()).min(2),
        // For debugging in the format; checked when present.
        attention_mask: z.array(z.number().int()).optional(),
        tokens: z.array(z.string()).optional(),
        untruncated_length: z.number().int().optional(),
      }),
    )
    .min(1),
});
export type TokenizerGolden = z.output<typeof TokenizerGoldenSchema>;

export const readTokenizerGolden = (): Promise<TokenizerGolden> => readIndex(TokenizerGoldenSchema, 'tokenizer_golden.json');

const SchedulerGoldenSchema = z.object({
  /** Number of inference steps (as a string key) -> diffusers' timesteps. */
  timesteps: z.record(z.string().regex(/^\d+$/), z.array(z.number().int())),
  step_num_inference_steps: z.number().int().positive(),
  step_eta: z.number().default(0),
  step_calls: z
    .array(
      z.object({
        name: z.string(),
        step_index: z.number().int().nonnegative().optional(),
        timestep: z.number().int(),
        prev_timestep: z.number().int().optional(),
        alpha_prod_t: z.number().optional(),
        alpha_prod_t_prev: z.number().optional(),
      }),
    )
    .min(1),
});
export type SchedulerGolden = z.output<typeof SchedulerGoldenSchema>;

export const readSchedulerGolden = (): Promise<SchedulerGolden> => readIndex(SchedulerGoldenSchema, 'scheduler', 'scheduler_golden.json');

const PipelineCaseSchema = z
  .object({
    name: z.string().min(1).optional(),
    file: z.string().min(1).optional(),
    prompt: z.string(),
    negative_prompt: z.string().nullable().default(null),
    // Absent sizes follow the case's initial latents; absent steps its recorded UNet calls (see pipelineCall).
    num_frames: z.number().int().optional(),
    height: z.number().int().optional(),
    width: z.number().int().optional(),
    num_inference_steps: z.number().int().optional(),
    // diffusers' TextToVideoSDPipeline default.
    guidance_scale: z.number().default(9),
    eta: z.number().default(0),
    timesteps: z.array(z.number().int()).optional(),
    latents_seed_note: z.string().optional(),
  })
  .refine((c) => c.name !== undefined || c.file !== undefined, 'a case needs a name or a file');
const PipelineIndexSchema = z.object({ cases: z.array(PipelineCaseSchema).min(1) });

export type PipelineCase = z.output<typeof PipelineCaseSchema> & { name: string; path: string };

export async function readPipelineCases(): Promise<PipelineCase[]> {
  const { cases } = await readIndex(PipelineIndexSchema, 'pipeline', 'cases.json');
  return cases.map((c) => {
    const file = c.file ?? `${c.name}.safetensors`;
    return { ...c, name: c.name ?? file.replace(/\.safetensors$/, ''), path: goldensPath('pipeline', file) };
  });
}

/**
 * The seed and shape of a case's initial latents from its note (`initial_latents = torch.randn([1, 4, 5, 8, 12],
 * generator=manual_seed(42))`); null when the case has no such note.
 */
export function latentsSeed(c: PipelineCase): { seed: number; shape: number[] } | null {
  const match = /randn\(\s*\[([\d,\s]+)\].*manual_seed\((\d+)\)/.exec(c.latents_seed_note ?? '');
  if (!match) return null;
  return { shape: match[1]!.split(',').map((d) => Number(d.trim())), seed: Number(match[2]) };
}

/** A session over `network`'s graph built from the goldens folder's config and weights (no cache). */
export async function openGoldenNetwork(network: NetworkName, dtype: FloatType): ReturnType<typeof openGraph> {
  const open = async <C extends ComponentName>(recipe: GraphRecipe<C>): ReturnType<typeof openGraph> => {
    const config = await readComponentConfig(GOLDENS_DIR, recipe.component);
    const weights = await SafetensorsWeights.open(await findWeightFiles(GOLDENS_DIR, recipe.component, dtype));
    try {
      const vb = VarBuilder.from(weights);
      const graph = recipe.build(vb, config, dtype);
      vb.check({ ignoreUnusedPrefixes: recipe.ignoreUnusedPrefixes ?? [] });
      // openGraph writes the model, reading the weights, before the file is closed.
      return await openGraph(graph);
    } finally {
      await weights.close();
    }
  };
  return open(NETWORK_RECIPES[network]);
}

/**
 * Runs every reference case the goldens folder has for `network` through its `dtype` graph: output shape equal,
 * max abs error within referenceTolerance (fp32 1e-4; fp16 1% of the output range).
 */
export async function assertGoldenCases(t: TestContext, network: NetworkName, dtype: FloatType): Promise<void> {
  const cases = await listReferenceCases(GOLDENS_DIR, network);
  assert.ok(cases.length > 0, `no ${network} cases in ${GOLDENS_DIR}`);
  const vae = await readComponentConfig(GOLDENS_DIR, 'vae');
  const { session, dispose } = await openGoldenNetwork(network, dtype);
  try {
    for (const c of cases) {
      const reference = await readReferenceCase(c, vae);
      const out = (await session.run(reference.feeds))[reference.outputName]!;
      assert.deepEqual(out.dims, reference.expectedDims, `${c.name}: output shape`);
      const result = compareWithReference(out.data as Float32Array, out.dims, reference, dtype);
      t.diagnostic(`${c.name} (${dtype}): max abs error ${result.maxAbsError.toExponential(2)} (abs max ${result.absMax.toFixed(2)})`);
      assert.ok(result.ok, `${c.name} (${dtype}): max abs error ${result.maxAbsError} over ${result.tolerance}`);
    }
  } finally {
    await dispose();
  }
}
