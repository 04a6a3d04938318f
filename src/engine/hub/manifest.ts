// The manifest a pull writes last into a model folder (t2v-manifest.json): where the model came from
// and the size and sha256 of every file. Its presence marks a complete pull; `verifyModelFolder`
// re-checks a folder against it, and `listModels` lists the model folders under a directory.
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { sha256File } from '../utils/sha256_file.js';
import { MODEL_INDEX_NAME, pipelineComponents } from './file_selection.js';

export const MANIFEST_NAME = 't2v-manifest.json';

const ManifestSchema = z.object({
  format: z.literal(1),
  repoId: z.string(),
  revision: z.string(),
  commit: z.string(),
  variant: z.string().nullable(),
  endpoint: z.string(),
  pulledAt: z.string(),
  files: z.array(z.object({ path: z.string(), size: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
});

export type ModelManifest = z.output<typeof ManifestSchema>;

/** The manifest of `dir`, or null when it has none. Throws when one exists but is unreadable. */
export async function readManifest(dir: string): Promise<ModelManifest | null> {
  const path = join(dir, MANIFEST_NAME);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not valid JSON; delete the model folder and pull it again`, { cause: error });
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${path} is not a t2v manifest:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export async function writeManifest(dir: string, manifest: ModelManifest): Promise<void> {
  await writeFile(join(dir, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
}

export interface FolderProblem {
  path: string;
  problem: 'missing' | 'size' | 'hash' | 'component';
  detail: string;
}

export interface VerifyModelFolderOptions {
  /** Re-hash every file (reads the whole model). Default true; false checks presence and sizes only. */
  hashes?: boolean;
  /** Bytes hashed so far and the total, while hashing. */
  onProgress?: (progress: { bytesDone: number; bytesTotal: number; file: string }) => void;
  signal?: AbortSignal;
}

export interface VerifyModelFolderResult {
  ok: boolean;
  manifest: ModelManifest | null;
  /** False without a manifest (a folder not made by `pullModel`) or with `hashes: false`. */
  hashesChecked: boolean;
  problems: FolderProblem[];
}

/**
 * Checks a model folder: with a manifest, every listed file's presence, size and (optionally) sha256;
 * without one, that model_index.json names components whose folders exist with a config.
 */
export async function verifyModelFolder(dir: string, options: VerifyModelFolderOptions = {}): Promise<VerifyModelFolderResult> {
  const manifest = await readManifest(dir);
  const problems: FolderProblem[] = manifest === null ? await checkStructure(dir) : [];
  const checkHashes = manifest !== null && (options.hashes ?? true);
  if (manifest !== null) {
    const bytesTotal = manifest.files.reduce((sum, f) => sum + f.size, 0);
    let bytesDone = 0;
    for (const file of manifest.files) {
      const path = join(dir, file.path);
      const size = await sizeOrNull(path);
      if (size === null) {
        problems.push({ path: file.path, problem: 'missing', detail: 'file is missing' });
      } else if (size !== file.size) {
        problems.push({ path: file.path, problem: 'size', detail: `${size} bytes instead of ${file.size}` });
      } else if (checkHashes) {
        const sha256 = await sha256File(path, {
          onBytes: (bytes) => {
            bytesDone += bytes;
            options.onProgress?.({ bytesDone, bytesTotal, file: file.path });
          },
          signal: options.signal,
        });
        if (sha256 !== file.sha256) problems.push({ path: file.path, problem: 'hash', detail: `sha256 ${sha256} instead of ${file.sha256}` });
        continue;
      }
      bytesDone += file.size;
    }
  }
  return { ok: problems.length === 0, manifest, hashesChecked: checkHashes, problems };
}

async function checkStructure(dir: string): Promise<FolderProblem[]> {
  let modelIndex: unknown;
  try {
    modelIndex = JSON.parse(await readFile(join(dir, MODEL_INDEX_NAME), 'utf8'));
  } catch (error) {
    return [{ path: MODEL_INDEX_NAME, problem: 'missing', detail: `cannot read ${MODEL_INDEX_NAME}: ${(error as Error).message}` }];
  }
  const problems: FolderProblem[] = [];
  for (const component of pipelineComponents(modelIndex)) {
    const entries = await readdir(join(dir, component)).catch(() => null);
    if (entries === null) problems.push({ path: component, problem: 'component', detail: `folder ${component}/ named in ${MODEL_INDEX_NAME} is missing` });
    else if (!entries.some((name) => name.endsWith('.json'))) problems.push({ path: component, problem: 'component', detail: `${component}/ has no config file` });
  }
  return problems;
}

export interface ListedModel {
  name: string;
  path: string;
  /** Null for folders not made by `pullModel` (copied by hand); they can still be loaded. */
  manifest: ModelManifest | null;
  /** Sum of the manifest's file sizes; null without a manifest. */
  bytes: number | null;
}

/** Model folders (those with a model_index.json) directly under `dir`, sorted by name. */
export async function listModels(dir: string): Promise<ListedModel[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  const models: ListedModel[] = [];
  // Staging folders of unfinished pulls also hold a model_index.json; they are not models yet.
  const folders = entries.filter((e) => e.isDirectory() && !isStagingFolderName(e.name));
  for (const entry of folders.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if ((await sizeOrNull(join(path, MODEL_INDEX_NAME))) === null) continue;
    const manifest = await readManifest(path);
    models.push({ name: entry.name, path, manifest, bytes: manifest ? manifest.files.reduce((sum, f) => sum + f.size, 0) : null });
  }
  return models;
}

/** Suffix of the folder a pull downloads into before renaming it to the destination. */
export const STAGING_SUFFIX = '.partial';
/** Suffix of a replaced model folder while it is being removed. */
export const REPLACED_SUFFIX = '.replaced';

function isStagingFolderName(name: string): boolean {
  return name.endsWith(STAGING_SUFFIX) || name.includes(REPLACED_SUFFIX);
}

/** The file's size, or null when it does not exist. */
export async function sizeOrNull(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
