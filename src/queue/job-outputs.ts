// Removing one finished job's files on an admin's request (the retention sweep in retention.ts does the same for
// old jobs on a schedule). The job stays in the history without its video; `reproduce` can render it again.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode } from '../core/errors.js';
import { FINISHED_STATUSES, type Job } from '../core/jobs.js';
import { videoBotError } from '../core/messages.js';
import type { JobStore } from './job-store.js';
import type { MediaStore } from './media-store.js';

/** Deletes the job's output folder and forgets its files. InvalidState while the job is not finished. */
export async function deleteJobOutput(store: JobStore, media: MediaStore, outputsDir: string, job: Job): Promise<void> {
  if (!FINISHED_STATUSES.includes(job.status)) {
    throw videoBotError(ErrorCode.InvalidState, { jobId: job.id, status: job.status, action: 'video' });
  }
  if (job.output === null) throw videoBotError(ErrorCode.NotFound, { entity: 'video', id: job.id });
  await removeJobOutput(store, media, outputsDir, job.id);
}

/**
 * Deletes a job's output folder and its objects in the bucket, and forgets its files, without checks (the retention
 * sweep picks finished jobs). The bucket goes first: while it is unreachable this throws Unavailable and the job keeps
 * its record, so that the next sweep or delete removes the objects rather than forgetting them.
 */
export async function removeJobOutput(store: JobStore, media: MediaStore, outputsDir: string, jobId: string): Promise<void> {
  await media.removeJob(jobId);
  // The folder is named by the job id under outputsDir (as the worker creates it), never by a stored path.
  await rm(join(outputsDir, jobId), { recursive: true, force: true });
  await store.clearOutput(jobId);
}
