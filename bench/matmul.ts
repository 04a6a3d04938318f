// The machine's fp32 MatMul speed through ONNX Runtime with the bench's session options: (4096 x 1024) x
// (1024 x 1024), the size the platform notes quote. The machine is shared, so the UNet is compared with what the
// same cores delivered around it (the whole bench) or just before each call (`--unet-only`).
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../src/engine/onnx/graph_builder.js';
import { writeModel } from '../src/engine/onnx/serialize.js';
import { createSession, type SessionOptions } from '../src/engine/onnx/session.js';

export const MATMUL = { m: 4096, k: 1024, n: 1024 } as const;

export class MatmulProbe {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly feeds: Record<string, ort.Tensor>,
  ) {}

  /** A session over the probe graph, written into `dir`, warmed up by one run. */
  static async open(dir: string, sessionOptions: SessionOptions): Promise<MatmulProbe> {
    const { m, k, n } = MATMUL;
    const graph = new GraphBuilder('matmul_probe');
    const a = graph.input('a', 'float32', [m, k]);
    const b = graph.input('b', 'float32', [k, n]);
    graph.output(graph.at('probe').matmul(a, b), 'c', [m, n]);
    const path = join(dir, 'matmul_probe.onnx');
    await writeModel(graph, path, { externalData: false });
    const probe = new MatmulProbe(await createSession(path, sessionOptions), {
      a: new ort.Tensor('float32', Float32Array.from({ length: m * k }, (_, i) => Math.sin(i)), [m, k]),
      b: new ort.Tensor('float32', Float32Array.from({ length: k * n }, (_, i) => Math.cos(i)), [k, n]),
    });
    await probe.session.run(probe.feeds);
    return probe;
  }

  /** GFLOP/s of each of `runs` runs. */
  async measure(runs: number): Promise<number[]> {
    const { m, k, n } = MATMUL;
    const rates: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await this.session.run(this.feeds);
      rates.push((2 * m * k * n) / ((performance.now() - t) / 1000) / 1e9);
    }
    return rates;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
