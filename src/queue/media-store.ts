// Where a finished job's files wait for the process that serves and posts them (MEDIA_STORE, docs/scale-out.md).
// The worker that rendered a job may run on another host than the front that posts it:
// - `files`: the files stay under the worker's DATA_DIR/outputs/<jobId>/ (one host, or a DATA_DIR shared by all);
// - `database`: the success records the files themselves, in the same transaction;
// - `bucket`: the files are uploaded to an S3-compatible bucket first, and the success records their keys.
// Every render of a job uploads under a folder of its own, so a worker that lost its lease never overwrites what the
// worker that took the job over recorded. What such a render uploaded is left where it is (whether a success whose
// answer was lost was recorded cannot be told for sure): the retention sweep and the admin's delete remove the job's
// whole folder.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { MediaStoreKind } from '../config.js';
import { ErrorCode } from '../core/errors.js';
import type { JobOutput } from '../core/jobs.js';
import { videoBotError } from '../core/messages.js';
import { RETRY_AFTER_SECONDS } from '../db/database-faults.js';
import type { JobFileData } from './job-store.js';
import { BucketError, type S3Bucket } from './s3-bucket.js';

export class MediaStore {
  private constructor(
    readonly kind: MediaStoreKind,
    private readonly bucket: S3Bucket | undefined,
  ) {}

  static files(): MediaStore {
    return new MediaStore('files', undefined);
  }

  static database(): MediaStore {
    return new MediaStore('database', undefined);
  }

  static bucket(bucket: S3Bucket): MediaStore {
    return new MediaStore('bucket', bucket);
  }

  /** True when a success records the files, so the worker's own copy is not needed once it is recorded. */
  get recordsFiles(): boolean {
    return this.kind !== 'files';
  }

  /**
   * What a success records for the job's files: nothing (`files`), their bytes (`database`), or the keys of the
   * objects just uploaded (`bucket`). Throws Unavailable while the bucket cannot be reached.
   */
  async keep(jobId: string, output: JobOutput): Promise<JobFileData[]> {
    if (this.kind === 'files') return [];
    const files = await readJobFiles(output);
    const bucket = this.bucket;
    if (bucket === undefined) return files;
    const renderId = randomBytes(6).toString('hex');
    return this.#bucketCall(() =>
      Promise.all(
        files.map(async (file) => {
          const objectKey = bucket.key(jobId, renderId, file.fileName);
          await bucket.put(objectKey, file.bytes!, file.contentType);
          return { ...file, bytes: null, objectKey };
        }),
      ),
    );
  }

  /** A recorded file's bytes, from the database row or from the bucket. */
  async read(file: JobFileData): Promise<Buffer> {
    if (file.bytes !== null) return file.bytes;
    const key = file.objectKey!;
    return this.#bucketCall(() => this.#requireBucket().get(key));
  }

  /** Whether the bucket answers and accepts the key, for /healthz; undefined when this store keeps no files in a bucket. */
  async bucketReachable(): Promise<boolean | undefined> {
    if (this.bucket === undefined) return undefined;
    return this.bucket.check().then(
      () => true,
      () => false,
    );
  }

  /** Deletes the job's objects in the bucket, if this store keeps any there. */
  async removeJob(jobId: string): Promise<void> {
    if (this.bucket !== undefined) await this.#bucketCall(() => this.bucket!.removeJob(jobId));
  }

  #requireBucket(): S3Bucket {
    if (this.bucket === undefined) {
      // Another process recorded the files in a bucket: every process of a pool needs the same MEDIA_STORE and S3_*.
      throw new Error('This video is kept in an S3 bucket, but this process has no bucket configured: set MEDIA_STORE=bucket and the S3_* settings as on the workers');
    }
    return this.bucket;
  }

  /** A bucket that cannot be reached is an outage (503, retried), as a database that cannot be reached is. */
  async #bucketCall<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof BucketError)) throw error;
      throw videoBotError(ErrorCode.Unavailable, { retryAfterSeconds: RETRY_AFTER_SECONDS, store: 'video storage' }, { cause: error });
    }
  }
}

/** The job's video and poster, read from this host's outputs folder. */
async function readJobFiles(output: JobOutput): Promise<JobFileData[]> {
  const files: JobFileData[] = [{ kind: 'video', fileName: basename(output.mediaPath), contentType: output.mediaType, bytes: await readFile(output.mediaPath), objectKey: null }];
  if (output.posterPath !== null) {
    files.push({ kind: 'poster', fileName: basename(output.posterPath), contentType: 'image/png', bytes: await readFile(output.posterPath), objectKey: null });
  }
  return files;
}
