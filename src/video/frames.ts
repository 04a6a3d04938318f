// The frames the pipeline hands to the video writers: uint8 RGB, (F, H, W, 3) row-major, as diffusers'
// export_to_video receives after `(frames * 255).astype(uint8)`.
import { writeWithBackpressure } from './ffmpeg.js';

export interface RgbFrames {
  /** F·H·W·3 bytes, frame after frame, row after row, R G B per pixel. */
  data: Uint8Array;
  frames: number;
  height: number;
  width: number;
}

/** Checks the layout; throws a RangeError naming the mismatch. */
export function assertRgbFrames(frames: RgbFrames): void {
  const { data, frames: count, height, width } = frames;
  for (const [name, value] of [
    ['frames', count],
    ['height', height],
    ['width', width],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`RgbFrames.${name} must be a positive integer, got ${value}`);
  }
  const expected = count * height * width * 3;
  if (data.length !== expected) {
    throw new RangeError(`RgbFrames.data has ${data.length} bytes; ${count} frames of ${width}x${height} RGB need ${expected}`);
  }
}

/** Bytes of one frame. */
export function frameBytes(frames: RgbFrames): number {
  return frames.height * frames.width * 3;
}

/** A view (no copy) of frame `index`. */
export function frameAt(frames: RgbFrames, index: number): Uint8Array {
  const size = frameBytes(frames);
  return frames.data.subarray(index * size, (index + 1) * size);
}

/** ffmpeg arguments that read these frames as raw RGB from stdin at `fps`. */
export function rawVideoInputArgs(frames: RgbFrames, fps: number): string[] {
  return ['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${frames.width}x${frames.height}`, '-framerate', String(fps), '-i', 'pipe:0'];
}

/** An input writer for runFfmpeg that streams every frame (a view, not a copy) with backpressure. */
export function frameWriter(frames: RgbFrames): (stdin: NodeJS.WritableStream) => Promise<void> {
  return async (stdin) => {
    for (let i = 0; i < frames.frames; i++) await writeWithBackpressure(stdin, frameAt(frames, i));
  };
}

export function assertFps(fps: number): void {
  if (!(Number.isFinite(fps) && fps > 0 && fps <= 240)) throw new RangeError(`fps must be a number above 0 and at most 240, got ${fps}`);
}
