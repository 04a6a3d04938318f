// MP4 (H.264, yuv420p, +faststart) from uint8 RGB frames piped into ffmpeg, with an optional size cap for a chat
// platform's upload limit: when the CRF encode is larger than `maxBytes`, a search over x264's CRF finds the best
// quality that fits, and a smaller resolution takes over when even the lowest quality does not.
//
// Why a CRF search and not a bitrate: on short clips x264's rate control misses a bitrate target by 2-3x (its VBV
// buffer starts nearly full, and 0.5 s of video never lets it settle), and the container adds about a kilobyte
// whatever the bitrate, so bitrate corrections chased a moving target. Every encode here is measured instead:
// the container's overhead is the file size minus the `mdat` payload (constant across CRFs for a given clip), the
// payload is what the CRF controls, and the next CRF comes from interpolating log(payload) between the encodes
// that bracket the target. CRF also spreads the bits by need, which is what a 2-pass encode would do.
import { open, rename, rm } from 'node:fs/promises';
import { locateFfmpeg, runFfmpeg, type FfmpegBinary } from './ffmpeg.js';
import { assertFps, assertRgbFrames, frameWriter, rawVideoInputArgs, type RgbFrames } from './frames.js';

export type X264Preset = 'ultrafast' | 'superfast' | 'veryfast' | 'faster' | 'fast' | 'medium' | 'slow' | 'slower' | 'veryslow';

export interface EncodeMp4Options {
  fps: number;
  /** x264 constant rate factor for the first attempt: 0 lossless .. 51 worst; 18 is visually lossless. Default 18. */
  crf?: number;
  /** Default 'medium'. Slower presets give smaller files at the same quality. */
  preset?: X264Preset;
  /** Upper bound on the file size in bytes; the video is re-encoded at lower quality (then size) to fit. */
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
  /** CRF of the file kept. */
  crf: number;
  /** Size of the encoded video: the frames' (made even), or smaller when only that met the size cap. */
  width: number;
  height: number;
}

/** The cap cannot be met even at the lowest quality and resolution we allow. */
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
/** x264's lowest quality. */
const MAX_CRF = 51;
/** Encodes the CRF search may spend after the first one; a search stops earlier once it is close enough. */
const MAX_CRF_ATTEMPTS = 7;
/** A fitting encode using at least this share of the payload budget is good enough to keep. */
const GOOD_ENOUGH = 0.9;
/** The payload the search aims at, as a share of the budget: between GOOD_ENOUGH and a miss. */
const AIM = 0.95;
/** x264's rule of thumb before two encodes give the real slope: +6 CRF halves the bitrate. */
const CRF_PER_HALVING = 6;
/** Payloads further apart than this factor (as a log) are bisected, not interpolated: the curve between them is no line. */
const MAX_INTERPOLATED_SPAN = Math.log(4);
/** CRFs closer than this give files too alike to be worth another encode. */
const CRF_RESOLUTION = 0.25;
/** Downscaled encodes (at MAX_CRF) when the lowest quality is still too large, and the smallest side allowed. */
const MAX_SCALE_ATTEMPTS = 3;
const MIN_SIDE = 16;

interface Encode {
  crf: number;
  bytes: number;
  /** Bytes of video data (the `mdat` payload); the rest of the file is container. */
  payload: number;
}

/**
 * Encodes `frames` to an MP4 at `outPath`. Written to `<outPath>.partial` and renamed at the end, so
 * a failed or aborted encode never leaves a broken file behind.
 */
export async function encodeMp4(frames: RgbFrames, outPath: string, options: EncodeMp4Options): Promise<EncodeMp4Result> {
  assertRgbFrames(frames);
  assertFps(options.fps);
  const firstCrf = options.crf ?? DEFAULT_CRF;
  if (!Number.isInteger(firstCrf) || firstCrf < 0 || firstCrf > 51) throw new RangeError(`crf must be an integer from 0 to 51, got ${firstCrf}`);
  const { maxBytes } = options;
  if (maxBytes !== undefined && !(Number.isSafeInteger(maxBytes) && maxBytes > 0)) {
    throw new RangeError(`maxBytes must be a positive integer, got ${maxBytes}`);
  }
  const ffmpeg = options.ffmpeg ?? (await locateFfmpeg());
  const partialPath = `${outPath}.partial`;
  // The best encode within the cap so far, while later attempts try for better quality.
  const keptPath = `${outPath}.kept.partial`;
  let attempts = 0;
  let size = evenSize(frames.width, frames.height);
  const encode = async (crf: number): Promise<Encode> => {
    attempts += 1;
    await runFfmpeg(ffmpeg, mp4Args(frames, options, crf, size, partialPath), { writeInput: frameWriter(frames), signal: options.signal });
    return { crf, ...(await mp4Sizes(partialPath)) };
  };
  const done = async (path: string, e: Encode): Promise<EncodeMp4Result> => {
    await rename(path, outPath);
    return { path: outPath, bytes: e.bytes, attempts, crf: e.crf, ...size };
  };

  try {
    const first = await encode(firstCrf);
    if (maxBytes === undefined || first.bytes <= maxBytes) return await done(partialPath, first);
    // The container costs the same at any CRF: what is left of the cap is the budget for video data.
    const budget = maxBytes - (first.bytes - first.payload);
    if (budget <= 0) throw new VideoSizeCapError(first.bytes, maxBytes);

    let kept: Encode | undefined;
    const tried: Encode[] = [first];
    for (let i = 0; i < MAX_CRF_ATTEMPTS; i++) {
      const crf = nextCrf(tried, budget);
      if (crf === null) break;
      const e = await encode(crf);
      tried.push(e);
      if (e.payload > budget) continue;
      // Within the budget, and at a lower CRF (better quality) than any earlier one within it.
      await rename(partialPath, keptPath);
      kept = e;
      if (e.payload >= GOOD_ENOUGH * budget) break;
    }
    if (kept !== undefined) return await done(keptPath, kept);

    // Only over-budget encodes: the lowest quality, then fewer pixels in proportion to the excess.
    let lowest = tried.at(-1)!;
    if (lowest.crf !== MAX_CRF) {
      lowest = await encode(MAX_CRF);
      if (lowest.payload <= budget) return await done(partialPath, lowest);
    }
    for (let i = 0; i < MAX_SCALE_ATTEMPTS; i++) {
      // 0.9: the payload shrinks a little slower than the pixel count (per-frame and per-row headers).
      const scale = Math.sqrt(budget / lowest.payload) * 0.9;
      const next = evenSize(Math.round(size.width * scale), Math.round(size.height * scale));
      if (Math.min(next.width, next.height) < MIN_SIDE) break;
      size = next;
      lowest = await encode(MAX_CRF);
      if (lowest.payload <= budget) return await done(partialPath, lowest);
    }
    throw new VideoSizeCapError(lowest.bytes, maxBytes);
  } catch (error) {
    await Promise.all([rm(partialPath, { force: true }), rm(keptPath, { force: true })]);
    throw error;
  }
}

/**
 * The next CRF to try, or null when there is nothing worth trying. Between the highest CRF over the budget and
 * the lowest within it, log(payload) is interpolated linearly in CRF, or the bracket is halved when the last
 * two encodes moved the same end of it (noise collapses to flat grey over a few CRF steps: interpolating across
 * such a cliff creeps). With encodes over the budget only, the line through the last two (or x264's rule of
 * thumb) is extended, by at least the previous step (a plateau, where payload hardly moves, must not stall the
 * search) and up to MAX_CRF. Both aim a little under the budget, so that a near miss lands within it.
 */
function nextCrf(tried: readonly Encode[], budget: number): number | null {
  const over = tried.filter((e) => e.payload > budget);
  const within = tried.filter((e) => e.payload <= budget);
  const high = over.reduce((a, b) => (b.crf > a.crf ? b : a));
  const target = Math.log(AIM * budget);
  if (within.length > 0) {
    const low = within.reduce((a, b) => (b.crf < a.crf ? b : a));
    if (low.crf - high.crf <= 2 * CRF_RESOLUTION) return null;
    const [last, beforeLast] = [tried.at(-1)!, tried.at(-2)!];
    const stuck = last.payload > budget === beforeLast.payload > budget;
    const span = Math.log(high.payload) - Math.log(low.payload);
    const t = stuck || span > MAX_INTERPOLATED_SPAN ? 0.5 : (Math.log(high.payload) - target) / span;
    const crf = high.crf + t * (low.crf - high.crf);
    return round(Math.min(Math.max(crf, high.crf + CRF_RESOLUTION), low.crf - CRF_RESOLUTION));
  }
  if (high.crf >= MAX_CRF) return null;
  const previous = over.at(-2);
  const perCrf =
    previous !== undefined && previous.payload > high.payload ? (Math.log(previous.payload) - Math.log(high.payload)) / (high.crf - previous.crf) : Math.LN2 / CRF_PER_HALVING;
  const minStep = Math.max(1, previous === undefined ? 0 : high.crf - previous.crf);
  const crf = high.crf + Math.max((Math.log(high.payload) - target) / perCrf, minStep);
  return round(Math.min(crf, MAX_CRF));
}

const round = (crf: number): number => Math.round(crf * 100) / 100;

/** The file size and the bytes of its `mdat` boxes' payload (top-level boxes; 64-bit sizes and size 0 handled). */
async function mp4Sizes(path: string): Promise<{ bytes: number; payload: number }> {
  const handle = await open(path, 'r');
  try {
    const bytes = (await handle.stat()).size;
    const header = Buffer.alloc(16);
    let payload = 0;
    for (let offset = 0; offset + 8 <= bytes; ) {
      await handle.read(header, 0, 16, offset);
      let boxSize = header.readUInt32BE(0);
      let headerSize = 8;
      if (boxSize === 1) {
        boxSize = Number(header.readBigUInt64BE(8));
        headerSize = 16;
      } else if (boxSize === 0) {
        boxSize = bytes - offset;
      }
      if (boxSize < headerSize) break;
      if (header.toString('latin1', 4, 8) === 'mdat') payload += boxSize - headerSize;
      offset += boxSize;
    }
    return { bytes, payload };
  } finally {
    await handle.close();
  }
}

/** 4:2:0 chroma needs even sides: odd ones get one more column or row (see evenSizeFilter). */
function evenSize(width: number, height: number): { width: number; height: number } {
  return { width: width + (width % 2), height: height + (height % 2) };
}

function mp4Args(frames: RgbFrames, options: EncodeMp4Options, crf: number, size: { width: number; height: number }, outPath: string): string[] {
  const even = evenSize(frames.width, frames.height);
  const scaled = size.width !== even.width || size.height !== even.height;
  return [
    ...rawVideoInputArgs(frames, options.fps),
    // Area averaging when the size cap forced fewer pixels; otherwise no pixel is resampled.
    ...(scaled ? ['-vf', `scale=${size.width}:${size.height}:flags=area`] : evenSizeFilter(frames)),
    '-an',
    '-c:v',
    'libx264',
    '-preset',
    options.preset ?? 'medium',
    '-crf',
    String(crf),
    // Drops x264's SEI message (its version and settings as text, about 700 bytes a file, ignored by decoders):
    // most of the floor under a short clip's size.
    '-bsf:v',
    'filter_units=remove_types=6',
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
