// A disk cache of built ONNX graphs. An entry is a directory holding model.onnx (and model.onnx.data for
// external weights) plus manifest.json, written last. The key hashes everything the graph depends on (builder
// version, dtype, config, the weights' identity); an entry is used only when its manifest carries that key and
// every file still has its recorded size and SHA-256, otherwise it is deleted and rebuilt. Builds happen in a
// temporary directory renamed into place, so a crash or a concurrent build never leaves a half-written entry.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256File } from '../utils/sha256_file.js';

const MANIFEST = 'manifest.json';
const MODEL_FILE = 'model.onnx';
const MANIFEST_VERSION = 1;
const HASH_CHUNK_BYTES = 4 * 2 ** 20;

export interface CacheEntrySpec {
  /** Graph kind, part of the entry's directory name: `unet`, `text_encoder`, `vae_decoder`, ... */
  name: string;
  dtype: string;
  /** Everything the built graph depends on (JSON-serializable); its hash is the key. */
  identity: unknown;
  /** Where the inputs come from (model folder and component); older entries of the same source are pruned. */
  source: string;
}

export interface CachedGraph {
  /** Path of model.onnx (its external data file, if any, sits beside it). */
  modelPath: string;
  /** True when the entry was valid and used as is. */
  hit: boolean;
  key: string;
}

export type CacheProgress =
  | { phase: 'verify'; name: string }
  | { phase: 'invalid'; name: string; reason: string }
  | { phase: 'build'; name: string }
  | { phase: 'hash'; name: string }
  | { phase: 'ready'; name: string; hit: boolean; seconds: number };

interface Manifest {
  manifestVersion: number;
  key: string;
  name: string;
  dtype: string;
  source: string;
  files: { name: string; size: number; sha256: string }[];
  createdAt: string;
  buildSeconds: number;
}

/** A stable JSON text (sorted object keys), so equal identities hash equally. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}

export class GraphCache {
  constructor(readonly dir: string) {}

  key(spec: CacheEntrySpec): string {
    return createHash('sha256').update(canonicalJson({ name: spec.name, dtype: spec.dtype, identity: spec.identity })).digest('hex');
  }

  private entryDir(spec: CacheEntrySpec, key: string): string {
    return join(this.dir, `${spec.name}-${spec.dtype}-${key.slice(0, 16)}`);
  }

  /**
   * The cached graph for `spec`, or a new one from `build(modelPath)` (which must write model.onnx, and may
   * write model.onnx.data, at the given path).
   */
  async getOrBuild(spec: CacheEntrySpec, build: (modelPath: string) => Promise<void>, onProgress?: (p: CacheProgress) => void): Promise<CachedGraph> {
    const started = performance.now();
    const key = this.key(spec);
    const dir = this.entryDir(spec, key);
    onProgress?.({ phase: 'verify', name: spec.name });
    const problem = await this.verify(dir, key);
    if (problem === undefined) {
      onProgress?.({ phase: 'ready', name: spec.name, hit: true, seconds: (performance.now() - started) / 1000 });
      return { modelPath: join(dir, MODEL_FILE), hit: true, key };
    }
    if (problem !== 'absent') {
      onProgress?.({ phase: 'invalid', name: spec.name, reason: problem });
      await rm(dir, { recursive: true, force: true });
    }

    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, `.tmp-${spec.name}-${randomBytes(6).toString('hex')}`);
    await mkdir(tmp);
    try {
      onProgress?.({ phase: 'build', name: spec.name });
      await build(join(tmp, MODEL_FILE));
      onProgress?.({ phase: 'hash', name: spec.name });
      const files = [];
      for (const name of (await readdir(tmp)).sort()) {
        const path = join(tmp, name);
        files.push({ name, size: (await stat(path)).size, sha256: await sha256File(path, { chunkSize: HASH_CHUNK_BYTES }) });
      }
      const manifest: Manifest = {
        manifestVersion: MANIFEST_VERSION,
        key,
        name: spec.name,
        dtype: spec.dtype,
        source: spec.source,
        files,
        createdAt: new Date().toISOString(),
        buildSeconds: (performance.now() - started) / 1000,
      };
      await writeFile(join(tmp, MANIFEST), JSON.stringify(manifest, null, 2));
      try {
        await rename(tmp, dir);
      } catch (e) {
        // Another process finished the same entry first; use theirs if it is valid.
        if ((await this.verify(dir, key)) !== undefined) throw e;
        await rm(tmp, { recursive: true, force: true });
      }
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
    await this.pruneStale(spec, dir);
    onProgress?.({ phase: 'ready', name: spec.name, hit: false, seconds: (performance.now() - started) / 1000 });
    return { modelPath: join(dir, MODEL_FILE), hit: false, key };
  }

  /** undefined when the entry is valid, 'absent' when there is none, else why it cannot be trusted. */
  private async verify(dir: string, key: string): Promise<string | undefined> {
    let manifest: Manifest;
    try {
      manifest = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as Manifest;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        const exists = await stat(dir).then(
          () => true,
          () => false,
        );
        return exists ? 'manifest missing' : 'absent';
      }
      return `manifest unreadable (${(e as Error).message})`;
    }
    if (manifest.manifestVersion !== MANIFEST_VERSION || manifest.key !== key) return 'manifest is for another key';
    if (!manifest.files.some((f) => f.name === MODEL_FILE)) return `${MODEL_FILE} not listed`;
    for (const file of manifest.files) {
      const path = join(dir, file.name);
      const size = await stat(path).then(
        (s) => s.size,
        () => -1,
      );
      if (size !== file.size) return `${file.name} has ${size < 0 ? 'gone' : `${size} bytes, expected ${file.size}`}`;
      if ((await sha256File(path, { chunkSize: HASH_CHUNK_BYTES })) !== file.sha256) return `${file.name} does not match its SHA-256`;
    }
    return undefined;
  }

  /** Removes other entries built from the same source, name and dtype (superseded by the current one). */
  private async pruneStale(spec: CacheEntrySpec, keep: string): Promise<void> {
    const prefix = `${spec.name}-${spec.dtype}-`;
    for (const name of await readdir(this.dir)) {
      const dir = join(this.dir, name);
      if (!name.startsWith(prefix) || dir === keep) continue;
      const manifest = await readFile(join(dir, MANIFEST), 'utf8').then(
        (t) => JSON.parse(t) as Manifest,
        () => undefined,
      );
      if (manifest?.source === spec.source) await rm(dir, { recursive: true, force: true });
    }
  }
}
