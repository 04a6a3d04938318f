// The base of every graph-building module. A module is constructed from a VarBuilder scoped to its checkpoint key
// prefix (which requests and checks its weights) and emits ONNX nodes named after that prefix when `forward` is
// called with a BuildContext. Child modules are properties named like the PyTorch attributes (snake_case), so the
// property path is the weight key.
import type { DataType, GraphBuilder, Ops, Value } from '../onnx/graph_builder.js';
import type { VarBuilder, WeightRef } from '../weights/var_builder.js';

/** Element type of a graph's activations and weights. */
export type FloatType = 'float32' | 'float16';

export interface ParamOptions {
  /** Stores the 2-D weight transposed ([in, out]) so MatMul needs no Transpose node. */
  transpose?: boolean;
  /** Element type in the graph (default: the graph's dtype). fp16 graphs keep norm parameters in float32. */
  dtype?: DataType;
}

/** What `forward` builds into: the graph and its activation dtype. */
export class BuildContext {
  constructor(
    readonly graph: GraphBuilder,
    readonly dtype: FloatType,
  ) {}

  /** Ops whose node names start with `scope`. */
  ops(scope: string): Ops {
    return this.graph.at(scope);
  }

  /** A checkpoint weight as a graph initializer (read when the model is written). */
  param(ref: WeightRef, options: ParamOptions = {}): Value {
    const dtype = options.dtype ?? this.dtype;
    if (!options.transpose) return this.graph.weight(ref.key, dtype, ref.shape, () => ref.read(), [ref.key]);
    const [rows, cols] = ref.shape;
    if (ref.shape.length !== 2 || rows === undefined || cols === undefined) throw new Error(`cannot transpose ${ref.key} of shape [${ref.shape}]`);
    return this.graph.weight(`${ref.key}^T`, dtype, [cols, rows], async () => transpose2d(await ref.read(), rows, cols), [ref.key]);
  }
}

function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[base + c]!;
  }
  return out;
}

export abstract class Module {
  constructor(readonly vb: VarBuilder) {}

  /** The module path (= checkpoint key prefix), used to name its nodes. */
  get path(): string {
    return this.vb.prefix;
  }
}
