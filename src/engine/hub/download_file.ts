// One file from the hub into `<path>.partial`, resumed with a Range request after any interruption
// (in this run or an earlier one), checked against the announced size and hash, then renamed to `<path>`.
// A file under its final name is therefore always complete and verified.
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContentHasher, hashFilePrefix } from './hashing.js';
import { HubError, hubErrorFromResponse, type HubRequestContext } from './hub_errors.js';
import { DEFAULT_RETRIES, describeNetworkError, fetchWithRetry, retryDelayMs, type RetryOptions } from './http.js';
import { sizeOrNull } from './manifest.js';

export interface DownloadTarget {
  url: string;
  /** Final path; the download goes to `${path}.partial` first. */
  path: string;
  size: number;
  /** Expected sha256 (LFS files). */
  sha256: string | null;
  /** Expected git blob sha1 (regular files). */
  gitBlobSha1: string | null;
}

export interface DownloadFileOptions extends RetryOptions {
  headers: Record<string, string>;
  context: HubRequestContext;
  /** A download that receives nothing for this long is cut and resumed. Default 60 s. */
  stallTimeoutMs?: number;
  /** Called with each chunk's size as it is written. */
  onBytes?: (bytes: number) => void;
}

export interface DownloadedFile {
  sha256: string;
  /** Bytes fetched over the network in this call (less than the size when resumed). */
  downloadedBytes: number;
}

const DEFAULT_STALL_TIMEOUT_MS = 60_000;

export function partialPathOf(path: string): string {
  return `${path}.partial`;
}

export async function downloadFile(target: DownloadTarget, options: DownloadFileOptions): Promise<DownloadedFile> {
  const { signal, context } = options;
  const partialPath = partialPathOf(target.path);
  await mkdir(dirname(target.path), { recursive: true });
  let have = (await sizeOrNull(partialPath)) ?? 0;
  if (have > target.size) {
    await rm(partialPath, { force: true });
    have = 0;
  }
  const hasher = new ContentHasher(target.size);
  await hashFilePrefix(partialPath, have, hasher, signal);

  const handle = await open(partialPath, 'a');
  const state: TransferState = { have, downloaded: 0 };
  try {
    const retries = options.retries ?? DEFAULT_RETRIES;
    for (let attempt = 0; state.have < target.size; attempt++) {
      try {
        await fetchInto(target, handle, hasher, state, options);
      } catch (error) {
        signal?.throwIfAborted();
        // Local file errors (disk full, permissions) and definite hub answers are not worth retrying;
        // network failures, stalls and 5xx/429 answers (HubError 'network') are.
        if ((error instanceof HubError && error.code !== 'network') || isFileSystemError(error)) throw error;
        if (attempt >= retries) {
          if (error instanceof HubError) throw error;
          throw new HubError(
            'network',
            `download of ${context.what} broke off at ${state.have} of ${target.size} bytes and did not recover after ${attempt + 1} attempts: ` +
              `${describeNetworkError(error)}. Run the pull again to resume.`,
            undefined,
            { cause: error },
          );
        }
        await sleep(retryDelayMs(attempt, options), undefined, { signal });
      }
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  have = state.have;

  const digest = hasher.digest();
  const problem =
    have !== target.size
      ? `size ${have} instead of ${target.size}`
      : target.sha256 !== null && digest.sha256 !== target.sha256
        ? `sha256 ${digest.sha256} instead of ${target.sha256}`
        : target.gitBlobSha1 !== null && digest.gitBlobSha1 !== target.gitBlobSha1
          ? `git blob sha1 ${digest.gitBlobSha1} instead of ${target.gitBlobSha1}`
          : null;
  if (problem !== null) {
    await rm(partialPath, { force: true });
    throw new HubError('integrity', `${context.what} from ${context.repoId} is corrupt: ${problem}. The partial file was deleted; run the pull again.`);
  }
  await rename(partialPath, target.path);
  return { sha256: digest.sha256, downloadedBytes: state.downloaded };
}

interface TransferState {
  /** Bytes in the partial file (all of them hashed). */
  have: number;
  /** Bytes received over the network in this call. */
  downloaded: number;
}

/**
 * One GET from byte `state.have` on, appended to the file. Resolves when the body ends; rejects on
 * network errors and stalls (the caller resumes) or with a HubError for answers retrying cannot fix.
 */
async function fetchInto(
  target: DownloadTarget,
  handle: FileHandle,
  hasher: ContentHasher,
  state: TransferState,
  options: DownloadFileOptions,
): Promise<void> {
  const stall = new AbortController();
  const stallTimeoutMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  const armStallTimer = () => setTimeout(() => stall.abort(new Error(`no data for ${stallTimeoutMs} ms`)), stallTimeoutMs);
  let stallTimer = armStallTimer();
  const signal = options.signal ? AbortSignal.any([options.signal, stall.signal]) : stall.signal;
  const restart = async () => {
    await handle.truncate(0);
    hasher.reset();
    state.have = 0;
  };
  try {
    const headers = { ...options.headers, ...(state.have > 0 ? { range: `bytes=${state.have}-` } : {}) };
    // Connection-level retries happen here through the caller's loop, so none inside fetchWithRetry.
    const response = await fetchWithRetry(target.url, { headers }, options.context, { ...options, retries: 0, signal });
    if (response.status === 200 && state.have > 0) {
      // The server ignored the Range header: start the file over.
      await restart();
    } else if (response.status === 206) {
      const start = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '')?.[1];
      if (Number(start) !== state.have) {
        await response.body?.cancel();
        throw new HubError('http', `the hub answered a request for ${options.context.what} from byte ${state.have} with range "${response.headers.get('content-range')}"`, 206);
      }
    } else if (response.status === 416) {
      // The partial file does not fit the remote one any more: start over on the next attempt.
      await response.body?.cancel();
      await restart();
      throw new Error('range not satisfiable');
    } else if (!response.ok) {
      throw await hubErrorFromResponse(response, options.context);
    }
    if (response.body === null) throw new Error('empty response body');
    for await (const chunk of response.body) {
      clearTimeout(stallTimer);
      stallTimer = armStallTimer();
      if (state.have + chunk.length > target.size) {
        throw new HubError('integrity', `${options.context.what} from ${options.context.repoId} is larger than the announced ${target.size} bytes`);
      }
      await handle.write(chunk);
      hasher.update(chunk);
      state.have += chunk.length;
      state.downloaded += chunk.length;
      options.onBytes?.(chunk.length);
    }
    if (state.have < target.size) throw new Error(`connection closed at ${state.have} of ${target.size} bytes`);
  } finally {
    clearTimeout(stallTimer);
  }
}

const FILE_SYSTEM_ERROR_CODES = new Set(['ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EROFS', 'EIO', 'EISDIR', 'ENOTDIR']);

function isFileSystemError(error: unknown): boolean {
  return FILE_SYSTEM_ERROR_CODES.has(String((error as NodeJS.ErrnoException | undefined)?.code));
}
