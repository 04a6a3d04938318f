// A Hugging Face hub on 127.0.0.1 for the model-pull tests: the revision API with ?blobs=true, /resolve/
// downloads with Range support, LFS files redirected (302) to a second server standing in for the CDN
// (another origin, so a client that leaks the token there is caught), the hub's error conventions
// (401 + X-Error-Code RepoNotFound for unknown or private repos, GatedRepo, RevisionNotFound,
// EntryNotFound), and injectable faults: connections cut mid-file, corrupted bytes, 5xx answers.
// Every request is recorded with its headers.
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer, listenOnLoopback } from './loopback-http.js';

export interface FakeRepoFile {
  path: string;
  content: Buffer;
  /** Stored in LFS: listed with lfs.sha256, downloaded through a redirect to the CDN. */
  lfs?: boolean;
}

export interface FakeRepo {
  repoId: string;
  commit: string;
  /** Branch and tag names -> commit. Default { main: commit }. */
  refs?: Record<string, string>;
  files: FakeRepoFile[];
  /** Readable only with one of `tokens`; others get 401 RepoNotFound, as the hub hides private repos. */
  private?: boolean;
  /** Needs a token in `tokens`: 401 GatedRepo without a token, 403 GatedRepo with another one. */
  gated?: boolean;
  tokens?: string[];
}

export interface RecordedHubRequest {
  server: 'hub' | 'cdn';
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

interface Fault {
  kind: 'cut' | 'stall' | 'corrupt' | 'status';
  /** cut/stall: bytes sent before the connection is destroyed / goes silent; status: the HTTP status. */
  value: number;
  remaining: number;
}

export class FakeHub {
  readonly requests: RecordedHubRequest[] = [];
  private readonly faults = new Map<string, Fault[]>();

  private constructor(
    private readonly repos: FakeRepo[],
    private readonly hub: Server,
    private readonly cdn: Server,
  ) {}

  static async start(repos: FakeRepo[]): Promise<FakeHub> {
    const hub = createServer();
    const cdn = createServer();
    const fake = new FakeHub(repos, hub, cdn);
    hub.on('request', (req, res) => fake.handleHub(req, res));
    cdn.on('request', (req, res) => fake.handleCdn(req, res));
    await Promise.all([listenOnLoopback(hub), listenOnLoopback(cdn)]);
    return fake;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
  }

  get cdnOrigin(): string {
    return `http://127.0.0.1:${(this.cdn.address() as AddressInfo).port}`;
  }

  /** The next `times` downloads of `path` send `bytes` bytes, then the connection is destroyed. */
  cutAfter(path: string, bytes: number, times = 1): void {
    this.addFault(path, { kind: 'cut', value: bytes, remaining: times });
  }

  /** The next `times` downloads of `path` send `bytes` bytes, then nothing more (the connection stays open). */
  stallAfter(path: string, bytes: number, times = 1): void {
    this.addFault(path, { kind: 'stall', value: bytes, remaining: times });
  }

  /** The next `times` downloads of `path` have one byte flipped. */
  corrupt(path: string, times = 1): void {
    this.addFault(path, { kind: 'corrupt', value: 0, remaining: times });
  }

  /** The next `times` downloads of `path` answer `status` (for example 503). */
  failWith(path: string, status: number, times = 1): void {
    this.addFault(path, { kind: 'status', value: status, remaining: times });
  }

  /** Content requests (hub or CDN) for a repository file. */
  downloadsOf(path: string): RecordedHubRequest[] {
    const file = this.findFile(path);
    return this.requests.filter(
      (r) => (r.server === 'hub' && r.url.includes('/resolve/') && r.url.endsWith(`/${path}`)) || (r.server === 'cdn' && file !== undefined && r.url.includes(sha256(file.content))),
    );
  }

  async close(): Promise<void> {
    await Promise.all([closeServer(this.hub), closeServer(this.cdn)]);
  }

  private addFault(path: string, fault: Fault): void {
    this.faults.set(path, [...(this.faults.get(path) ?? []), fault]);
  }

  private takeFault(path: string): Fault | undefined {
    const fault = this.faults.get(path)?.find((f) => f.remaining > 0);
    if (fault) fault.remaining -= 1;
    return fault;
  }

  private findFile(path: string): FakeRepoFile | undefined {
    for (const repo of this.repos) {
      const file = repo.files.find((f) => f.path === path);
      if (file) return file;
    }
    return undefined;
  }

  private handleHub(req: IncomingMessage, res: ServerResponse): void {
    this.requests.push({ server: 'hub', method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const url = new URL(req.url ?? '/', this.endpoint);
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const match = api ?? resolve;
    if (match === null) return sendError(res, 404, null, 'Not Found');
    const repo = this.repos.find((r) => r.repoId === match[1]);
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (repo === undefined || (repo.private && !repo.tokens?.includes(token ?? ''))) {
      return sendError(res, 401, 'RepoNotFound', 'Repository Not Found');
    }
    if (repo.gated && !repo.tokens?.includes(token ?? '')) {
      return sendError(res, token ? 403 : 401, 'GatedRepo', `Access to model ${repo.repoId} is restricted.`);
    }
    const revision = decodeURIComponent(match[2] as string);
    const commit = revision === repo.commit ? repo.commit : (repo.refs ?? { main: repo.commit })[revision];
    if (commit !== repo.commit) return sendError(res, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);

    if (api) {
      const siblings = repo.files.map((f) => ({
        rfilename: f.path,
        size: f.content.length,
        blobId: gitBlobSha1(f.lfs ? Buffer.alloc(134) : f.content),
        ...(f.lfs ? { lfs: { sha256: sha256(f.content), size: f.content.length, pointerSize: 134 } } : {}),
      }));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: repo.repoId, modelId: repo.repoId, sha: repo.commit, private: Boolean(repo.private), gated: repo.gated ? 'manual' : false, siblings }));
      return;
    }
    const path = (match[3] as string).split('/').map(decodeURIComponent).join('/');
    const file = repo.files.find((f) => f.path === path);
    if (file === undefined) return sendError(res, 404, 'EntryNotFound', `${path} does not exist on "${revision}"`);
    if (file.lfs) {
      res.writeHead(302, {
        location: `${this.cdnOrigin}/lfs/${sha256(file.content)}?signature=fake`,
        'x-repo-commit': repo.commit,
        'x-linked-size': String(file.content.length),
        'x-linked-etag': `"${sha256(file.content)}"`,
      });
      res.end();
      return;
    }
    this.sendContent(req, res, file, { 'x-repo-commit': repo.commit, etag: `"${gitBlobSha1(file.content)}"` });
  }

  private handleCdn(req: IncomingMessage, res: ServerResponse): void {
    this.requests.push({ server: 'cdn', method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const oid = /^\/lfs\/([0-9a-f]{64})$/.exec(new URL(req.url ?? '/', this.cdnOrigin).pathname)?.[1];
    const file = this.repos.flatMap((r) => r.files).find((f) => f.lfs && sha256(f.content) === oid);
    if (file === undefined) return sendError(res, 404, null, 'NoSuchKey');
    this.sendContent(req, res, file, { etag: `"${oid}"` });
  }

  /** The file with Range support and the injected faults. */
  private sendContent(req: IncomingMessage, res: ServerResponse, file: FakeRepoFile, headers: Record<string, string>): void {
    const fault = this.takeFault(file.path);
    if (fault?.kind === 'status') return sendError(res, fault.value, null, 'Injected failure');
    let content = file.content;
    if (fault?.kind === 'corrupt') {
      content = Buffer.from(content);
      content[content.length >> 1] = (content[content.length >> 1] as number) ^ 0xff;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    let start = 0;
    if (range) {
      start = Number(range[1]);
      if (start >= content.length) {
        res.writeHead(416, { 'content-range': `bytes */${content.length}` });
        res.end();
        return;
      }
      res.writeHead(206, { ...headers, 'content-length': String(content.length - start), 'content-range': `bytes ${start}-${content.length - 1}/${content.length}`, 'accept-ranges': 'bytes' });
    } else {
      res.writeHead(200, { ...headers, 'content-length': String(content.length), 'accept-ranges': 'bytes' });
    }
    const body = content.subarray(start);
    if (fault?.kind === 'cut') {
      res.write(body.subarray(0, fault.value), () => res.socket?.destroy());
      return;
    }
    if (fault?.kind === 'stall') {
      res.write(body.subarray(0, fault.value));
      return;
    }
    res.end(body);
  }
}

export function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

export function gitBlobSha1(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

function sendError(res: ServerResponse, status: number, errorCode: string | null, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'fake-request', ...(errorCode ? { 'x-error-code': errorCode } : {}) });
  res.end(JSON.stringify({ error: message }));
}
