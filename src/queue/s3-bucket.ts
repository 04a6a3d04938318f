// The S3-compatible bucket that keeps finished videos under MEDIA_STORE=bucket (AWS S3, MinIO, Cloudflare R2,
// Backblaze B2, ...). The MinIO client signs with SigV4 for any of them; it is used rather than @aws-sdk/client-s3
// because it is a fifth of the packages and does not warn on every start under Node 20.
import { Client, S3Error } from 'minio';
import type { BucketConfig } from '../config.js';

export class BucketError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BucketError';
  }
}

export class S3Bucket {
  readonly #client: Client;

  constructor(readonly config: BucketConfig) {
    const url = new URL(config.endpoint);
    this.#client = new Client({
      endPoint: url.hostname,
      ...(url.port === '' ? {} : { port: Number(url.port) }),
      useSSL: url.protocol === 'https:',
      region: config.region,
      accessKey: config.accessKeyId,
      secretKey: config.secretAccessKey,
      // Its retries print to the console; the worker's own retries (logged) cover an unreachable bucket.
      retryOptions: { disableRetry: true },
    });
  }

  /** Where the bucket is, for messages (never the credentials). */
  get where(): string {
    return `S3 bucket ${this.config.name} at ${this.config.endpoint}`;
  }

  /** The key of a job's file: `<prefix><jobId>/<renderId>/<fileName>` (one folder per render of the job). */
  key(jobId: string, renderId: string, fileName: string): string {
    return `${this.#jobFolder(jobId)}${renderId}/${fileName}`;
  }

  /** Fails with what to fix when the bucket cannot be reached, does not exist or refuses the credentials. */
  async check(): Promise<void> {
    const exists = await this.#call('reach', () => this.#client.bucketExists(this.config.name));
    if (!exists) throw new BucketError(`The ${this.where} does not exist: create it, or set S3_BUCKET and S3_ENDPOINT to an existing one`);
  }

  async put(key: string, bytes: Buffer, contentType: string): Promise<void> {
    await this.#call('upload to', () => this.#client.putObject(this.config.name, key, bytes, bytes.length, { 'Content-Type': contentType }));
  }

  async get(key: string): Promise<Buffer> {
    return this.#call('download from', async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of await this.#client.getObject(this.config.name, key)) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    });
  }

  /** Deletes every object of a job, whichever render put it there. */
  async removeJob(jobId: string): Promise<void> {
    const keys = await this.#call('list', async () => {
      const found: string[] = [];
      for await (const item of this.#client.listObjectsV2(this.config.name, this.#jobFolder(jobId), true)) {
        if (typeof item.name === 'string') found.push(item.name);
      }
      return found;
    });
    // One request per object (a render leaves two): not every S3-compatible service implements multi-object delete.
    for (const key of keys) await this.#call('delete from', () => this.#client.removeObject(this.config.name, key));
  }

  #jobFolder(jobId: string): string {
    return `${this.config.prefix}${jobId}/`;
  }

  async #call<T>(action: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw new BucketError(`Could not ${action} the ${this.where}: ${describe(error)}`, { cause: error });
    }
  }
}

function describe(error: unknown): string {
  if (error instanceof S3Error) {
    if (error.code === 'AccessDenied' || error.code === 'InvalidAccessKeyId' || error.code === 'SignatureDoesNotMatch') {
      return `${error.code} (check S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY and S3_REGION)`;
    }
    return error.code ?? error.message;
  }
  return error instanceof Error ? error.message : String(error);
}
