import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FfmpegNotFoundError, locateFfmpeg } from '../../src/video/ffmpeg.js';
import { encodeMp4, VideoSizeCapError } from '../../src/video/encode-mp4.js';
import { encodePreview } from '../../src/video/preview.js';
import { writeFramePngs } from '../../src/video/frames-dir.js';
import { exportFrames } from '../../src/video/export-frames.js';
import { encodePng } from '../../src/video/png.js';
import type { RgbFrames } from '../../src/video/frames.js';
import { ffprobe } from '../support/ffprobe.js';

function isInstalled(name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}

const workDir = mkdtempSync(join(tmpdir(), 't2v-video-test-'));
test.after(() => rmSync(workDir, { recursive: true, force: true }));

/** Four coloured quadrants with a square moving across them: orientation and channel order are visible. */
function patternFrames(frames: number, height: number, width: number): RgbFrames {
  const data = new Uint8Array(frames * height * width * 3);
  for (let f = 0; f < frames; f++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = ((f * height + y) * width + x) * 3;
        const inSquare = Math.abs(x - (f * 4) % width) < 6 && Math.abs(y - height / 2) < 6;
        const rgb = inSquare ? [255, 255, 255] : y < height / 2 ? (x < width / 2 ? [220, 30, 30] : [30, 200, 40]) : x < width / 2 ? [30, 40, 210] : [128, 128, 128];
        data.set(rgb, i);
      }
    }
  }
  return { data, frames, height, width };
}

/** Deterministic noise: the worst case for a video encoder, so size caps bite. */
function noiseFrames(frames: number, height: number, width: number): RgbFrames {
  const data = new Uint8Array(frames * height * width * 3);
  let state = 12345;
  for (let i = 0; i < data.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    data[i] = state >>> 24;
  }
  return { data, frames, height, width };
}

/** Noise in 8x8 blocks: detail that even the lowest quality keeps (pixel noise collapses to grey at CRF 51). */
function blockNoiseFrames(frames: number, height: number, width: number): RgbFrames {
  const fine = noiseFrames(frames, Math.ceil(height / 8), Math.ceil(width / 8));
  const data = new Uint8Array(frames * height * width * 3);
  for (let f = 0; f < frames; f++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const from = ((f * fine.height + (y >> 3)) * fine.width + (x >> 3)) * 3;
        data.set(fine.data.subarray(from, from + 3), ((f * height + y) * width + x) * 3);
      }
    }
  }
  return { data, frames, height, width };
}

/** Decodes frame `index` of any file to RGB24 with the system ffmpeg (an independent decoder). */
function decodeFrame(path: string, index = 0): Buffer {
  return execFileSync('ffmpeg', ['-v', 'error', '-i', path, '-vf', `select=eq(n\\,${index})`, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
}

/** Top-level MP4 box types in file order. */
function mp4Boxes(path: string): string[] {
  const file = readFileSync(path);
  const types: string[] = [];
  for (let offset = 0; offset + 8 <= file.length; ) {
    const size = file.readUInt32BE(offset);
    types.push(file.toString('latin1', offset + 4, offset + 8));
    if (size < 8) break;
    offset += size;
  }
  return types;
}

function meanAbsDiffCropped(decoded: Buffer, decodedWidth: number, frames: RgbFrames, frameIndex: number): number {
  let sum = 0;
  const frameOffset = frameIndex * frames.height * frames.width * 3;
  for (let y = 0; y < frames.height; y++) {
    for (let x = 0; x < frames.width * 3; x++) {
      sum += Math.abs((decoded[y * decodedWidth * 3 + x] as number) - (frames.data[frameOffset + y * frames.width * 3 + x] as number));
    }
  }
  return sum / (frames.height * frames.width * 3);
}

test('MP4: H.264, yuv420p, chosen fps, every frame, moov before mdat, colours in place', async () => {
  const frames = patternFrames(16, 64, 96);
  const out = join(workDir, 'pattern.mp4');
  const result = await encodeMp4(frames, out, { fps: 8 });
  assert.equal(result.attempts, 1);
  const stream = ffprobe(out);
  assert.equal(stream.codec_name, 'h264');
  assert.equal(stream.pix_fmt, 'yuv420p');
  assert.equal(stream.r_frame_rate, '8/1');
  assert.equal(stream.nb_read_frames, '16');
  assert.deepEqual([stream.width, stream.height], [96, 64]);
  const boxes = mp4Boxes(out);
  assert.ok(boxes.indexOf('moov') >= 0 && boxes.indexOf('moov') < boxes.indexOf('mdat'), `box order ${boxes.join(',')}`);
  assert.ok(meanAbsDiffCropped(decodeFrame(out, 5), 96, frames, 5) < 6);
  assert.equal(existsSync(`${out}.partial`), false);
});

test('odd sizes are padded to even by repeating the edge pixels', async () => {
  const frames = patternFrames(3, 45, 63);
  const out = join(workDir, 'odd.mp4');
  await encodeMp4(frames, out, { fps: 12 });
  const stream = ffprobe(out);
  assert.deepEqual([stream.width, stream.height], [64, 46]);
  assert.equal(stream.r_frame_rate, '12/1');
  assert.ok(meanAbsDiffCropped(decodeFrame(out), 64, frames, 0) < 6);
});

test('the binary inside @ffmpeg-installer/ffmpeg encodes on its own', async () => {
  const ffmpeg = await locateFfmpeg({ sources: ['@ffmpeg-installer/ffmpeg'] });
  assert.equal(ffmpeg.source, '@ffmpeg-installer/ffmpeg');
  assert.match(ffmpeg.path, /@ffmpeg-installer/);
  const out = join(workDir, 'installer.mp4');
  await encodeMp4(patternFrames(9, 32, 48), out, { fps: 8, ffmpeg });
  const stream = ffprobe(out);
  assert.deepEqual([stream.codec_name, stream.pix_fmt, stream.nb_read_frames], ['h264', 'yuv420p', '9']);
  assert.ok(mp4Boxes(out).indexOf('moov') < mp4Boxes(out).indexOf('mdat'));
});

// Short noise clips are the hard case for a size cap: x264's rate control cannot settle in half a second and
// the container is a large share of the file.
for (const [frameCount, side] of [
  [4, 64],
  [8, 64],
  [4, 256],
  [8, 256],
] as const) {
  test(`a size cap of 80% and 50% fits ${frameCount} noise frames of ${side}x${side}, using most of the cap`, async (t) => {
    const frames = noiseFrames(frameCount, side, side);
    const natural = await encodeMp4(frames, join(workDir, `natural-${frameCount}-${side}.mp4`), { fps: 8 });
    for (const share of [0.8, 0.5]) {
      const cap = Math.floor(natural.bytes * share);
      const out = join(workDir, `capped-${frameCount}-${side}-${share}.mp4`);
      const capped = await encodeMp4(frames, out, { fps: 8, maxBytes: cap });
      t.diagnostic(`${share * 100}% of ${natural.bytes} B = ${cap} B: ${capped.bytes} B (${((100 * capped.bytes) / cap).toFixed(1)}%) in ${capped.attempts} encodes, CRF ${capped.crf}`);
      assert.ok(capped.bytes <= cap, `${capped.bytes} B > cap ${cap} B`);
      assert.equal(statSync(out).size, capped.bytes);
      assert.ok(capped.bytes >= 0.8 * cap, `${capped.bytes} B wastes the cap of ${cap} B`);
      assert.ok(capped.attempts >= 2 && capped.attempts <= 8, `${capped.attempts} encodes`);
      assert.ok(capped.crf > natural.crf);
      assert.deepEqual([capped.width, capped.height], [side, side], 'quality went down, not the size');
      const stream = ffprobe(out);
      assert.deepEqual([stream.codec_name, stream.nb_read_frames, stream.width], ['h264', String(frameCount), side]);
    }
  });
}

test('a cap below what the lowest quality gives is met at a smaller size, same aspect', async () => {
  const frames = blockNoiseFrames(8, 96, 192);
  const lowestQuality = await encodeMp4(frames, join(workDir, 'lowest.mp4'), { fps: 8, crf: 51 });
  const cap = Math.floor(lowestQuality.bytes * 0.8);
  const capped = await encodeMp4(frames, join(workDir, 'downscaled.mp4'), { fps: 8, maxBytes: cap });
  assert.ok(capped.bytes <= cap, `${capped.bytes} B > cap ${cap} B`);
  assert.equal(capped.crf, 51);
  assert.ok(capped.width < 192 && capped.width % 2 === 0 && capped.height % 2 === 0, `${capped.width}x${capped.height}`);
  assert.ok(Math.abs(capped.width / capped.height - 2) < 0.1, `aspect of ${capped.width}x${capped.height}`);
  const stream = ffprobe(capped.path);
  assert.deepEqual([stream.width, stream.height, stream.nb_read_frames], [capped.width, capped.height, '8']);
});

test('a cap below the container alone fails clearly at once and leaves no file', async () => {
  const out = join(workDir, 'impossible.mp4');
  const started = performance.now();
  await assert.rejects(encodeMp4(noiseFrames(16, 64, 64), out, { fps: 8, maxBytes: 400 }), (error: unknown) => {
    assert.ok(error instanceof VideoSizeCapError);
    assert.equal(error.limit, 400);
    assert.ok(error.bytes > 400);
    assert.match(error.message, /cannot be made smaller than 400 bytes \(smallest encode: \d+ bytes\)\. Use fewer frames or a smaller size, or raise the limit/);
    return true;
  });
  assert.ok(performance.now() - started < 5000);
  assert.equal(existsSync(out), false);
  assert.equal(existsSync(`${out}.partial`), false);
  assert.equal(existsSync(`${out}.kept.partial`), false);
});

test('aborting stops ffmpeg and rejects with the abort reason', async () => {
  const out = join(workDir, 'aborted.mp4');
  const controller = new AbortController();
  const encoding = encodeMp4(noiseFrames(48, 256, 256), out, { fps: 8, preset: 'veryslow', signal: controller.signal });
  setTimeout(() => controller.abort(), 100);
  await assert.rejects(encoding, { name: 'AbortError' });
  assert.equal(existsSync(out), false);
  assert.equal(existsSync(`${out}.partial`), false);
  const already = AbortSignal.abort();
  await assert.rejects(encodeMp4(patternFrames(2, 8, 8), out, { fps: 8, signal: already }), { name: 'AbortError' });
});

test('PNG: lossless, decodes to the same bytes', () => {
  const frames = patternFrames(1, 37, 53);
  const path = join(workDir, 'still.png');
  writeFileSync(path, encodePng(frames.data, 53, 37));
  assert.ok(decodeFrame(path).equals(Buffer.from(frames.data)));
  assert.throws(() => encodePng(frames.data, 53, 36), /needs 5724 bytes/);
});

test('exportFrames: one frame gives a PNG that is also the poster; more give MP4 + poster + preview', async () => {
  const stillDir = mkdtempSync(join(workDir, 'still-'));
  const still = await exportFrames(patternFrames(1, 32, 32), { outputDir: stillDir, fps: 8 });
  assert.equal(still.mediaType, 'image/png');
  assert.equal(still.posterPath, still.mediaPath);
  assert.equal(readFileSync(still.mediaPath).length, still.bytes);

  const videoDir = mkdtempSync(join(workDir, 'video-'));
  const frames = patternFrames(8, 32, 48);
  const video = await exportFrames(frames, { outputDir: videoDir, fps: 8, preview: 'gif' });
  assert.equal(video.mediaType, 'video/mp4');
  assert.equal(ffprobe(video.mediaPath).nb_read_frames, '8');
  assert.ok(decodeFrame(video.posterPath).equals(Buffer.from(frames.data.subarray(0, 32 * 48 * 3))));
  assert.ok(video.previewPath !== null);
  assert.deepEqual(readdirSync(videoDir).sort(), ['video.gif', 'video.mp4', 'video.poster.png']);

  await assert.rejects(exportFrames(noiseFrames(1, 64, 64), { outputDir: stillDir, basename: 'big', fps: 8, maxBytes: 1000 }), VideoSizeCapError);
  assert.equal(existsSync(join(stillDir, 'big.png')), false);
});

test('animated previews: GIF with every frame, looping WebP', async () => {
  const frames = patternFrames(6, 32, 48);
  const gif = join(workDir, 'preview.gif');
  await encodePreview(frames, gif, { format: 'gif', fps: 8 });
  const stream = ffprobe(gif);
  assert.deepEqual([stream.codec_name, stream.nb_read_frames, stream.width], ['gif', '6', 48]);
  const webp = join(workDir, 'preview.webp');
  await encodePreview(frames, webp, { format: 'webp', fps: 8 });
  const bytes = readFileSync(webp);
  assert.equal(bytes.toString('latin1', 0, 4), 'RIFF');
  assert.equal(bytes.toString('latin1', 8, 12), 'WEBP');
  assert.ok(bytes.includes(Buffer.from('ANIM')), 'animated WebP has an ANIM chunk');
  assert.equal(bytes.toString('latin1').split('ANMF').length - 1, 6, 'one ANMF chunk per frame');
});

test('frames-dir writes each frame as a numbered PNG', async () => {
  const frames = patternFrames(3, 16, 24);
  const dir = join(workDir, 'frames');
  const paths = await writeFramePngs(frames, dir);
  assert.deepEqual(readdirSync(dir).sort(), ['frame_0001.png', 'frame_0002.png', 'frame_0003.png']);
  assert.ok(decodeFrame(paths[2] as string).equals(Buffer.from(frames.data.subarray(2 * 16 * 24 * 3))));
});

test('bad frames and options are rejected with the allowed values', async () => {
  const frames = patternFrames(2, 8, 8);
  await assert.rejects(encodeMp4({ ...frames, frames: 3 }, join(workDir, 'x.mp4'), { fps: 8 }), /has 384 bytes; 3 frames of 8x8 RGB need 576/);
  await assert.rejects(encodeMp4(frames, join(workDir, 'x.mp4'), { fps: 0 }), /fps must be a number above 0 and at most 240/);
  await assert.rejects(encodeMp4(frames, join(workDir, 'x.mp4'), { fps: 8, crf: 60 }), /crf must be an integer from 0 to 51/);
});

test('ffmpeg lookup: FFMPEG_PATH wins, a broken FFMPEG_PATH is an error, nothing found names all four options', async () => {
  const explicit = await locateFfmpeg({ env: { ...process.env, FFMPEG_PATH: '/usr/bin/ffmpeg' } });
  assert.deepEqual([explicit.source, explicit.path], ['FFMPEG_PATH', '/usr/bin/ffmpeg']);
  await assert.rejects(locateFfmpeg({ env: { FFMPEG_PATH: join(workDir, 'no-such-ffmpeg') } }), /FFMPEG_PATH=.*no-such-ffmpeg does not work/);
  await assert.rejects(locateFfmpeg({ env: { FFMPEG_PATH: '/bin/echo' } }), /FFMPEG_PATH=\/bin\/echo does not work: built without libx264/);
  await assert.rejects(locateFfmpeg({ env: { PATH: workDir }, sources: ['FFMPEG_PATH', 'ffmpeg-static', 'PATH'] }), (error: unknown) => {
    assert.ok(error instanceof FfmpegNotFoundError);
    assert.deepEqual(
      error.attempts.map((a) => a.source),
      ['FFMPEG_PATH', 'ffmpeg-static', 'PATH'],
    );
    for (const option of ['FFMPEG_PATH', 'ffmpeg-static', '@ffmpeg-installer/ffmpeg', 'apt-get install ffmpeg']) assert.ok(error.message.includes(option), option);
    return true;
  });
  // ffmpeg-static's installer needs GitHub, so it is usually absent and the bundled binary comes next.
  const found = await locateFfmpeg({ env: { PATH: process.env.PATH } });
  assert.equal(found.source, isInstalled('ffmpeg-static') ? 'ffmpeg-static' : '@ffmpeg-installer/ffmpeg');
});
