// PNG writer for RGB8 images (posters, 1-frame jobs, --frames-dir). Written here rather than through
// ffmpeg or a package: it is 40 lines over node:zlib, needs no child process per image, and lets
// 1-frame jobs work even when no ffmpeg is available.
// @see https://www.w3.org/TR/png-3/
import { crc32, deflateSync } from 'node:zlib';
import { rename, rm, writeFile } from 'node:fs/promises';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const COLOR_TYPE_RGB = 2;
const FILTER_PAETH = 4;

/** Encodes `rgb` (H·W·3 bytes, row-major) as a PNG file's bytes. */
export function encodePng(rgb: Uint8Array, width: number, height: number): Buffer {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`PNG size must be positive integers, got ${width}x${height}`);
  }
  if (rgb.length !== width * height * 3) throw new RangeError(`PNG of ${width}x${height} RGB needs ${width * height * 3} bytes, got ${rgb.length}`);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = COLOR_TYPE_RGB;
  // compression 0 (deflate), filter method 0, interlace 0: bytes 10-12 stay zero
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', header), chunk('IDAT', deflateSync(filterPaeth(rgb, width, height))), chunk('IEND', Buffer.alloc(0))]);
}

/** Writes the PNG to `<path>.partial` and renames it, so a failed write (a full disk) leaves no cut file. */
export async function writePng(path: string, rgb: Uint8Array, width: number, height: number): Promise<number> {
  const png = encodePng(rgb, width, height);
  await writeWhole(path, png);
  return png.length;
}

/** Writes `data` to `<path>.partial` and renames it to `path` when complete; removes the partial file on failure. */
export async function writeWhole(path: string, data: Uint8Array): Promise<void> {
  const partialPath = `${path}.partial`;
  try {
    await writeFile(partialPath, data);
    await rename(partialPath, path);
  } catch (error) {
    await rm(partialPath, { force: true });
    throw error;
  }
}

// Paeth prediction on every row: the filter that compresses natural and generated images best on average.
function filterPaeth(rgb: Uint8Array, width: number, height: number): Buffer {
  const stride = width * 3;
  const out = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    const outRow = y * (stride + 1);
    out[outRow] = FILTER_PAETH;
    for (let x = 0; x < stride; x++) {
      const left = x >= 3 ? (rgb[row + x - 3] as number) : 0;
      const up = y > 0 ? (rgb[row - stride + x] as number) : 0;
      const upLeft = x >= 3 && y > 0 ? (rgb[row - stride + x - 3] as number) : 0;
      out[outRow + 1 + x] = ((rgb[row + x] as number) - paethPredictor(left, up, upLeft)) & 0xff;
    }
  }
  return out;
}

function paethPredictor(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

function chunk(type: string, data: Buffer): Buffer {
  const typeAndData = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(8 + data.length + 4);
  out.writeUInt32BE(data.length, 0);
  typeAndData.copy(out, 4);
  out.writeUInt32BE(crc32(typeAndData), 8 + data.length);
  return out;
}
