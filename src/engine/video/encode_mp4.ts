// MP4 (H.264, yuv420p, +faststart) from uint8 RGB frames piped into ffmpeg, with an optional size cap:
// when the file is larger than `maxBytes` (a chat platform's upload limit), it is re-encoded at a
// bitrate computed from the cap until it fits.
import { rename, rm, stat } from 'node:fs/promises';
import { locateFfmpeg, runFfmpeg, type FfmpegBinary } from './ffmpeg.js';
import { assertFps, assertRgbFrames, frameWriter, rawVideoInputArgs, type RgbFrames } from './frames.js';

export type X264Preset = 'ultrafast' | 'superfast' | 'veryfast' | 'faster' | 'fast' | 'medium' | 'slow' | 'slower' | 'veryslow';

export interface EncodeMp4Options {
  fps: number;
  /** x264 constant rate factor for the first attempt: 0 lossless .. 51 worst; 18 is visually lossless. Default 18. */
  crf?: number;
  /** Default 'medium'. Slower presets give smaller files at the same quality. */
  preset?: X264Preset;
  /** Upper bound on the file size in bytes; the video is re-encoded at lower bitrates to fit. */
  maxBytes?: number;
  signal?: AbortSignal;
  /** Default: locateFfmpeg(). */
  ffmpeg?: FfmpegBinary;
}

export interface EncodeMp4Result {
  path: string;
  bytes: number;
  /** Encodes run: 1 unless the size cap forced re-encoding. */
  attempts: number;
  /** Video bitrate (bit/s) of the last attempt when the cap applied; null when CRF was enough. */
  bitrate: number | null;
}

/** The cap cannot be met even at the lowest bitrate we allow. */
export class VideoSizeCapError extends Error {
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      `the video cannot be made smaller than ${limit} bytes (smallest encode: ${bytes} bytes). ` +
        'Use fewer frames or a smaller size, or raise the limit.',
    );
    this.name = 'VideoSizeCapError';
  }
}

const DEFAULT_CRF = 18;
const MAX_ATTEMPTS = 5;
// Below this, H.264 turns to blocks of mush; failing with a clear error is more useful than that video.
const MIN_BITRATE = 32_000;
// Aim under the cap: rate control overshoots on short clips and the MP4 container adds a few KB.
const CAP_HEADROOM = 0.9;

/**
 * Encodes `frames` to an MP4 at `outPath`. Written to `<outPath>.partial` and renamed at the end, so
 * a failed or aborted encode never leaves a broken file behind.
 */
export async function encodeMp4(frames: RgbFrames, outPath: string, options: EncodeMp4Options): Promise<EncodeMp4Result> {
  assertRgbFrames(frames);
  assertFps(options.fps);
  const crf = options.crf ?? DEFAULT_CRF;
  if (!Number.isInteger(crf) || crf < 0 || crf > 51) throw new RangeError(`crf must be an integer from 0 to 51, got ${crf}`);
  const { maxBytes } = options;
  if (maxBytes !== undefined && !(Number.isSafeInteger(maxBytes) && maxBytes > 0)) {
    throw new RangeError(`maxBytes must be a positive integer, got ${maxBytes}`);
  }
  const ffmpeg = options.ffmpeg ?? (await locateFfmpeg());
  const partialPath = `${outPath}.partial`;
  const durationSeconds = frames.frames / options.fps;
  const encode = async (rate: { crf: number } | { bitrate: number }): Promise<number> => {
    await runFfmpeg(ffmpeg, mp4Args(frames, options, rate, partialPath), { writeInput: frameWriter(frames), signal: options.signal });
    return (await stat(partialPath)).size;
  };

  try {
    let bytes = await encode({ crf });
    let attempts = 1;
    let bitrate: number | null = null;
    if (maxBytes !== undefined && bytes > maxBytes) {
      // Bitrate that would fill the cap exactly, then corrected by how far each attempt missed.
      bitrate = Math.floor(((maxBytes * 8) / durationSeconds) * CAP_HEADROOM);
      while (bytes > maxBytes) {
        if (attempts >= MAX_ATTEMPTS || bitrate < MIN_BITRATE) throw new VideoSizeCapError(bytes, maxBytes);
        bytes = await encode({ bitrate });
        attempts += 1;
        if (bytes > maxBytes) bitrate = Math.floor(bitrate * (maxBytes / bytes) * CAP_HEADROOM);
      }
    }
    await rename(partialPath, outPath);
    return { path: outPath, bytes, attempts, bitrate };
  } catch (error) {
    await rm(partialPath, { force: true });
    throw error;
  }
}

function mp4Args(frames: RgbFrames, options: EncodeMp4Options, rate: { crf: number } | { bitrate: number }, outPath: string): string[] {
  const rateArgs =
    'crf' in rate
      ? ['-crf', String(rate.crf)]
      : // Capped VBV: the buffer of one second keeps a 2-second clip from spending its budget up front.
        ['-b:v', String(rate.bitrate), '-maxrate', String(rate.bitrate), '-bufsize', String(rate.bitrate)];
  return [
    ...rawVideoInputArgs(frames, options.fps),
    ...evenSizeFilter(frames),
    '-an',
    '-c:v',
    'libx264',
    '-preset',
    options.preset ?? 'medium',
    ...rateArgs,
    // 4:2:0 chroma is what every browser and phone player decodes; it needs even width and height.
    '-pix_fmt',
    'yuv420p',
    // moov atom first, so chat clients can start playing before the whole file has arrived.
    '-movflags',
    '+faststart',
    '-r',
    String(options.fps),
    '-f',
    'mp4',
    outPath,
  ];
}

/**
 * yuv420p needs even dimensions. Odd ones get one more column/row that repeats the edge pixels
 * (pad, then fillborders in smear mode), so no original pixel is lost or resampled.
 */
export function evenSizeFilter(frames: Pick<RgbFrames, 'width' | 'height'>): string[] {
  const right = frames.width % 2;
  const bottom = frames.height % 2;
  if (right === 0 && bottom === 0) return [];
  return ['-vf', `pad=${frames.width + right}:${frames.height + bottom}:0:0,fillborders=right=${right}:bottom=${bottom}:mode=smear`];
}
