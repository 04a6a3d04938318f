// A small ONNX graph builder: typed values, nodes named after the module path that created them, symbolic input
// dimensions, and initializers that are either inline constants or lazily read weights (read only when the model
// is written, so building a graph for the 1.7B model never loads a weight). `Ops` holds one typed helper per ONNX
// operator we use; modules get an `Ops` scoped to their weight-key prefix so node names read like the PyTorch
// module tree (`down_blocks.0.resnets.1.conv1/Conv`) in profiles and graph dumps.
import { float32ToHalfBits } from '../weights/dtypes.js';
import { TensorDataType, type AttributeProto, AttributeType, type NodeProto } from './proto.js';

export type DataType = 'float32' | 'float16' | 'int64' | 'int32' | 'bool' | 'uint8';
/** A dimension: a fixed size or a symbolic name (`batch`, `frames`, ...). */
export type Dim = number | string;

export const ONNX_DATA_TYPE: Record<DataType, TensorDataType> = {
  float32: TensorDataType.FLOAT,
  float16: TensorDataType.FLOAT16,
  int64: TensorDataType.INT64,
  int32: TensorDataType.INT32,
  bool: TensorDataType.BOOL,
  uint8: TensorDataType.UINT8,
};

export const BYTES_PER_ELEMENT: Record<DataType, number> = {
  float32: 4,
  float16: 2,
  int64: 8,
  int32: 4,
  bool: 1,
  uint8: 1,
};

/** A tensor in the graph: its unique name and element type. */
export interface Value {
  readonly name: string;
  readonly dtype: DataType;
}

/**
 * Host data of an initializer. Float32Array data is converted to the initializer's dtype when written; Uint16Array
 * holds float16 bits.
 */
export type HostData = Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array;

/** Data of an initializer: inline (small constants) or read when the model is written (weights). */
export type InitializerData =
  | { kind: 'inline'; data: HostData }
  | { kind: 'lazy'; read: () => Promise<HostData>; sourceKeys: readonly string[] };

export interface Initializer {
  readonly name: string;
  readonly dtype: DataType;
  readonly dims: readonly number[];
  readonly data: InitializerData;
}

export interface GraphIO {
  readonly name: string;
  readonly dtype: DataType;
  readonly dims: readonly Dim[];
}

export interface GraphNode {
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: readonly AttributeProto[];
}

/** A typed attribute value; build with `attr.int(..)`, `attr.float(..)`, etc. */
export type Attr = AttributeProto;

function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

export const attr = {
  int: (i: number): Omit<Attr, 'name'> => ({ type: AttributeType.INT, i }),
  float: (f: number): Omit<Attr, 'name'> => ({ type: AttributeType.FLOAT, f }),
  ints: (ints: readonly number[]): Omit<Attr, 'name'> => ({ type: AttributeType.INTS, ints: [...ints] }),
  string: (s: string): Omit<Attr, 'name'> => ({ type: AttributeType.STRING, s: utf8(s) }),
};

export type Attrs = Record<string, Omit<Attr, 'name'>>;

/** Element count of a fixed shape. */
export function numel(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** The operator sets our graphs import: ONNX opset 21 and the ONNX Runtime contrib ops. */
export const OPSET_IMPORTS = [
  { domain: '', version: 21 },
  { domain: 'com.microsoft', version: 1 },
] as const;

export class GraphBuilder {
  readonly inputs: GraphIO[] = [];
  readonly outputs: GraphIO[] = [];
  readonly nodes: GraphNode[] = [];
  readonly initializers = new Map<string, Initializer>();
  private readonly usedNames = new Set<string>();
  private readonly constantCache = new Map<string, Value>();

  constructor(readonly name: string) {}

  /** Declares a graph input with (possibly symbolic) dims. */
  input(name: string, dtype: DataType, dims: readonly Dim[]): Value {
    this.claim(name);
    this.inputs.push({ name, dtype, dims: [...dims] });
    return { name, dtype };
  }

  /** Declares `value` as a graph output called `name` (an Identity node renames it when needed). */
  output(value: Value, name: string, dims: readonly Dim[]): void {
    let produced = value;
    if (value.name !== name) {
      this.claim(name);
      this.nodes.push({ name: `${name}/Identity`, opType: 'Identity', domain: '', inputs: [value.name], outputs: [name], attributes: [] });
      produced = { name, dtype: value.dtype };
    }
    this.outputs.push({ name: produced.name, dtype: produced.dtype, dims: [...dims] });
  }

  /** Ops whose node names start with `scope` (a module path such as `down_blocks.0.resnets.1`). */
  at(scope: string): Ops {
    return new Ops(this, scope);
  }

  /**
   * Adds (or reuses) a weight initializer read lazily when the model is written. The same name always means the
   * same data, so a weight used twice is stored once.
   */
  weight(name: string, dtype: DataType, dims: readonly number[], read: () => Promise<HostData>, sourceKeys: readonly string[]): Value {
    const existing = this.initializers.get(name);
    if (existing) {
      if (existing.dtype !== dtype || existing.dims.join() !== dims.join()) {
        throw new Error(`initializer ${name} was added twice with different types: ${existing.dtype}[${existing.dims}] vs ${dtype}[${dims}]`);
      }
      return { name, dtype };
    }
    this.claim(name);
    this.initializers.set(name, { name, dtype, dims: [...dims], data: { kind: 'lazy', read, sourceKeys } });
    return { name, dtype };
  }

  /** An inline constant; identical small constants are shared. */
  constant(data: HostData, dtype: DataType, dims: readonly number[], hint = 'const'): Value {
    if (numel(dims) !== data.length) throw new Error(`constant ${hint}: ${data.length} values for dims [${dims}]`);
    const key = data.length <= 64 ? `${dtype}[${dims}]=${Array.from(data as ArrayLike<number | bigint>).join(',')}` : undefined;
    const cached = key === undefined ? undefined : this.constantCache.get(key);
    if (cached) return cached;
    const name = this.uniqueName(`${hint}`);
    this.initializers.set(name, { name, dtype, dims: [...dims], data: { kind: 'inline', data } });
    const value = { name, dtype };
    if (key !== undefined) this.constantCache.set(key, value);
    return value;
  }

  /** Adds a node; returns its outputs. */
  addNode(
    opType: string,
    nodeName: string,
    inputs: readonly (Value | undefined)[],
    outputDtypes: readonly DataType[],
    attrs: Attrs = {},
    domain = '',
  ): Value[] {
    const name = this.uniqueName(nodeName);
    const outputs = outputDtypes.map((dtype, i) => ({ name: outputDtypes.length === 1 ? `${name}:out` : `${name}:out${i}`, dtype }));
    for (const o of outputs) this.claim(o.name);
    const attributes = Object.entries(attrs).map(([attrName, a]) => ({ name: attrName, ...a }) as AttributeProto);
    this.nodes.push({ name, opType, domain, inputs: inputs.map((v) => v?.name ?? ''), outputs: outputs.map((o) => o.name), attributes });
    return outputs;
  }

  /** Nodes in ONNX protobuf form. */
  nodeProtos(): NodeProto[] {
    return this.nodes.map((n) => ({
      name: n.name,
      op_type: n.opType,
      domain: n.domain,
      input: [...n.inputs],
      output: [...n.outputs],
      attribute: [...n.attributes],
    }));
  }

  private uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.usedNames.has(name); i++) name = `${base}_${i}`;
    this.usedNames.add(name);
    return name;
  }

  private claim(name: string): void {
    if (this.usedNames.has(name)) throw new Error(`duplicate value name in graph: ${name}`);
    this.usedNames.add(name);
  }
}

/** A shape argument: fixed sizes and 1-element int64 values (dynamic sizes taken from `Ops.dim`). */
export type ShapePart = number | Value;

/** Typed helpers for the ONNX operators the models use, naming nodes `${scope}/${label}`. */
export class Ops {
  constructor(
    readonly graph: GraphBuilder,
    readonly scope: string,
  ) {}

  /** Ops for a child scope (`scope.child`), for parameter-free sub-steps and submodules. */
  child(child: string | number): Ops {
    return new Ops(this.graph, this.scope === '' ? String(child) : `${this.scope}.${child}`);
  }

  /** The node name for `label` in this scope. */
  nodeName(label: string): string {
    return this.scope === '' ? label : `${this.scope}/${label}`;
  }

  private one(op: string, inputs: readonly (Value | undefined)[], dtype: DataType, attrs: Attrs = {}, label = op, domain = ''): Value {
    const [out] = this.graph.addNode(op, this.nodeName(label), inputs, [dtype], attrs, domain);
    return out!;
  }

  // Constants.
  f32(values: readonly number[], dims: readonly number[] = [values.length]): Value {
    return this.graph.constant(Float32Array.from(values), 'float32', dims, 'f32');
  }
  i64(values: readonly number[], dims: readonly number[] = [values.length]): Value {
    return this.graph.constant(BigInt64Array.from(values.map((v) => BigInt(v))), 'int64', dims, 'i64');
  }
  /** A scalar of the given float dtype. */
  scalar(value: number, dtype: DataType): Value {
    if (dtype === 'float32') return this.f32([value], []);
    return this.graph.constant(float32ToHalfBits(Float32Array.of(value)), 'float16', [], 'f16');
  }

  // Elementwise.
  add(a: Value, b: Value, label = 'Add'): Value {
    return this.one('Add', [a, b], a.dtype, {}, label);
  }
  sub(a: Value, b: Value, label = 'Sub'): Value {
    return this.one('Sub', [a, b], a.dtype, {}, label);
  }
  mul(a: Value, b: Value, label = 'Mul'): Value {
    return this.one('Mul', [a, b], a.dtype, {}, label);
  }
  div(a: Value, b: Value, label = 'Div'): Value {
    return this.one('Div', [a, b], a.dtype, {}, label);
  }
  /** A one-input elementwise operator that keeps the dtype (Relu, Mish, ...). */
  unary(op: string, x: Value, label = op): Value {
    return this.one(op, [x], x.dtype, {}, label);
  }
  /** Exact (erf) GELU as com.microsoft.Gelu, which has CPU and CUDA kernels (same CPU kernel as ONNX Gelu-20). */
  gelu(x: Value, label = 'Gelu'): Value {
    return this.one('Gelu', [x], x.dtype, {}, label, 'com.microsoft');
  }
  /** x * sigmoid(alpha * x) (com.microsoft; CPU and CUDA kernels). */
  quickGelu(x: Value, alpha: number, label = 'QuickGelu'): Value {
    return this.one('QuickGelu', [x], x.dtype, { alpha: attr.float(alpha) }, label, 'com.microsoft');
  }
  cast(x: Value, to: DataType, label = 'Cast'): Value {
    if (x.dtype === to) return x;
    return this.one('Cast', [x], to, { to: attr.int(ONNX_DATA_TYPE[to]) }, label);
  }

  // Linear algebra.
  matmul(a: Value, b: Value, label = 'MatMul'): Value {
    return this.one('MatMul', [a, b], a.dtype, {}, label);
  }
  /** a [M, K] x b^T (b [N, K]) + c [N]: one GEMM with the bias fused into its output. */
  gemmTransB(a: Value, b: Value, c: Value | undefined, label = 'Gemm'): Value {
    return this.one('Gemm', c ? [a, b, c] : [a, b], a.dtype, { transB: attr.int(1) }, label);
  }
  conv(x: Value, w: Value, b: Value | undefined, o: { kernel: readonly number[]; pads: readonly number[]; strides?: readonly number[] }, label = 'Conv'): Value {
    const attrs: Attrs = { kernel_shape: attr.ints(o.kernel), pads: attr.ints(o.pads) };
    if (o.strides) attrs.strides = attr.ints(o.strides);
    return this.one('Conv', b ? [x, w, b] : [x, w], x.dtype, attrs, label);
  }

  // Normalization and attention.
  layerNorm(x: Value, scale: Value, bias: Value, epsilon: number, axis = -1, label = 'LayerNormalization'): Value {
    return this.one('LayerNormalization', [x, scale, bias], x.dtype, { axis: attr.int(axis), epsilon: attr.float(epsilon) }, label);
  }
  /** Inference-mode BatchNormalization over axis 1. */
  batchNorm(x: Value, scale: Value, bias: Value, mean: Value, variance: Value, epsilon: number, label = 'BatchNormalization'): Value {
    return this.one('BatchNormalization', [x, scale, bias, mean, variance], x.dtype, { epsilon: attr.float(epsilon) }, label);
  }
  instanceNorm(x: Value, scale: Value, bias: Value, epsilon: number, label = 'InstanceNormalization'): Value {
    return this.one('InstanceNormalization', [x, scale, bias], x.dtype, { epsilon: attr.float(epsilon) }, label);
  }
  /**
   * com.microsoft.MultiHeadAttention on separate Q [N, Sq, heads*dq], K [N, Sk, heads*dq], V [N, Sk, heads*dv];
   * output [N, Sq, heads*dv]. Softmax runs in fp32 on both CPU and CUDA.
   */
  multiHeadAttention(q: Value, k: Value, v: Value, numHeads: number, scale: number, attentionBias?: Value, label = 'MultiHeadAttention'): Value {
    const inputs: (Value | undefined)[] = [q, k, v];
    if (attentionBias) inputs.push(undefined, undefined, attentionBias);
    return this.one('MultiHeadAttention', inputs, q.dtype, { num_heads: attr.int(numHeads), scale: attr.float(scale) }, label, 'com.microsoft');
  }

  // Shape manipulation.
  shape(x: Value, start?: number, end?: number, label = 'Shape'): Value {
    const attrs: Attrs = {};
    if (start !== undefined) attrs.start = attr.int(start);
    if (end !== undefined) attrs.end = attr.int(end);
    return this.one('Shape', [x], 'int64', attrs, label);
  }
  /** Dimension `axis` of `x` as a 1-element int64 tensor. */
  dim(x: Value, axis: number, label = `dim${axis}`): Value {
    return this.shape(x, axis, axis + 1, label);
  }
  /** A 1-D int64 shape tensor from fixed and dynamic parts. */
  shapeOf(parts: readonly ShapePart[], label = 'shape'): Value {
    if (parts.every((p) => typeof p === 'number')) return this.i64(parts as number[]);
    const pieces = parts.map((p) => (typeof p === 'number' ? this.i64([p]) : p));
    return this.concat(pieces, 0, label);
  }
  reshape(x: Value, shape: readonly ShapePart[] | Value, label = 'Reshape'): Value {
    const s = Array.isArray(shape) ? this.shapeOf(shape, `${label}_shape`) : (shape as Value);
    return this.one('Reshape', [x, s], x.dtype, {}, label);
  }
  transpose(x: Value, perm: readonly number[], label = 'Transpose'): Value {
    return this.one('Transpose', [x], x.dtype, { perm: attr.ints(perm) }, label);
  }
  concat(xs: readonly Value[], axis: number, label = 'Concat'): Value {
    return this.one('Concat', xs, xs[0]!.dtype, { axis: attr.int(axis) }, label);
  }
  /** Splits `x` along `axis` into pieces of the given sizes. */
  split(x: Value, sizes: readonly number[], axis: number, label = 'Split'): Value[] {
    return this.graph.addNode('Split', this.nodeName(label), [x, this.i64(sizes)], sizes.map(() => x.dtype), { axis: attr.int(axis) });
  }
  gather(data: Value, indices: Value, axis = 0, label = 'Gather'): Value {
    return this.one('Gather', [data, indices], data.dtype, { axis: attr.int(axis) }, label);
  }
  slice(x: Value, starts: Value, ends: Value, axes: readonly number[], label = 'Slice'): Value {
    return this.one('Slice', [x, starts, ends, this.i64(axes)], x.dtype, {}, label);
  }
  expand(x: Value, shape: readonly ShapePart[] | Value, label = 'Expand'): Value {
    const s = Array.isArray(shape) ? this.shapeOf(shape, `${label}_shape`) : (shape as Value);
    return this.one('Expand', [x, s], x.dtype, {}, label);
  }
  /** Zero padding; `pads` is ONNX's [begin_0, begin_1, ..., end_0, end_1, ...]. */
  pad(x: Value, pads: readonly number[], label = 'Pad'): Value {
    return this.one('Pad', [x, this.i64(pads)], x.dtype, {}, label);
  }
  unsqueeze(x: Value, axes: readonly number[], label = 'Unsqueeze'): Value {
    return this.one('Unsqueeze', [x, this.i64(axes)], x.dtype, {}, label);
  }
  /** Nearest-neighbour resize of the last two axes to `sizes` [H, W], with PyTorch's `F.interpolate(mode="nearest")` index rule. */
  resizeNearest(x: Value, sizes: Value, label = 'Resize'): Value {
    return this.one(
      'Resize',
      [x, undefined, undefined, sizes],
      x.dtype,
      {
        mode: attr.string('nearest'),
        coordinate_transformation_mode: attr.string('asymmetric'),
        nearest_mode: attr.string('floor'),
        axes: attr.ints([2, 3]),
      },
      label,
    );
  }
}
