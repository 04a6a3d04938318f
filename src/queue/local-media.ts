// A finished job's files on this host. The worker that rendered the job may run on another host: with
// MEDIA_STORE=database or bucket its success records the files (media-store.ts), and the process that serves or
// posts them (the front) writes a copy under its own DATA_DIR/outputs/<jobId>/ the first time it needs them. The
// copy is written to a temporary name and renamed, so a concurrent request never reads half a file; the retention
// sweep and the admin's delete remove it with the job's folder.
import { randomBytes } from 'node:crypto';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Job, JobOutput } from '../core/jobs.js';
import type { JobFileKind, JobStore } from './job-store.js';
import type { MediaStore } from './media-store.js';

export class LocalMedia {
  constructor(
    private readonly store: JobStore,
    private readonly media: MediaStore,
    private readonly outputsDir: string,
  ) {}

  /**
   * The job with its output's paths on this host: as recorded when the files are here, else copied here from the
   * database or the bucket. Unchanged when there is nothing to copy (no output, or neither the files nor a recorded
   * copy exist: serving then answers 404 as for a deleted video). Throws Unavailable while the bucket is unreachable.
   */
  async withLocalFiles(job: Job): Promise<Job> {
    const output = job.output;
    if (output === null || (await isFile(output.mediaPath))) return job;
    const mediaPath = await this.#copy(job.id, 'video');
    if (mediaPath === undefined) return job;
    const posterPath = output.posterPath === null ? null : ((await this.#copy(job.id, 'poster')) ?? null);
    const local: JobOutput = { ...output, mediaPath, posterPath };
    return { ...job, output: local };
  }

  async #copy(jobId: string, kind: JobFileKind): Promise<string | undefined> {
    const file = await this.store.jobFile(jobId, kind);
    if (file === null) return undefined;
    const dir = join(this.outputsDir, jobId);
    const path = join(dir, basename(file.fileName));
    if (await isFile(path)) return path;
    await mkdir(dir, { recursive: true });
    const partial = `${path}.${randomBytes(4).toString('hex')}.partial`;
    await writeFile(partial, await this.media.read(file));
    await rename(partial, path);
    return path;
  }
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}
