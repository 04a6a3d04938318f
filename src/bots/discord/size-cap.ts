// Discord refuses attachments above the guild's upload limit (10 MiB without boosts; the interaction says the exact
// number in `attachment_size_limit`). A video over it is re-encoded to fit: decoded back to RGB frames and handed to
// the engine's encodeMp4 with `maxBytes`, which lowers the bitrate until the file fits or reports that it cannot
// (VideoSizeCapError). Reusing encodeMp4 keeps one size-cap algorithm in the project instead of a second ffmpeg
// recipe here.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, type VideoBotError } from '../../core/errors.js';
import type { Job } from '../../core/jobs.js';
import { videoBotError } from '../../core/messages.js';
import { encodeMp4, VideoSizeCapError } from '../../video/encode-mp4.js';
import { runFfmpeg, type FfmpegBinary } from '../../video/ffmpeg.js';

/** Discord's limit for servers without boosts, used when an interaction did not say (jobs from older versions). */
export const DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024;

export interface UploadableMedia {
  path: string;
  bytes: number;
  /** True when this is a smaller re-encode, not the job's own file. */
  reencoded: boolean;
  /** Removes a re-encoded copy; a no-op for the job's own file. */
  cleanup(): Promise<void>;
}

export type FitResult = { media: UploadableMedia } | { tooLarge: VideoBotError };

/** The job's media if it fits within `limit` bytes, else a re-encoded copy that does, else why it cannot. */
export async function fitToUploadLimit(job: Job, limit: number, ffmpeg: () => Promise<FfmpegBinary>): Promise<FitResult> {
  const output = job.output;
  if (output === null) throw new Error(`job ${job.id} has no output to upload`);
  if (output.bytes <= limit) return { media: { path: output.mediaPath, bytes: output.bytes, reencoded: false, cleanup: async () => {} } };
  const tooLarge = () => ({ tooLarge: videoBotError(ErrorCode.UploadTooLarge, { bytes: output.bytes, limit }) });
  // A still image is a lossless PNG of at most a few MB; there is nothing sensible to shrink.
  if (output.mediaType !== 'video/mp4') return tooLarge();

  const dir = await mkdtemp(join(tmpdir(), 't2v-discord-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const binary = await ffmpeg();
    const { width, height, fps } = job.params;
    const rawPath = join(dir, 'frames.rgb');
    await runFfmpeg(binary, ['-i', output.mediaPath, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, rawPath]);
    const data = await readFile(rawPath);
    const frames = data.length / (width * height * 3);
    const smaller = await encodeMp4({ data, frames, width, height }, join(dir, 'video.mp4'), { fps, maxBytes: limit, ffmpeg: binary });
    await rm(rawPath, { force: true });
    return { media: { path: smaller.path, bytes: smaller.bytes, reencoded: true, cleanup } };
  } catch (error) {
    await cleanup();
    if (error instanceof VideoSizeCapError) return tooLarge();
    throw error;
  }
}
