// Mirrors the role of diffusers src/diffusers/utils/export_utils.py `export_to_video` (diffusers 0.26.3):
// what a render job writes. More than one frame: an MP4 plus a poster (first frame, PNG) and optionally
// an animated preview; one frame: a PNG, which is also the poster.
import { join } from 'node:path';
import { encodeMp4, VideoSizeCapError, type X264Preset } from './encode-mp4.js';
import { FfmpegError, type FfmpegBinary } from './ffmpeg.js';
import { assertRgbFrames, frameAt, type RgbFrames } from './frames.js';
import { encodePng, writePng, writeWhole } from './png.js';
import { encodePreview, type PreviewFormat } from './preview.js';

export interface ExportFramesOptions {
  /** Existing directory the files go into. */
  outputDir: string;
  /** File name without extension. Default 'video' (or 'image' for one frame). */
  basename?: string;
  fps: number;
  /** Size cap in bytes for the main media file (MP4 re-encoded to fit; a PNG over the cap fails). */
  maxBytes?: number;
  crf?: number;
  preset?: X264Preset;
  /** Also write `<basename>.gif` / `.webp` (videos only). */
  preview?: PreviewFormat;
  signal?: AbortSignal;
  ffmpeg?: FfmpegBinary;
}

export interface ExportedMedia {
  mediaPath: string;
  mediaType: 'video/mp4' | 'image/png';
  bytes: number;
  posterPath: string;
  previewPath: string | null;
}

/** The disk holding the output folder is full (or its quota used up): the files could not be written. */
export class DiskFullError extends Error {
  constructor(
    readonly dir: string,
    options?: ErrorOptions,
  ) {
    super(`no space left on the disk holding ${dir}: free space on it, or move the folder to a larger disk`, options);
    this.name = 'DiskFullError';
  }
}

/**
 * Writes the files for `frames` into `options.outputDir`. Each file is complete or absent; a full disk, whether
 * Node or ffmpeg met it, rejects with DiskFullError.
 */
export async function exportFrames(frames: RgbFrames, options: ExportFramesOptions): Promise<ExportedMedia> {
  try {
    return await writeMedia(frames, options);
  } catch (error) {
    if (isDiskFull(error)) throw new DiskFullError(options.outputDir, { cause: error });
    throw error;
  }
}

function isDiskFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  // ffmpeg reports the errno as text (strerror), not as its exit status.
  return code === 'ENOSPC' || code === 'EDQUOT' || (error instanceof FfmpegError && /No space left on device|Disk quota exceeded/.test(error.stderr));
}

async function writeMedia(frames: RgbFrames, options: ExportFramesOptions): Promise<ExportedMedia> {
  assertRgbFrames(frames);
  const { outputDir, signal } = options;
  if (frames.frames === 1) {
    const mediaPath = join(outputDir, `${options.basename ?? 'image'}.png`);
    const png = encodePng(frames.data, frames.width, frames.height);
    if (options.maxBytes !== undefined && png.length > options.maxBytes) throw new VideoSizeCapError(png.length, options.maxBytes);
    await writeWhole(mediaPath, png);
    return { mediaPath, mediaType: 'image/png', bytes: png.length, posterPath: mediaPath, previewPath: null };
  }
  const basename = options.basename ?? 'video';
  const posterPath = join(outputDir, `${basename}.poster.png`);
  await writePng(posterPath, frameAt(frames, 0), frames.width, frames.height);
  const video = await encodeMp4(frames, join(outputDir, `${basename}.mp4`), {
    fps: options.fps,
    crf: options.crf,
    preset: options.preset,
    maxBytes: options.maxBytes,
    signal,
    ffmpeg: options.ffmpeg,
  });
  let previewPath: string | null = null;
  if (options.preview !== undefined) {
    previewPath = join(outputDir, `${basename}.${options.preview}`);
    await encodePreview(frames, previewPath, { format: options.preview, fps: options.fps, signal, ffmpeg: options.ffmpeg });
  }
  return { mediaPath: video.path, mediaType: 'video/mp4', bytes: video.bytes, posterPath, previewPath };
}
