// Shared by the engine graph tests: write a built graph to a temporary directory, run it on the CPU EP.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { GraphBuilder } from '../../src/engine/onnx/graph_builder.js';
import { writeModel } from '../../src/engine/onnx/serialize.js';
import { createSession } from '../../src/engine/onnx/session.js';

/** A session over `graph` (weights read now) and a dispose function removing its files. */
export async function openGraph(graph: GraphBuilder): Promise<{ session: ort.InferenceSession; dispose: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 't2v-graph-test-'));
  const modelPath = join(dir, 'model.onnx');
  await writeModel(graph, modelPath);
  const session = await createSession(modelPath, { intraOpNumThreads: 2 });
  return {
    session,
    dispose: async () => {
      await session.release();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `graph` once on `feeds`. */
export async function runGraph(graph: GraphBuilder, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const { session, dispose } = await openGraph(graph);
  try {
    return await session.run(feeds);
  } finally {
    await dispose();
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
  }
  return max;
}

/** Deterministic values in about [-scale, scale]. */
export function wave(n: number, seed: number, scale = 0.9): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin((i + 1) * 12.9898 + seed * 78.233) * scale);
}

export function f32(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, [...dims]);
}

export function i64(data: BigInt64Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('int64', data, [...dims]);
}
