// A finished render whose end the database could not record yet (it was unavailable) is kept beside the job's files,
// so that a shutdown or a crash before the database is back does not lose it: recovery at the next start records the
// job as succeeded from this file instead of rendering it again (which would also delete the files it describes).
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { JobOutput } from '../core/jobs.js';
import type { JobFileData } from './job-store.js';
import type { MediaStore } from './media-store.js';

export interface RenderResult {
  output: JobOutput;
  gpuSeconds: number;
  finishedAt: Date;
}

const RESULT_FILE = 'render-result.json';

const resultSchema = z.object({
  output: z.object({
    mediaPath: z.string(),
    mediaType: z.enum(['video/mp4', 'image/png']),
    bytes: z.number().int().nonnegative(),
    posterPath: z.string().nullable(),
  }),
  gpuSeconds: z.number().nonnegative(),
  finishedAt: z.coerce.date(),
});

export async function saveRenderResult(outputsDir: string, jobId: string, result: RenderResult): Promise<void> {
  await writeFile(join(outputsDir, jobId, RESULT_FILE), JSON.stringify(result));
}

/** The job's kept result; undefined when there is none, it is unreadable, or its media file is gone. */
export async function loadRenderResult(outputsDir: string, jobId: string): Promise<RenderResult | undefined> {
  let text: string;
  try {
    text = await readFile(join(outputsDir, jobId, RESULT_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const parsed = resultSchema.safeParse(parseJson(text));
  if (!parsed.success) return undefined;
  const media = await stat(parsed.data.output.mediaPath).catch(() => undefined);
  return media?.isFile() === true ? parsed.data : undefined;
}

/**
 * A kept render with what its success records (MediaStore.keep), as a live success records it, since the process
 * that posts the video may run on another host.
 */
export async function loadFinishedRender(
  outputsDir: string,
  jobId: string,
  media: MediaStore,
): Promise<{ result: RenderResult; files: JobFileData[] } | undefined> {
  const result = await loadRenderResult(outputsDir, jobId);
  if (result === undefined) return undefined;
  return { result, files: await media.keep(jobId, result.output) };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
