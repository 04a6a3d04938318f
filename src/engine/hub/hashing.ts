// Content hashes the hub announces: sha256 for LFS files (the LFS object id) and the git blob sha1
// ("blob <size>\0" + content) for regular files.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Both hashes fed from one stream of bytes. */
export class ContentHasher {
  private sha256: Hash = createHash('sha256');
  private gitSha1: Hash;

  constructor(private readonly size: number) {
    this.gitSha1 = ContentHasher.gitHeader(size);
  }

  update(chunk: Uint8Array): void {
    this.sha256.update(chunk);
    this.gitSha1.update(chunk);
  }

  reset(): void {
    this.sha256 = createHash('sha256');
    this.gitSha1 = ContentHasher.gitHeader(this.size);
  }

  digest(): { sha256: string; gitBlobSha1: string } {
    return { sha256: this.sha256.digest('hex'), gitBlobSha1: this.gitSha1.digest('hex') };
  }

  private static gitHeader(size: number): Hash {
    return createHash('sha1').update(`blob ${size}\0`);
  }
}

/** Feeds the first `length` bytes of the file at `path` into `hasher`. */
export async function hashFilePrefix(path: string, length: number, hasher: ContentHasher, signal?: AbortSignal): Promise<void> {
  if (length === 0) return;
  for await (const chunk of createReadStream(path, { start: 0, end: length - 1, signal })) hasher.update(chunk as Buffer);
}
