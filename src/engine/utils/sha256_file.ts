// SHA-256 of a whole file, streamed: the hub checks downloads and model folders with it, the graph cache its entries.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export interface Sha256FileOptions {
  /** Called with each chunk's length, for progress. */
  onBytes?: (bytes: number) => void;
  signal?: AbortSignal;
  /** Bytes per read; default the stream's 64 KiB. */
  chunkSize?: number;
}

/** The file's SHA-256, hex. */
export async function sha256File(path: string, options: Sha256FileOptions = {}): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { signal: options.signal, highWaterMark: options.chunkSize })) {
    hash.update(chunk as Buffer);
    options.onBytes?.((chunk as Buffer).length);
  }
  return hash.digest('hex');
}
