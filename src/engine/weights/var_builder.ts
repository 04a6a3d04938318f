// Weights scoped by checkpoint-key prefix, after candle's VarBuilder: `vb.pp('down_blocks').pp(0).get([320, 4, 3, 3],
// 'weight')`. Every `get` records the key and the shape the config implies; `check()` then compares the records
// with the checkpoint and throws one WeightsMismatchError that names the first offender (missing tensor, wrong shape
// or dtype, unexpected tensor). Placeholder builders record keys without any checkpoint, for building graphs of
// big configs without their weights.
import { float32ToHalfBits } from './dtypes.js';
import { FLOAT_DTYPES, type SafetensorsDType, SafetensorsFile, type TensorInfo } from './safetensors.js';

/** A weight of the checkpoint, read on demand. */
export interface WeightRef {
  readonly key: string;
  /** The shape the config implies (and, after a passing check, the checkpoint's shape). */
  readonly shape: readonly number[];
  read(): Promise<Float32Array>;
  /** As IEEE half bits (fp16 graphs); F16 checkpoint data comes as stored. */
  readHalfBits(): Promise<Uint16Array>;
}

/** Where weights come from: one safetensors file or several (sharded checkpoints). */
export interface WeightSource {
  /** For error messages: the file (or files) the weights come from. */
  readonly description: string;
  info(key: string): Pick<TensorInfo, 'dtype' | 'shape'> | undefined;
  keys(): Iterable<string>;
  readFloat32(key: string): Promise<Float32Array>;
  readHalfBits(key: string): Promise<Uint16Array>;
}

/** The weights of one or more open safetensors files (the shards of one checkpoint). */
export class SafetensorsWeights implements WeightSource {
  private readonly byKey = new Map<string, SafetensorsFile>();

  private constructor(readonly files: readonly SafetensorsFile[]) {
    for (const file of files) {
      for (const key of file.tensors.keys()) {
        const other = this.byKey.get(key);
        if (other) throw new Error(`tensor ${key} appears in both ${other.path} and ${file.path}`);
        this.byKey.set(key, file);
      }
    }
  }

  static async open(paths: readonly string[]): Promise<SafetensorsWeights> {
    const files: SafetensorsFile[] = [];
    try {
      for (const path of paths) files.push(await SafetensorsFile.open(path));
      return new SafetensorsWeights(files);
    } catch (e) {
      await Promise.all(files.map((f) => f.close()));
      throw e;
    }
  }

  get description(): string {
    return this.files.map((f) => f.path).join(', ');
  }
  info(key: string): TensorInfo | undefined {
    return this.byKey.get(key)?.tensors.get(key);
  }
  keys(): Iterable<string> {
    return this.byKey.keys();
  }
  readFloat32(key: string): Promise<Float32Array> {
    return this.file(key).readFloat32(key);
  }
  readHalfBits(key: string): Promise<Uint16Array> {
    return this.file(key).readHalfBits(key);
  }
  private file(key: string): SafetensorsFile {
    const file = this.byKey.get(key);
    if (!file) throw new Error(`no tensor ${key} in ${this.description}`);
    return file;
  }
  async close(): Promise<void> {
    await Promise.all(this.files.map((f) => f.close()));
  }
}

export interface ShapeMismatch {
  key: string;
  expected: readonly number[];
  actual: readonly number[];
}

export interface DTypeMismatch {
  key: string;
  actual: SafetensorsDType;
}

/** The checkpoint does not match what the model config implies. `message` names the first offender. */
export class WeightsMismatchError extends Error {
  constructor(
    readonly source: string,
    readonly missing: readonly string[],
    readonly unexpected: readonly string[],
    readonly shapeMismatch: readonly ShapeMismatch[],
    readonly dtypeMismatch: readonly DTypeMismatch[],
    first: string,
  ) {
    const counts = [
      missing.length && `${missing.length} missing`,
      shapeMismatch.length && `${shapeMismatch.length} with the wrong shape`,
      dtypeMismatch.length && `${dtypeMismatch.length} with a non-float dtype`,
      unexpected.length && `${unexpected.length} unexpected`,
    ].filter(Boolean);
    super(`weights in ${source} do not match the model config: ${first} (${counts.join(', ')} tensor(s) in all)`);
    this.name = 'WeightsMismatchError';
  }
}

type Problem =
  | { kind: 'missing'; key: string; expected: readonly number[] }
  | { kind: 'shape'; key: string; expected: readonly number[]; actual: readonly number[] }
  | { kind: 'dtype'; key: string; actual: SafetensorsDType };

/** Produces the data of a weight that has no checkpoint (placeholder builders). */
export type WeightFill = (key: string, shape: readonly number[]) => Float32Array;

/** State shared by a VarBuilder and every builder derived from it with `pp`. */
class Registry {
  readonly used = new Map<string, readonly number[]>();
  readonly problems: Problem[] = [];
  constructor(
    readonly source: WeightSource | undefined,
    readonly fill: WeightFill | undefined,
  ) {}
}

export interface CheckOptions {
  /** Checkpoint keys under these prefixes may stay unused (for example the VAE encoder when only decoding). */
  ignoreUnusedPrefixes?: readonly string[];
}

export class VarBuilder {
  private constructor(
    private readonly registry: Registry,
    /** The key prefix of this scope, without the trailing dot ('' at the root). */
    readonly prefix: string,
  ) {}

  /** Weights from a checkpoint. */
  static from(source: WeightSource): VarBuilder {
    return new VarBuilder(new Registry(source, undefined), '');
  }

  /**
   * No checkpoint: records the keys and shapes the config implies. Weights read through `fill` (for example
   * seeded random weights for benchmarks); without it they cannot be read, only listed.
   */
  static placeholder(fill?: WeightFill): VarBuilder {
    return new VarBuilder(new Registry(undefined, fill), '');
  }

  /** A child scope, `vb.pp('down_blocks').pp(0)` for `down_blocks.0.`. */
  pp(name: string | number): VarBuilder {
    return new VarBuilder(this.registry, this.key(String(name)));
  }

  /** The full checkpoint key of `name` in this scope. */
  key(name: string): string {
    return this.prefix === '' ? name : `${this.prefix}.${name}`;
  }

  /** A float weight of the given shape; recorded for `check()`. */
  get(shape: readonly number[], name: string): WeightRef {
    const key = this.key(name);
    const recorded = this.registry.used.get(key);
    if (recorded && recorded.join() !== shape.join()) {
      throw new Error(`model code asked for ${key} with shapes [${recorded}] and [${shape}]`);
    }
    if (!recorded) {
      this.registry.used.set(key, [...shape]);
      this.validate(key, shape);
    }
    const { source, fill } = this.registry;
    const fixedShape = [...shape];
    const read = async (): Promise<Float32Array> => {
      if (source) return source.readFloat32(key);
      if (fill) return fill(key, fixedShape);
      throw new Error(`placeholder weight ${key} has no data`);
    };
    return {
      key,
      shape: fixedShape,
      read,
      readHalfBits: async () => (source ? source.readHalfBits(key) : float32ToHalfBits(await read())),
    };
  }

  private validate(key: string, shape: readonly number[]): void {
    const source = this.registry.source;
    if (!source) return;
    const info = source.info(key);
    if (!info) this.registry.problems.push({ kind: 'missing', key, expected: shape });
    else if (info.shape.join() !== shape.join()) this.registry.problems.push({ kind: 'shape', key, expected: shape, actual: info.shape });
    else if (!FLOAT_DTYPES.includes(info.dtype)) this.registry.problems.push({ kind: 'dtype', key, actual: info.dtype });
  }

  /** Every key requested so far with the shape the config implies, in request order. */
  usedKeys(): ReadonlyMap<string, readonly number[]> {
    return this.registry.used;
  }

  /**
   * Throws WeightsMismatchError unless every requested weight exists with the implied shape and a float dtype,
   * and every checkpoint tensor was requested (outside `ignoreUnusedPrefixes`).
   */
  check(options: CheckOptions = {}): void {
    const source = this.registry.source;
    if (!source) return;
    const ignore = options.ignoreUnusedPrefixes ?? [];
    const unexpected = [...source.keys()].filter((k) => !this.registry.used.has(k) && !ignore.some((p) => k.startsWith(p))).sort();
    const problems = this.registry.problems;
    if (problems.length === 0 && unexpected.length === 0) return;
    const missing = problems.flatMap((p) => (p.kind === 'missing' ? [p.key] : []));
    const shapes = problems.flatMap((p) => (p.kind === 'shape' ? [{ key: p.key, expected: p.expected, actual: p.actual }] : []));
    const dtypes = problems.flatMap((p) => (p.kind === 'dtype' ? [{ key: p.key, actual: p.actual }] : []));
    const firstProblem = problems[0];
    let first: string;
    if (!firstProblem) first = `unexpected tensor ${unexpected[0]} (not part of this model config)`;
    else if (firstProblem.kind === 'missing') first = `missing tensor ${firstProblem.key} (expected shape [${firstProblem.expected}])`;
    else if (firstProblem.kind === 'shape') first = `tensor ${firstProblem.key} has shape [${firstProblem.actual}], expected [${firstProblem.expected}]`;
    else first = `tensor ${firstProblem.key} has dtype ${firstProblem.actual}, expected one of ${FLOAT_DTYPES.join(', ')}`;
    throw new WeightsMismatchError(source.description, missing, unexpected, shapes, dtypes, first);
  }
}
