// Test-only reader for the small golden .safetensors fixtures (whole file in memory). The engine's
// streaming reader lives in src/engine/weights; this exists so scheduler and RNG tests do not depend on it.
import { readFileSync } from 'node:fs';

export type FixtureTensor =
  | { dtype: 'F32'; shape: number[]; data: Float32Array }
  | { dtype: 'I64'; shape: number[]; data: BigInt64Array }
  | { dtype: 'U8'; shape: number[]; data: Uint8Array };

export function readFixtureSafetensors(path: string): Map<string, FixtureTensor> {
  const file = readFileSync(path);
  const headerLength = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const base = 8 + headerLength;
  const tensors = new Map<string, FixtureTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [begin, end] = info.data_offsets;
    // Copy so typed-array views are aligned whatever the header length is.
    const bytes = new Uint8Array(file.subarray(base + begin, base + end));
    if (info.dtype === 'F32') tensors.set(name, { dtype: 'F32', shape: info.shape, data: new Float32Array(bytes.buffer) });
    else if (info.dtype === 'I64') tensors.set(name, { dtype: 'I64', shape: info.shape, data: new BigInt64Array(bytes.buffer) });
    else if (info.dtype === 'U8') tensors.set(name, { dtype: 'U8', shape: info.shape, data: bytes });
    else throw new Error(`${path}: tensor ${name} has dtype ${info.dtype}; fixtures use F32, I64 or U8`);
  }
  return tensors;
}

export function fixtureF32(tensors: Map<string, FixtureTensor>, name: string): Float32Array {
  const tensor = tensors.get(name);
  if (tensor?.dtype !== 'F32') throw new Error(`fixture tensor ${name} is missing or not F32`);
  return tensor.data;
}

export function fixtureI64(tensors: Map<string, FixtureTensor>, name: string): number[] {
  const tensor = tensors.get(name);
  if (tensor?.dtype !== 'I64') throw new Error(`fixture tensor ${name} is missing or not I64`);
  return Array.from(tensor.data, Number);
}
