// Writes a GraphBuilder graph as an .onnx file, with its weights in external data files beside it (required
// above protobuf's 2 GB limit) or inside the protobuf. With external data, weights are read and written one at a
// time, so memory stays at about one tensor whatever the model size.
import { open, writeFile, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { float32ToHalfBits } from '../weights/dtypes.js';
import { BYTES_PER_ELEMENT, type DataType, type Dim, type GraphBuilder, type GraphIO, type HostData, type Initializer, OPSET_IMPORTS, ONNX_DATA_TYPE, numel } from './graph_builder.js';
import { type DimensionProto, encodeModel, IR_VERSION, type ModelProto, type TensorProto, type ValueInfoProto } from './proto.js';

/** Tensors at least this large go to the external data file when external data is used. */
const EXTERNAL_MIN_BYTES = 1024;
/**
 * Weights go to `model.onnx.data`, then `model.onnx.data.1`, ... of at most this size each (a tensor larger than
 * that gets a file of its own): createSession reads each file into one buffer, and Node reads at most 2 GiB into
 * one buffer (the real fp32 UNet has 5.3 GiB of weights).
 */
export const EXTERNAL_FILE_MAX_BYTES = 2 ** 30;

export interface WriteModelOptions {
  /**
   * Store weights in `${modelPath}.data` (and more files past EXTERNAL_FILE_MAX_BYTES) (default true): required
   * above protobuf's 2 GB limit, and at any size it keeps writing memory at one tensor. false embeds them.
   */
  externalData?: boolean;
  /** Default EXTERNAL_FILE_MAX_BYTES (tests split small graphs). */
  maxDataFileBytes?: number;
  /** Key/value pairs stored in the model's metadata_props. */
  metadata?: Record<string, string>;
  /** Called after each weight is written. */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

export interface WrittenModel {
  modelPath: string;
  /** Paths of the external data files written, in order (none when weights are embedded). */
  dataPaths: string[];
  weightBytes: number;
}

function toBytes(data: HostData, dtype: DataType, name: string): Uint8Array {
  let typed: HostData = data;
  if (dtype === 'float16' && data instanceof Float32Array) typed = float32ToHalfBits(data);
  const matches: Record<DataType, boolean> = {
    float32: typed instanceof Float32Array,
    float16: typed instanceof Uint16Array,
    int64: typed instanceof BigInt64Array,
    int32: typed instanceof Int32Array,
    bool: typed instanceof Uint8Array,
    uint8: typed instanceof Uint8Array,
  };
  if (!matches[dtype]) throw new Error(`initializer ${name}: ${typed.constructor.name} data cannot be stored as ${dtype}`);
  return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
}

function dimProto(d: Dim): DimensionProto {
  return typeof d === 'number' ? { dim_value: d } : { dim_param: d };
}

function valueInfo(io: GraphIO): ValueInfoProto {
  return { name: io.name, type: { tensor_type: { elem_type: ONNX_DATA_TYPE[io.dtype], shape: { dim: io.dims.map(dimProto) } } } };
}

function byteSize(init: Initializer): number {
  return numel(init.dims) * BYTES_PER_ELEMENT[init.dtype];
}

async function readData(init: Initializer): Promise<Uint8Array> {
  const data = init.data.kind === 'inline' ? init.data.data : await init.data.read();
  if (data.length !== numel(init.dims)) {
    throw new Error(`initializer ${init.name}: read ${data.length} values for dims [${init.dims}]`);
  }
  return toBytes(data, init.dtype, init.name);
}

/** Writes `graph` to `modelPath` (and its weights to `${modelPath}.data`, ... when stored externally). */
export async function writeModel(graph: GraphBuilder, modelPath: string, options: WriteModelOptions = {}): Promise<WrittenModel> {
  const inits = [...graph.initializers.values()];
  const weightBytes = inits.reduce((sum, init) => sum + byteSize(init), 0);
  const external = options.externalData ?? true;
  const maxFileBytes = options.maxDataFileBytes ?? EXTERNAL_FILE_MAX_BYTES;
  const dataPaths: string[] = [];
  const tensors: TensorProto[] = [];
  let done = 0;
  const progress = (bytes: number): void => {
    done += bytes;
    options.onProgress?.(done, weightBytes);
  };

  let file: FileHandle | undefined;
  try {
    let offset = 0;
    for (const init of inits) {
      const size = byteSize(init);
      const base: TensorProto = { name: init.name, dims: [...init.dims], data_type: ONNX_DATA_TYPE[init.dtype] };
      const bytes = await readData(init);
      if (!external || size < EXTERNAL_MIN_BYTES) {
        tensors.push({ ...base, raw_data: bytes });
      } else {
        if (file === undefined || offset + bytes.length > maxFileBytes) {
          await file?.close();
          dataPaths.push(dataPaths.length === 0 ? `${modelPath}.data` : `${modelPath}.data.${dataPaths.length}`);
          file = await open(dataPaths.at(-1)!, 'w');
          offset = 0;
        }
        await file.write(bytes, 0, bytes.length, offset);
        tensors.push({
          ...base,
          data_location: 1,
          external_data: [
            { key: 'location', value: basename(dataPaths.at(-1)!) },
            { key: 'offset', value: String(offset) },
            { key: 'length', value: String(bytes.length) },
          ],
        });
        offset += bytes.length;
      }
      progress(size);
    }
  } finally {
    await file?.close();
  }

  const model: ModelProto = {
    ir_version: IR_VERSION,
    opset_import: OPSET_IMPORTS.map((o) => ({ domain: o.domain, version: o.version })),
    producer_name: 't2v-bot',
    producer_version: '1',
    graph: {
      name: graph.name,
      node: graph.nodeProtos(),
      initializer: tensors,
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
    },
    metadata_props: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
  await writeFile(modelPath, encodeModel(model));
  return { modelPath, dataPaths, weightBytes };
}
