// The two hub endpoints a pull needs (the same ones huggingface_hub and @huggingface/hub use):
//   GET {endpoint}/api/models/{repo_id}/revision/{revision}?blobs=true
//       -> { sha: <commit>, siblings: [{ rfilename, size, blobId, lfs?: { sha256, size, pointerSize } }] }
//   GET {endpoint}/{repo_id}/resolve/{commit}/{path}
//       -> the file; LFS files answer 302 with a signed CDN URL on another host (headers X-Repo-Commit,
//          X-Linked-Size, X-Linked-Etag = the sha256), regular files answer 200 (ETag = git blob sha1).
// Files are fetched by commit, not branch, so a branch that moves mid-pull cannot mix two versions.
// @see https://huggingface.co/docs/hub/api#get-apimodelsrepoidrevisionrevision
import { hubErrorFromResponse, HubError, type HubRequestContext } from './hub_errors.js';
import { fetchWithRetry, type RetryOptions } from './http.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface HubClientOptions extends RetryOptions {
  endpoint: string;
  token?: string;
  signal?: AbortSignal;
}

/** One file of a repository revision. */
export interface RepoFile {
  path: string;
  size: number;
  /** sha256 of the content, for LFS files (every weight file). */
  sha256: string | null;
  /** Git blob sha1, for regular (non-LFS) files. */
  gitBlobSha1: string | null;
}

export interface RepoRevision {
  repoId: string;
  /** The commit the revision resolved to. */
  commit: string;
  files: RepoFile[];
}

const REPO_ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;

export function assertRepoId(repoId: string): void {
  if (!REPO_ID.test(repoId) || repoId.includes('..')) {
    throw new HubError('http', `invalid repo id "${repoId}": expected "owner/name" such as ali-vilab/text-to-video-ms-1.7b`);
  }
}

export function authHeaders(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Lists the files of `repoId` at `revision` and the commit it points to. */
export async function fetchRepoRevision(repoId: string, revision: string, options: HubClientOptions): Promise<RepoRevision> {
  assertRepoId(repoId);
  const url = `${options.endpoint}/api/models/${repoId}/revision/${encodeURIComponent(revision)}?blobs=true`;
  const context: HubRequestContext = { repoId, revision, what: 'the file list', endpoint: options.endpoint, hasToken: Boolean(options.token) };
  const response = await fetchWithRetry(url, { headers: { ...authHeaders(options.token), accept: 'application/json' } }, context, options);
  if (!response.ok) throw await hubErrorFromResponse(response, context);
  let info: unknown;
  try {
    info = await response.json();
  } catch (error) {
    throw new HubError('http', `the hub's file list for ${repoId}@${revision} is not JSON; is HF_ENDPOINT (${options.endpoint}) a Hugging Face hub?`, response.status, {
      cause: error,
    });
  }
  return parseRevisionInfo(repoId, revision, info);
}

function parseRevisionInfo(repoId: string, revision: string, info: unknown): RepoRevision {
  const record = info as { sha?: unknown; siblings?: unknown };
  if (typeof record?.sha !== 'string' || !Array.isArray(record.siblings)) {
    throw new HubError('http', `the hub's answer for ${repoId}@${revision} has no commit sha or file list`);
  }
  const files = record.siblings.map((sibling: unknown): RepoFile => {
    const s = sibling as { rfilename?: unknown; size?: unknown; blobId?: unknown; lfs?: { sha256?: unknown; size?: unknown } | null };
    if (typeof s.rfilename !== 'string') throw new HubError('http', `the hub's file list for ${repoId} has an entry without rfilename`);
    const lfsSize = typeof s.lfs?.size === 'number' ? s.lfs.size : undefined;
    const size = lfsSize ?? (typeof s.size === 'number' ? s.size : undefined);
    if (size === undefined) throw new HubError('http', `the hub's file list for ${repoId} gives no size for ${s.rfilename} (was ?blobs=true ignored?)`);
    return {
      path: s.rfilename,
      size,
      sha256: typeof s.lfs?.sha256 === 'string' ? s.lfs.sha256 : null,
      gitBlobSha1: s.lfs ? null : typeof s.blobId === 'string' ? s.blobId : null,
    };
  });
  return { repoId, commit: record.sha, files };
}

/** URL of a file at a commit (`hf_hub_url`). */
export function resolveUrl(endpoint: string, repoId: string, commit: string, path: string): string {
  return `${endpoint}/${repoId}/resolve/${encodeURIComponent(commit)}/${path.split('/').map(encodeURIComponent).join('/')}`;
}
