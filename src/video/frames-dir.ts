// `--frames-dir`: every frame as its own PNG (frame_0001.png, ...), for users who post-process frames.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { assertRgbFrames, frameAt, type RgbFrames } from './frames.js';
import { writePng } from './png.js';

export interface WriteFramePngsOptions {
  /** File name prefix. Default 'frame_'. */
  prefix?: string;
  signal?: AbortSignal;
}

/** Writes each frame to `<dir>/<prefix>NNNN.png` (1-based, zero-padded); creates `dir`. Returns the paths. */
export async function writeFramePngs(frames: RgbFrames, dir: string, options: WriteFramePngsOptions = {}): Promise<string[]> {
  assertRgbFrames(frames);
  const prefix = options.prefix ?? 'frame_';
  await mkdir(dir, { recursive: true });
  const digits = Math.max(4, String(frames.frames).length);
  const paths: string[] = [];
  for (let i = 0; i < frames.frames; i++) {
    options.signal?.throwIfAborted();
    const path = join(dir, `${prefix}${String(i + 1).padStart(digits, '0')}.png`);
    await writePng(path, frameAt(frames, i), frames.width, frames.height);
    paths.push(path);
  }
  return paths;
}
