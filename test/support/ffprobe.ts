// What the system ffprobe (an independent reader) sees in a video file: the first video stream, frames counted by
// decoding them all.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

export interface ProbedStream {
  codec_name: string;
  pix_fmt: string;
  width: number;
  height: number;
  r_frame_rate: string;
  nb_read_frames: string;
}

const ALL_FIELDS = ['codec_name', 'pix_fmt', 'width', 'height', 'r_frame_rate', 'nb_read_frames'] as const;

/** The first video stream of `path`, with just `fields` (all of ProbedStream unless given), so tests can deepEqual it. */
export function ffprobe(path: string): ProbedStream;
export function ffprobe<K extends keyof ProbedStream>(path: string, fields: readonly K[]): Pick<ProbedStream, K>;
export function ffprobe(path: string, fields: readonly (keyof ProbedStream)[] = ALL_FIELDS): Partial<ProbedStream> {
  const json = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', `stream=${fields.join(',')}`, '-of', 'json', path], {
    encoding: 'utf8',
  });
  const stream = (JSON.parse(json) as { streams: Partial<ProbedStream>[] }).streams[0];
  assert.ok(stream, `ffprobe found no video stream in ${path}`);
  return stream;
}
