// An S3-compatible server on loopback (s3rver, which keeps objects in a folder and speaks the S3 REST API with the
// access key S3RVER), for MEDIA_STORE=bucket. It can be stopped and started again on the same port and folder, as a
// bucket service that goes away for a while and comes back with its objects.
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import S3rver from 's3rver';

export const FAKE_S3_BUCKET = 't2v-videos';

export interface FakeS3 {
  endpoint: string;
  /** MEDIA_STORE=bucket and the S3_* settings that reach this server. */
  env: Record<string, string>;
  /** Keys of the bucket's objects, sorted. */
  keys(): Promise<string[]>;
  object(key: string): Promise<Buffer>;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startFakeS3(): Promise<FakeS3> {
  const directory = await mkdtemp(join(tmpdir(), 't2v-s3-'));
  let port = 0;
  let server: S3rver | undefined;
  const start = async () => {
    if (server !== undefined) return;
    server = new S3rver({ address: '127.0.0.1', port, directory, silent: true, configureBuckets: [{ name: FAKE_S3_BUCKET }] });
    port = (await server.run()).port;
  };
  // As a service that goes away: open keep-alive connections are cut too (close() alone waits for them).
  const stop = async () => {
    const closing = server?.close();
    server?.httpServer?.closeAllConnections();
    await closing;
    server = undefined;
  };
  await start();
  const endpoint = `http://127.0.0.1:${port}`;
  const bucketDir = join(directory, FAKE_S3_BUCKET);
  return {
    endpoint,
    env: { MEDIA_STORE: 'bucket', S3_ENDPOINT: endpoint, S3_BUCKET: FAKE_S3_BUCKET, S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER' },
    // s3rver keeps an object as <key>._S3rver_object beside its metadata files.
    async keys() {
      const files = await listFiles(bucketDir);
      return files.filter((file) => file.endsWith('._S3rver_object')).map((file) => relative(bucketDir, file).replace(/\._S3rver_object$/, '')).sort();
    },
    object: (key) => readFile(join(bucketDir, `${key}._S3rver_object`)),
    stop,
    start,
    async destroy() {
      await stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

async function listFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir).catch(() => [])) {
    const path = join(dir, entry);
    if ((await stat(path)).isDirectory()) found.push(...(await listFiles(path)));
    else found.push(path);
  }
  return found;
}
