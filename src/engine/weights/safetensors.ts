// safetensors reader: parses the header (u64 little-endian length + JSON) and reads one tensor at a time through
// a file handle, so a multi-GB checkpoint is never held in one buffer. F32, F16 and BF16 tensors read as float32
// or as half bits; I64 tensors as BigInt64Array.
// @see https://github.com/huggingface/safetensors#format
import { open, type FileHandle } from 'node:fs/promises';
import { bfloat16BitsToFloat32, float32ToHalfBits, halfBitsToFloat32 } from './dtypes.js';

export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const ITEM_SIZE: Record<SafetensorsDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** dtypes that read as float32 weights. */
export const FLOAT_DTYPES: readonly SafetensorsDType[] = ['F32', 'F16', 'BF16'];

export interface TensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** Byte offsets [begin, end) relative to the start of the data section. */
  readonly dataOffsets: readonly [number, number];
}

/** Refuses absurd header lengths before allocating for them (real headers are well under 10 MB). */
const MAX_HEADER_BYTES = 100 * 2 ** 20;

export class SafetensorsError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'SafetensorsError';
  }
}

/** An open safetensors file. Close it when done. */
export class SafetensorsFile {
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly tensors: ReadonlyMap<string, TensorInfo>,
    readonly metadata: Readonly<Record<string, string>>,
    /** Raw bytes of the JSON header, for identity hashing. */
    readonly headerBytes: Buffer,
    private readonly dataStart: number,
    readonly fileSize: number,
  ) {}

  static async open(path: string): Promise<SafetensorsFile> {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      if (size < 8) throw new SafetensorsError(path, `file of ${size} bytes is too short for a safetensors header`);
      const lenBuf = Buffer.alloc(8);
      await handle.read(lenBuf, 0, 8, 0);
      const headerLen = Number(lenBuf.readBigUInt64LE(0));
      if (headerLen > MAX_HEADER_BYTES || 8 + headerLen > size) {
        throw new SafetensorsError(path, `header length ${headerLen} does not fit a file of ${size} bytes`);
      }
      const headerBytes = Buffer.alloc(headerLen);
      await handle.read(headerBytes, 0, headerLen, 8);
      let header: unknown;
      try {
        header = JSON.parse(headerBytes.toString('utf8'));
      } catch (e) {
        throw new SafetensorsError(path, `header is not valid JSON (${(e as Error).message})`);
      }
      if (typeof header !== 'object' || header === null || Array.isArray(header)) {
        throw new SafetensorsError(path, 'header is not a JSON object');
      }
      const dataStart = 8 + headerLen;
      const dataSize = size - dataStart;
      const tensors = new Map<string, TensorInfo>();
      let metadata: Record<string, string> = {};
      for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
        if (name === '__metadata__') {
          metadata = (entry ?? {}) as Record<string, string>;
          continue;
        }
        tensors.set(name, parseEntry(path, name, entry, dataSize));
      }
      return new SafetensorsFile(path, handle, tensors, metadata, headerBytes, dataStart, size);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw new SafetensorsError(this.path, `no tensor named ${name}`);
    return info;
  }

  /** The raw little-endian bytes of one tensor. */
  async readBytes(name: string): Promise<Buffer> {
    const info = this.info(name);
    const [begin, end] = info.dataOffsets;
    // A buffer of its own (offset 0), so typed-array views over it are always aligned.
    const buf = Buffer.allocUnsafeSlow(end - begin);
    let done = 0;
    // A single read() may return fewer bytes than asked for large tensors.
    while (done < buf.length) {
      const { bytesRead } = await this.handle.read(buf, done, buf.length - done, this.dataStart + begin + done);
      if (bytesRead === 0) throw new SafetensorsError(this.path, `unexpected end of file reading ${name}`);
      done += bytesRead;
    }
    return buf;
  }

  /** A floating-point tensor (F32, F16 or BF16) as float32. */
  async readFloat32(name: string): Promise<Float32Array> {
    const info = this.info(name);
    const bytes = await this.readBytes(name);
    switch (info.dtype) {
      case 'F32':
        return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
      case 'F16':
        return halfBitsToFloat32(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2));
      case 'BF16':
        return bfloat16BitsToFloat32(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2));
      default:
        throw new SafetensorsError(this.path, `tensor ${name} has dtype ${info.dtype}, expected one of ${FLOAT_DTYPES.join(', ')}`);
    }
  }

  /**
   * A floating-point tensor as IEEE half bits: F16 data as stored (no float32 round trip, which matters for
   * multi-GB fp16 checkpoints), F32 and BF16 rounded to nearest even.
   */
  async readHalfBits(name: string): Promise<Uint16Array> {
    const info = this.info(name);
    if (info.dtype !== 'F16') return float32ToHalfBits(await this.readFloat32(name));
    const bytes = await this.readBytes(name);
    return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
  }

  /** An I64 tensor. */
  async readInt64(name: string): Promise<BigInt64Array> {
    const info = this.info(name);
    if (info.dtype !== 'I64') throw new SafetensorsError(this.path, `tensor ${name} has dtype ${info.dtype}, expected I64`);
    const bytes = await this.readBytes(name);
    return new BigInt64Array(bytes.buffer, bytes.byteOffset, bytes.length / 8);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

function parseEntry(path: string, name: string, entry: unknown, dataSize: number): TensorInfo {
  const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  const dtype = e?.dtype;
  if (typeof dtype !== 'string' || !(dtype in ITEM_SIZE)) {
    throw new SafetensorsError(path, `tensor ${name} has unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(ITEM_SIZE).join(', ')})`);
  }
  const shape = e.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new SafetensorsError(path, `tensor ${name} has an invalid shape ${JSON.stringify(shape)}`);
  }
  const offsets = e.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0)) {
    throw new SafetensorsError(path, `tensor ${name} has invalid data_offsets ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  const expected = (shape as number[]).reduce((a, b) => a * b, 1) * ITEM_SIZE[dtype as SafetensorsDType];
  if (end < begin || end > dataSize || end - begin !== expected) {
    throw new SafetensorsError(
      path,
      `tensor ${name} (${dtype} [${shape}]) has data_offsets [${begin}, ${end}] but needs ${expected} bytes within ${dataSize} bytes of data`,
    );
  }
  return { name, dtype: dtype as SafetensorsDType, shape: shape as number[], dataOffsets: [begin, end] };
}

/**
 * The 8-byte little-endian length and the JSON header of a safetensors file, the header padded with spaces to an
 * 8-byte boundary as the reference writer does; the tensor data follows at the header's data_offsets.
 */
export function encodeSafetensorsHeader(header: Record<string, unknown>): Buffer {
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBuf = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBuf.length));
  return Buffer.concat([len, headerBuf]);
}

/** A whole safetensors file in memory from float32/int64/uint8 tensors (tests build their fixture files with it). */
export function encodeSafetensors(tensors: Record<string, { dtype: SafetensorsDType; shape: readonly number[]; data: ArrayBufferView }>, metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  const parts: Buffer[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  return Buffer.concat([encodeSafetensorsHeader(header), ...parts]);
}
