// Animated previews (GIF or WebP) for chat clients that inline images but not videos.
import { rename, rm, stat } from 'node:fs/promises';
import { locateFfmpeg, runFfmpeg, type FfmpegBinary } from './ffmpeg.js';
import { assertFps, assertRgbFrames, frameWriter, rawVideoInputArgs, type RgbFrames } from './frames.js';

export type PreviewFormat = 'gif' | 'webp';
export const PREVIEW_FORMATS: readonly PreviewFormat[] = ['gif', 'webp'];

export interface EncodePreviewOptions {
  format: PreviewFormat;
  fps: number;
  /** WebP quality 0-100 (lossy). Default 75. Ignored for GIF. */
  quality?: number;
  signal?: AbortSignal;
  /** Default: locateFfmpeg(). */
  ffmpeg?: FfmpegBinary;
}

/** Encodes a looping animation at `outPath` (via `<outPath>.partial`); returns its size in bytes. */
export async function encodePreview(frames: RgbFrames, outPath: string, options: EncodePreviewOptions): Promise<number> {
  assertRgbFrames(frames);
  assertFps(options.fps);
  if (!PREVIEW_FORMATS.includes(options.format)) {
    throw new RangeError(`preview format must be one of ${PREVIEW_FORMATS.join(', ')}, got ${String(options.format)}`);
  }
  const quality = options.quality ?? 75;
  if (!(Number.isInteger(quality) && quality >= 0 && quality <= 100)) throw new RangeError(`quality must be an integer from 0 to 100, got ${quality}`);
  const ffmpeg = options.ffmpeg ?? (await locateFfmpeg());
  const partialPath = `${outPath}.partial`;
  const formatArgs =
    options.format === 'gif'
      ? // One palette for the whole clip (stats_mode=diff favours what moves), ordered dithering keeps frames stable.
        ['-filter_complex', 'split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer:bayer_scale=3', '-loop', '0', '-f', 'gif']
      : ['-c:v', 'libwebp', '-lossless', '0', '-q:v', String(quality), '-loop', '0', '-f', 'webp'];
  try {
    await runFfmpeg(ffmpeg, [...rawVideoInputArgs(frames, options.fps), '-an', ...formatArgs, partialPath], {
      writeInput: frameWriter(frames),
      signal: options.signal,
    });
    await rename(partialPath, outPath);
    return (await stat(outPath)).size;
  } catch (error) {
    await rm(partialPath, { force: true });
    throw error;
  }
}
