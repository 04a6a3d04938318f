// Creating ONNX Runtime sessions with the engine's options. onnxruntime-node 1.30 exposes, for CUDA, only the
// device id; a missing CUDA provider makes creation throw (no silent CPU fallback), which we report as such.
// @see https://onnxruntime.ai/docs/api/js/interfaces/InferenceSession.SessionOptions.html
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { decodeModel } from './proto.js';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface SessionOptions {
  executionProvider?: ExecutionProvider;
  /** CUDA device ordinal. */
  deviceId?: number;
  /** Threads of one operator (default: ONNX Runtime's choice, one per physical core). */
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  /** Graph optimization level (default 'all', which includes the CPU EP's NCHWc convolution layout). */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'layout' | 'all';
  /** The CPU memory arena: faster repeated runs, memory kept after a run (default true). */
  enableCpuMemArena?: boolean;
  /**
   * Memory patterns: from the second run of a shape on, all intermediate tensors come from one block planned from
   * the first run (default true). That block comes on top of what the arena already holds.
   */
  enableMemPattern?: boolean;
  /** Writes a chrome-trace JSON profile (`${profileFilePrefix}_<date>.json`) when the session ends profiling. */
  enableProfiling?: boolean;
  profileFilePrefix?: string;
  /** 0 verbose .. 4 fatal (default 3: errors only). */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
}

/** Session creation failed (bad model file, missing execution provider, ...). */
export class OrtSessionError extends Error {
  constructor(
    readonly modelPath: string,
    readonly executionProvider: ExecutionProvider,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`cannot create an ONNX Runtime session for ${modelPath} on ${executionProvider}: ${message}`, options);
    this.name = 'OrtSessionError';
  }
}

/** ONNX Runtime session options for `options`. */
export function ortSessionOptions(options: SessionOptions = {}): ort.InferenceSession.SessionOptions {
  const ep = options.executionProvider ?? 'cpu';
  const o: ort.InferenceSession.SessionOptions = {
    executionProviders: ep === 'cuda' ? [{ name: 'cuda', deviceId: options.deviceId ?? 0 }] : ['cpu'],
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    enableCpuMemArena: options.enableCpuMemArena ?? true,
    enableMemPattern: options.enableMemPattern ?? true,
    executionMode: 'sequential',
    logSeverityLevel: options.logSeverityLevel ?? 3,
  };
  if (options.intraOpNumThreads !== undefined) o.intraOpNumThreads = options.intraOpNumThreads;
  if (options.interOpNumThreads !== undefined) o.interOpNumThreads = options.interOpNumThreads;
  if (options.enableProfiling) {
    o.enableProfiling = true;
    if (options.profileFilePrefix !== undefined) o.profileFilePrefix = options.profileFilePrefix;
  }
  return o;
}

/**
 * Loads a model file and its external data files into memory and creates the session from those bytes.
 *
 * Why not by path: ONNX Runtime then memory-maps the external data and reads the mapping for as long as the
 * session lives, so a file truncated under a running engine (a restored backup, a copy over the graph cache)
 * raises SIGBUS at the next run and kills the whole process (measured: exit 135 on the demo model's UNet). Given
 * the bytes, ONNX Runtime copies the weights into the session (measured: overwriting the buffers after creation
 * changes no output), so the buffers are garbage once this returns and nothing on disk is read again.
 */
export async function createSession(modelPath: string, options: SessionOptions = {}): Promise<ort.InferenceSession> {
  const ep = options.executionProvider ?? 'cpu';
  const model = await readFile(modelPath);
  const externalData = await Promise.all(externalDataFiles(model).map(async (path) => ({ path, data: await readFile(join(dirname(modelPath), path)) })));
  try {
    return await ort.InferenceSession.create(model, { ...ortSessionOptions(options), externalData });
  } catch (e) {
    const reason = (e as Error).message;
    const hint =
      ep === 'cuda'
        ? ' (the CUDA execution provider needs ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node, CUDA 12 and cuDNN 9)'
        : '';
    throw new OrtSessionError(modelPath, ep, `${reason}${hint}`, { cause: e });
  }
}

/** The external data files a model's initializers name (paths relative to the model file). */
function externalDataFiles(model: Uint8Array): string[] {
  const locations = decodeModel(model).graph.initializer.flatMap((t) => t.external_data?.filter((e) => e.key === 'location').map((e) => e.value) ?? []);
  return [...new Set(locations)];
}
