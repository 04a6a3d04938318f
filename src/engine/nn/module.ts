// The base of every graph-building module. A module is constructed from a VarBuilder scoped to its checkpoint key
// prefix (which requests and checks its weights) and emits ONNX nodes named after that prefix when `forward` is
// called with a BuildContext. Child modules are properties named like the PyTorch attributes (snake_case), so the
// property path is the weight key.
import { type DataType, type GraphBuilder, type HostData, numel, type Ops, type Value } from '../onnx/graph_builder.js';
import type { VarBuilder, WeightRef } from '../weights/var_builder.js';

/** Element type of a graph's activations and weights. */
export type FloatType = 'float32' | 'float16';

export interface ParamOptions {
  /** Only rows [start, end) of the first axis (a weight the checkpoint stores fused, such as GEGLU's proj). */
  rows?: readonly [number, number];
  /** The same values viewed with other dims (same element count), e.g. a (3, 1, 1) Conv3d kernel as (3, 1). */
  dims?: readonly number[];
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
    const read = (): Promise<HostData> => (dtype === 'float16' ? ref.readHalfBits() : ref.read());
    if (options.dims) {
      if (numel(options.dims) !== numel(ref.shape)) throw new Error(`cannot view ${ref.key} [${ref.shape}] as [${options.dims}]`);
      return this.graph.weight(ref.key, dtype, options.dims, read, [ref.key]);
    }
    if (!options.rows) return this.graph.weight(ref.key, dtype, ref.shape, read, [ref.key]);
    const [start, end] = options.rows;
    const [first, ...rest] = ref.shape;
    if (first === undefined || start < 0 || end > first || start >= end) throw new Error(`rows [${start}, ${end}) are outside ${ref.key} [${ref.shape}]`);
    const rowSize = numel(rest);
    return this.graph.weight(`${ref.key}[${start}:${end}]`, dtype, [end - start, ...rest], async () => (await read()).slice(start * rowSize, end * rowSize), [ref.key]);
  }
}

export abstract class Module {
  constructor(readonly vb: VarBuilder) {}

  /** The module path (= checkpoint key prefix), used to name its nodes. */
  get path(): string {
    return this.vb.prefix;
  }
}
