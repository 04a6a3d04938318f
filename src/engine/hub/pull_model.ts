// `t2v model pull`: downloads a diffusers text-to-video pipeline from the Hugging Face hub into a
// model folder. Files go into `<dest>.partial/` (each through its own `.partial` file, resumable),
// the manifest is written last, and the folder is renamed to `<dest>` only when everything is there
// and verified, so `<dest>` is either absent, the previous complete model, or the new complete model.
// Running the same pull again resumes where the last one stopped.
import { mkdir, open, readFile, rename, rm, statfs, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fetchRepoRevision, resolveUrl, authHeaders, DEFAULT_ENDPOINT, type RepoFile } from './hub_api.js';
import { downloadFile, partialPathOf } from './download_file.js';
import { findModelIndex, MODEL_INDEX_NAME, selectPipelineFiles } from './file_selection.js';
import { sha256File } from '../utils/sha256_file.js';
import { HubError } from './hub_errors.js';
import { readManifest, REPLACED_SUFFIX, sizeOrNull, STAGING_SUFFIX, verifyModelFolder, writeManifest, type ModelManifest } from './manifest.js';
import type { RetryOptions } from './http.js';

export const DEFAULT_REPO_ID = 'ali-vilab/text-to-video-ms-1.7b';
export const DEFAULT_REVISION = 'main';
export const DEFAULT_VARIANT = 'fp16';

export interface PullProgress {
  phase: 'listing' | 'downloading' | 'done';
  /** Repository path of the file being downloaded. */
  file: string | null;
  filesDone: number;
  filesTotal: number;
  /** Bytes of the selected files present locally (resumed bytes included). */
  bytesDone: number;
  bytesTotal: number;
  /** Download speed over the last few seconds, bytes per second. */
  bytesPerSecond: number;
}

export interface PullModelOptions extends RetryOptions {
  /** Default 'ali-vilab/text-to-video-ms-1.7b'. */
  repoId?: string;
  /** Branch, tag or commit. Default 'main'. */
  revision?: string;
  /** Weights variant ('fp16' picks `*.fp16.safetensors`); null for the plain weights. Default 'fp16'. */
  variant?: string | null;
  /** The model folder to create or update. */
  dest: string;
  /** Hub base URL. Default: hubSettingsFromEnv().endpoint (HF_ENDPOINT or https://huggingface.co). */
  endpoint?: string;
  /** Access token for gated or private repositories. Default: hubSettingsFromEnv().token (HF_TOKEN). */
  token?: string;
  onProgress?: (progress: PullProgress) => void;
  /** A download that receives nothing for this long is resumed. Default 60 s. */
  stallTimeoutMs?: number;
}

export interface PullModelResult {
  dest: string;
  repoId: string;
  revision: string;
  commit: string;
  variant: string | null;
  files: number;
  bytes: number;
  /** Bytes fetched over the network by this call. */
  downloadedBytes: number;
  /** True when `dest` already held this commit and variant, verified by size; nothing was downloaded. */
  upToDate: boolean;
}

/** HF_ENDPOINT and HF_TOKEN (or the older HUGGING_FACE_HUB_TOKEN), as huggingface_hub reads them. */
export function hubSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): { endpoint: string; token: string | undefined } {
  return {
    endpoint: env.HF_ENDPOINT || DEFAULT_ENDPOINT,
    token: env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || undefined,
  };
}

/** Bookkeeping inside the staging folder: which pull it belongs to. */
const STAGING_STATE_NAME = '.t2v-pull.json';
const PROGRESS_INTERVAL_MS = 100;
const SPEED_WINDOW_MS = 5_000;

export async function pullModel(options: PullModelOptions): Promise<PullModelResult> {
  const env = hubSettingsFromEnv();
  const repoId = options.repoId ?? DEFAULT_REPO_ID;
  const revision = options.revision ?? DEFAULT_REVISION;
  const variant = options.variant === undefined ? DEFAULT_VARIANT : options.variant;
  const endpoint = (options.endpoint ?? env.endpoint).replace(/\/+$/, '');
  const token = options.token ?? env.token;
  const dest = resolve(options.dest);
  const staging = `${dest}${STAGING_SUFFIX}`;
  const { signal } = options;
  const progress = new ProgressReporter(options.onProgress);
  progress.report({ phase: 'listing', file: null, filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0 }, true);

  const existing = await readExistingModel(dest);
  const client = { endpoint, token, signal, retries: options.retries, retryBaseDelayMs: options.retryBaseDelayMs };
  const remote = await fetchRepoRevision(repoId, revision, client);

  if (existing !== null && existing.repoId === repoId && existing.commit === remote.commit && existing.variant === variant) {
    const check = await verifyModelFolder(dest, { hashes: false });
    if (check.ok) {
      const bytes = existing.files.reduce((sum, f) => sum + f.size, 0);
      progress.report({ phase: 'done', file: null, filesDone: existing.files.length, filesTotal: existing.files.length, bytesDone: bytes, bytesTotal: bytes }, true);
      return { dest, repoId, revision, commit: remote.commit, variant, files: existing.files.length, bytes, downloadedBytes: 0, upToDate: true };
    }
  }

  await mkdir(dirname(dest), { recursive: true });
  const releaseLock = await acquireLock(`${dest}.lock`);
  try {
    await prepareStaging(staging, { repoId, commit: remote.commit, variant });
    const download = (file: RepoFile, onBytes?: (bytes: number) => void) =>
      downloadFile(
        { url: resolveUrl(endpoint, repoId, remote.commit, file.path), path: join(staging, file.path), size: file.size, sha256: file.sha256, gitBlobSha1: file.gitBlobSha1 },
        {
          ...client,
          headers: authHeaders(token),
          context: { repoId, revision, what: file.path, endpoint, hasToken: Boolean(token) },
          stallTimeoutMs: options.stallTimeoutMs,
          onBytes,
        },
      );

    // model_index.json first: it names the components, which decide what else to fetch.
    const indexFile = findModelIndex(remote.files);
    let downloadedBytes = 0;
    if (!(await isComplete(join(staging, MODEL_INDEX_NAME), indexFile.size))) downloadedBytes += (await download(indexFile)).downloadedBytes;
    const modelIndex = JSON.parse(await readFile(join(staging, MODEL_INDEX_NAME), 'utf8')) as unknown;
    const selected = selectPipelineFiles(remote.files, modelIndex, variant);
    const bytesTotal = selected.reduce((sum, f) => sum + f.size, 0);

    // With each file left to download, the bytes an earlier pull left of it: done, and resumed from.
    const pending: { file: RepoFile; partial: number }[] = [];
    let bytesDone = 0;
    let filesDone = 0;
    for (const file of selected) {
      if (await isComplete(join(staging, file.path), file.size)) {
        bytesDone += file.size;
        filesDone += 1;
      } else {
        const partial = Math.min((await sizeOrNull(partialPathOf(join(staging, file.path)))) ?? 0, file.size);
        pending.push({ file, partial });
        bytesDone += partial;
      }
    }
    await ensureFreeSpace(dirname(dest), bytesTotal - bytesDone);

    for (const { file, partial } of pending) {
      signal?.throwIfAborted();
      const fileStart = bytesDone - partial;
      let fileBytes = partial;
      const result = await download(file, (bytes) => {
        fileBytes += bytes;
        progress.addBytes(bytes);
        progress.report({ phase: 'downloading', file: file.path, filesDone, filesTotal: selected.length, bytesDone: fileStart + fileBytes, bytesTotal });
      });
      downloadedBytes += result.downloadedBytes;
      bytesDone = fileStart + file.size;
      filesDone += 1;
      progress.report({ phase: 'downloading', file: file.path, filesDone, filesTotal: selected.length, bytesDone, bytesTotal }, true);
    }

    const manifest: ModelManifest = {
      format: 1,
      repoId,
      revision,
      commit: remote.commit,
      variant,
      endpoint,
      pulledAt: new Date().toISOString(),
      files: await Promise.all(
        selected.map(async (f) => ({ path: f.path, size: f.size, sha256: f.sha256 ?? (await sha256File(join(staging, f.path), { signal })) })),
      ),
    };
    await rm(join(staging, STAGING_STATE_NAME), { force: true });
    await writeManifest(staging, manifest);
    signal?.throwIfAborted();
    await moveIntoPlace(staging, dest);
    progress.report({ phase: 'done', file: null, filesDone: selected.length, filesTotal: selected.length, bytesDone: bytesTotal, bytesTotal }, true);
    return { dest, repoId, revision, commit: remote.commit, variant, files: selected.length, bytes: bytesTotal, downloadedBytes, upToDate: false };
  } finally {
    await releaseLock();
  }
}

/** The manifest of an existing `dest`; refuses to touch a folder that a pull did not create. */
async function readExistingModel(dest: string): Promise<ModelManifest | null> {
  if ((await sizeOrNull(dest)) === null) return null;
  const manifest = await readManifest(dest);
  if (manifest === null) {
    throw new HubError('destination_exists', `${dest} exists and was not created by a pull (no t2v-manifest.json); move it away or choose another destination`);
  }
  return manifest;
}

/** Keeps a staging folder of the same pull (to resume); wipes one left by a different repo, commit or variant. */
async function prepareStaging(staging: string, identity: { repoId: string; commit: string; variant: string | null }): Promise<void> {
  const statePath = join(staging, STAGING_STATE_NAME);
  const wanted = JSON.stringify(identity);
  const found = await readFile(statePath, 'utf8').catch(() => null);
  if (found !== wanted) {
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    await writeFile(statePath, wanted);
  }
}

/** Renames staging to dest; a previous model at dest is moved aside first and removed after. */
async function moveIntoPlace(staging: string, dest: string): Promise<void> {
  if ((await sizeOrNull(dest)) === null) {
    await rename(staging, dest);
    return;
  }
  const replaced = `${dest}${REPLACED_SUFFIX}-${Date.now()}`;
  await rename(dest, replaced);
  await rename(staging, dest);
  await rm(replaced, { recursive: true, force: true });
}

/** An exclusive lock file holding our pid; a lock whose process is gone is taken over. */
async function acquireLock(path: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(await readFile(path, 'utf8').catch(() => ''));
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new HubError('locked', `another pull into ${basename(path, '.lock')} is running (pid ${pid}); wait for it or stop it`);
      }
      await rm(path, { force: true });
    }
  }
  throw new HubError('locked', `cannot take the lock ${path}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function ensureFreeSpace(dir: string, bytesNeeded: number): Promise<void> {
  const fs = await statfs(dir);
  const available = fs.bavail * fs.bsize;
  if (available < bytesNeeded) {
    throw new HubError(
      'no_space',
      `the download needs ${formatBytes(bytesNeeded)} more but ${dir} has ${formatBytes(available)} free; free some space or pull into another folder`,
    );
  }
}

async function isComplete(path: string, size: number): Promise<boolean> {
  return (await sizeOrNull(path)) === size;
}


export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** Throttles progress callbacks and measures speed over a sliding window. */
class ProgressReporter {
  private readonly samples: Array<{ at: number; bytes: number }> = [];
  private lastReport = 0;
  private lastFile: string | null = null;

  constructor(private readonly onProgress: ((progress: PullProgress) => void) | undefined) {}

  addBytes(bytes: number): void {
    const now = performance.now();
    this.samples.push({ at: now, bytes });
    while (this.samples.length > 0 && (this.samples[0] as { at: number }).at < now - SPEED_WINDOW_MS) this.samples.shift();
  }

  report(progress: Omit<PullProgress, 'bytesPerSecond'>, force = false): void {
    if (this.onProgress === undefined) return;
    const now = performance.now();
    // A new file is reported at once, so a progress display names it from its first byte.
    if (!force && progress.file === this.lastFile && now - this.lastReport < PROGRESS_INTERVAL_MS) return;
    this.lastReport = now;
    this.lastFile = progress.file;
    this.onProgress({ ...progress, bytesPerSecond: this.bytesPerSecond(now) });
  }

  private bytesPerSecond(now: number): number {
    const first = this.samples[0];
    if (first === undefined) return 0;
    const bytes = this.samples.reduce((sum, s) => sum + s.bytes, 0);
    return bytes / (Math.max(now - first.at, 250) / 1000);
  }
}
