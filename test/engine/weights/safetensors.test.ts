import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bfloat16BitsToFloat32, float32ToHalfBits, halfBitsToFloat32 } from '../../../src/engine/weights/dtypes.js';
import { encodeSafetensors, SafetensorsError, SafetensorsFile } from '../../../src/engine/weights/safetensors.js';

const dir = await mkdtemp(join(tmpdir(), 't2v-safetensors-'));
test.after(() => rm(dir, { recursive: true, force: true }));

async function write(name: string, bytes: Buffer | Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

function rawHeader(header: unknown, data = Buffer.alloc(0)): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

test('reads F32, F16, BF16 as float32 and I64 as BigInt64Array, with metadata', async () => {
  const f16 = Uint16Array.from([0x3c00, 0xc000, 0x3555, 0x0001, 0x7c00, 0x8000]); // 1, -2, 0.333..., 2^-24, inf, -0
  const bf16 = Uint16Array.from([0x3f80, 0xc040, 0x3eaa]); // 1, -3, 0.33203125
  const path = await write(
    'mixed.safetensors',
    encodeSafetensors(
      {
        a: { dtype: 'F32', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) },
        h: { dtype: 'F16', shape: [6], data: f16 },
        b: { dtype: 'BF16', shape: [3], data: bf16 },
        t: { dtype: 'I64', shape: [2], data: BigInt64Array.from([981n, -1n]) },
      },
      { format: 'pt' },
    ),
  );
  const file = await SafetensorsFile.open(path);
  try {
    assert.deepEqual(file.metadata, { format: 'pt' });
    assert.deepEqual([...file.tensors.keys()], ['a', 'h', 'b', 't']);
    assert.deepEqual(file.info('h').shape, [6]);
    assert.deepEqual([...(await file.readFloat32('a'))], [1, 2, 3, 4]);
    assert.deepEqual([...(await file.readFloat32('h'))], [1, -2, Math.fround(0.333251953125), 2 ** -24, Infinity, -0]);
    assert.deepEqual([...(await file.readFloat32('b'))], [1, -3, 0.33203125]);
    assert.deepEqual([...(await file.readInt64('t'))], [981n, -1n]);
    // Half bits: F16 as stored, F32 and BF16 rounded.
    assert.deepEqual(await file.readHalfBits('h'), f16);
    assert.deepEqual([...(await file.readHalfBits('a'))], [0x3c00, 0x4000, 0x4200, 0x4400]);
    assert.deepEqual([...(await file.readHalfBits('b'))], [0x3c00, 0xc200, 0x3550]);
    await assert.rejects(file.readFloat32('t'), /dtype I64, expected one of F32, F16, BF16/);
    await assert.rejects(file.readInt64('a'), /expected I64/);
    await assert.rejects(file.readFloat32('missing'), /no tensor named missing/);
  } finally {
    await file.close();
  }
});

test('rejects malformed files with the reason', async () => {
  const cases: [string, Buffer, RegExp][] = [
    ['short.safetensors', Buffer.alloc(4), /too short/],
    ['hugeheader.safetensors', (() => { const b = Buffer.alloc(16); b.writeBigUInt64LE(1n << 40n); return b; })(), /header length/],
    ['badjson.safetensors', (() => { const j = Buffer.from('{nope'); const l = Buffer.alloc(8); l.writeBigUInt64LE(BigInt(j.length)); return Buffer.concat([l, j]); })(), /not valid JSON/],
    ['dtype.safetensors', rawHeader({ x: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }, Buffer.alloc(1)), /unsupported dtype "Q4"/],
    ['shape.safetensors', rawHeader({ x: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, Buffer.alloc(4)), /invalid shape/],
    ['size.safetensors', rawHeader({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, Buffer.alloc(4)), /needs 8 bytes/],
    ['bounds.safetensors', rawHeader({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, Buffer.alloc(4)), /within 4 bytes/],
  ];
  for (const [name, bytes, message] of cases) {
    const path = await write(name, bytes);
    await assert.rejects(SafetensorsFile.open(path), (e: unknown) => e instanceof SafetensorsError && message.test(e.message), name);
  }
});

test('float32 -> half rounds to nearest even, handles subnormals, overflow and NaN', () => {
  const values = Float32Array.from([0, -0, 1, 65504, 65520, 1e-8, 2 ** -24, 3 * 2 ** -25, 1 + 2 ** -11, 1 + 3 * 2 ** -11, -Infinity, NaN]);
  const bits = float32ToHalfBits(values);
  assert.deepEqual([...bits.slice(0, 11)], [0x0000, 0x8000, 0x3c00, 0x7bff, 0x7c00, 0x0000, 0x0001, 0x0002, 0x3c00, 0x3c02, 0xfc00]);
  assert.ok(Number.isNaN(halfBitsToFloat32(bits.slice(11))[0]));
  // Every finite half survives a round trip through float32 exactly.
  const all = Uint16Array.from({ length: 0x7c00 }, (_, i) => i);
  assert.deepEqual(float32ToHalfBits(halfBitsToFloat32(all)), all);
});

test('bfloat16 bits are the upper half of a float32', () => {
  const f = Float32Array.from([1.5, -1232, 3.0517578125e-5]); // exactly representable in bfloat16
  const bits = Uint16Array.from(new Uint32Array(f.buffer), (u) => u >>> 16);
  assert.deepEqual([...bfloat16BitsToFloat32(bits)], [...f]);
});
