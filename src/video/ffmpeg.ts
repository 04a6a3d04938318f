// Finding a working ffmpeg and running it. ffmpeg does the video encoding (H.264 via libx264, GIF,
// WebP); frames go in through stdin as raw RGB, never through temporary image files.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';

export type FfmpegSource = 'FFMPEG_PATH' | 'ffmpeg-static' | '@ffmpeg-installer/ffmpeg' | 'PATH';

/**
 * Where ffmpeg is looked for, in order: an explicit FFMPEG_PATH wins (and is never silently skipped);
 * then ffmpeg-static (optional dependency, often absent because its installer downloads from GitHub);
 * then the binary shipped inside @ffmpeg-installer/ffmpeg (a 2018 static build with libx264, so a
 * fresh offline clone encodes with nothing but `npm install`); then `ffmpeg` on PATH.
 */
export const FFMPEG_SOURCES: readonly FfmpegSource[] = ['FFMPEG_PATH', 'ffmpeg-static', '@ffmpeg-installer/ffmpeg', 'PATH'];

export interface FfmpegBinary {
  path: string;
  source: FfmpegSource;
  /** The version token of `ffmpeg -version`, for logs. */
  version: string;
}

export interface LocateFfmpegOptions {
  /** Environment to read FFMPEG_PATH and PATH from. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** Sources to try, in order. Default: FFMPEG_SOURCES. */
  sources?: readonly FfmpegSource[];
}

/** No ffmpeg can be run: none was found, FFMPEG_PATH does not work, or the one found earlier has gone. */
export class FfmpegNotFoundError extends Error {
  constructor(
    readonly attempts: ReadonlyArray<{ source: FfmpegSource; reason: string }>,
    message = `no working ffmpeg with libx264 found. Tried:\n${attempts.map((a) => `  - ${a.source}: ${a.reason}`).join('\n')}\n` +
      'Fix one of: set FFMPEG_PATH to an ffmpeg binary; `npm install ffmpeg-static`; reinstall dependencies so ' +
      '@ffmpeg-installer/ffmpeg ships its binary (`npm install`); or install ffmpeg on PATH (Debian/Ubuntu: `apt-get install ffmpeg`).',
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'FfmpegNotFoundError';
  }
}

/** ffmpeg failed: an error exit, killed by a signal, or errors reported on a 0 exit; `stderr` holds the end of its log. */
export class FfmpegError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderr: string,
  ) {
    super(stderr ? `${message}\nffmpeg said: ${stderr}` : message);
    this.name = 'FfmpegError';
  }
}

const located = new Map<string, Promise<FfmpegBinary>>();

/** Finds and verifies (runs once) an ffmpeg binary; the result is cached per environment and source list. */
export function locateFfmpeg(options: LocateFfmpegOptions = {}): Promise<FfmpegBinary> {
  const env = options.env ?? process.env;
  const sources = options.sources ?? FFMPEG_SOURCES;
  const key = JSON.stringify([sources, env.FFMPEG_PATH ?? null, env.PATH ?? null]);
  let result = located.get(key);
  if (result === undefined) {
    result = findFfmpeg(env, sources);
    located.set(key, result);
    // A failure is not cached: the user may install ffmpeg and retry in the same process.
    result.catch(() => located.delete(key));
  }
  return result;
}

/**
 * locateFfmpeg for the configured FFMPEG_PATH (config.engine.ffmpegPath; '' when unset), which may come from a
 * .env file rather than the process environment.
 */
export function locateConfiguredFfmpeg(ffmpegPath: string): Promise<FfmpegBinary> {
  return locateFfmpeg(ffmpegPath === '' ? {} : { env: { ...process.env, FFMPEG_PATH: ffmpegPath } });
}

async function findFfmpeg(env: NodeJS.ProcessEnv, sources: readonly FfmpegSource[]): Promise<FfmpegBinary> {
  const attempts: Array<{ source: FfmpegSource; reason: string }> = [];
  for (const source of sources) {
    let path: string;
    try {
      const candidate = candidatePath(source, env);
      if (candidate === undefined) {
        attempts.push({ source, reason: source === 'FFMPEG_PATH' ? 'not set' : 'not installed' });
        continue;
      }
      path = candidate;
    } catch (error) {
      attempts.push({ source, reason: `not usable (${describe(error)})` });
      continue;
    }
    try {
      return { path, source, version: await verifyFfmpeg(path, env) };
    } catch (error) {
      if (source === 'FFMPEG_PATH') {
        const reason = describe(error);
        throw new FfmpegNotFoundError([{ source, reason }], `FFMPEG_PATH=${path} does not work: ${reason}. Point it at a working ffmpeg with libx264, or unset it.`, {
          cause: error,
        });
      }
      attempts.push({ source, reason: `${path} does not work (${describe(error)})` });
    }
  }
  throw new FfmpegNotFoundError(attempts);
}

const require = createRequire(import.meta.url);

function candidatePath(source: FfmpegSource, env: NodeJS.ProcessEnv): string | undefined {
  switch (source) {
    case 'FFMPEG_PATH':
      return env.FFMPEG_PATH || undefined;
    case 'ffmpeg-static':
      return optionalRequire<string | null>('ffmpeg-static') ?? undefined;
    case '@ffmpeg-installer/ffmpeg':
      return optionalRequire<{ path: string }>('@ffmpeg-installer/ffmpeg')?.path;
    case 'PATH':
      return 'ffmpeg';
  }
}

/** The module's export, or undefined when the package is not installed. Other load errors propagate. */
function optionalRequire<T>(name: string): T | undefined {
  try {
    return require(name) as T;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'MODULE_NOT_FOUND' && String((error as Error).message).includes(`'${name}'`)) return undefined;
    throw error;
  }
}

const VERIFY_TIMEOUT_MS = 15_000;

/** Runs `ffmpeg -version`; checks it starts and was built with libx264. Returns the version token. */
async function verifyFfmpeg(path: string, env: NodeJS.ProcessEnv): Promise<string> {
  // AbortSignal.timeout's timer is unref'd; spawn's own `timeout` option keeps the process alive when spawning fails.
  const child = spawn(path, ['-hide_banner', '-version'], { stdio: ['ignore', 'pipe', 'pipe'], env, signal: AbortSignal.timeout(VERIFY_TIMEOUT_MS), killSignal: 'SIGKILL' });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.resume();
  // events.once rejects if 'error' comes first (the binary does not exist or cannot run).
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`\`${path} -version\` exited with code ${code}`);
  if (!output.includes('--enable-libx264')) throw new Error('built without libx264 (H.264)');
  return /^ffmpeg version (\S+)/m.exec(output)?.[1] ?? 'unknown';
}

export interface RunFfmpegOptions {
  /** Writes the process's stdin; resolve when done (stdin is then closed). Omit for no input. */
  writeInput?: (stdin: NodeJS.WritableStream) => Promise<void>;
  signal?: AbortSignal;
}

const STDERR_TAIL_CHARS = 2000;

/**
 * Runs ffmpeg with `args` (after -hide_banner -loglevel error -y). Resolves when it exits with 0 and printed
 * nothing. Aborting or any failure kills the process; the promise rejects with the abort reason, the input
 * writer's error, an FfmpegNotFoundError when the binary cannot be started, or an FfmpegError carrying the end
 * of ffmpeg's log.
 */
export async function runFfmpeg(binary: FfmpegBinary, args: readonly string[], options: RunFfmpegOptions = {}): Promise<void> {
  const { writeInput, signal } = options;
  signal?.throwIfAborted();
  const child = spawn(binary.path, ['-hide_banner', '-loglevel', 'error', '-y', ...args], {
    stdio: [writeInput ? 'pipe' : 'ignore', 'ignore', 'pipe'],
  });
  let killedHere = false;
  const kill = () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    killedHere = true;
    child.kill('SIGKILL');
  };
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS);
  });
  // events.once rejects if 'error' comes first: the spawn failed.
  const exited = (once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>).catch((error: unknown) => {
    // The binary checked earlier was deleted, moved or lost its execute permission: look for one again next time.
    located.clear();
    throw new FfmpegNotFoundError(
      [{ source: binary.source, reason: describe(error) }],
      `ffmpeg ${binary.path} (${binary.source}) can no longer be started (${describe(error)}): it was removed, moved or ` +
        'made non-executable after it was checked. Reinstall it, or set FFMPEG_PATH to a working ffmpeg with libx264; ' +
        'the next video looks for ffmpeg again.',
      { cause: error },
    );
  });
  let abortReason: unknown;
  const onAbort = () => {
    abortReason = signal?.reason ?? new DOMException('The operation was aborted.', 'AbortError');
    kill();
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  let inputError: unknown;
  const stdin = child.stdin;
  if (writeInput && stdin) {
    // EPIPE when ffmpeg stops reading early: its exit status and stderr tell the real story.
    stdin.on('error', () => undefined);
    writeInput(stdin).then(
      () => stdin.end(),
      (error: unknown) => {
        inputError = error;
        // A pipe that ffmpeg's end closed is a consequence, not a cause: ffmpeg is already gone.
        if (!stdin.destroyed) kill();
      },
    );
  }
  try {
    const [code, exitSignal] = await exited;
    if (abortReason !== undefined) throw abortReason;
    if (killedHere && inputError !== undefined) throw inputError;
    const name = `ffmpeg (${binary.source}: ${binary.path})`;
    if (exitSignal !== null) {
      throw new FfmpegError(`${name} was killed by ${exitSignal} (by another process, or by the kernel when memory ran out)`, code, exitSignal, stderr.trim());
    }
    if (code !== 0) throw new FfmpegError(`${name} failed with exit code ${code}`, code, null, stderr.trim());
    if (inputError !== undefined) throw inputError;
    // At -loglevel error whatever ffmpeg prints is an error, and some are not in its exit status: when writing the end
    // of the file fails, both Debian 12's ffmpeg 5.1 and the 2018 build in @ffmpeg-installer exit with 0 (measured:
    // a full disk left a cut MP4 that was then served).
    if (stderr.trim() !== '') throw new FfmpegError(`${name} reported errors although it exited with 0`, code, null, stderr.trim());
  } finally {
    signal?.removeEventListener('abort', onAbort);
    kill();
    // A writer still waiting for 'drain' is released by closing the pipe.
    stdin?.destroy();
  }
}

/**
 * Writes `chunk` to ffmpeg's stdin, waiting for 'drain' when the pipe buffer is full (backpressure),
 * so at most one frame is queued in memory. Rejects if the pipe closes first.
 */
export async function writeWithBackpressure(stream: NodeJS.WritableStream, chunk: Uint8Array): Promise<void> {
  if (stream.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const onDrain = () => {
      stream.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      stream.off('drain', onDrain);
      reject(new Error('ffmpeg closed its input before all frames were written'));
    };
    stream.once('drain', onDrain);
    stream.once('close', onClose);
  });
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
