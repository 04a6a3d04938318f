// Errors of the Hugging Face hub client, one class with a machine-readable code, and the mapping from
// hub HTTP responses to them (the semantics of huggingface_hub's hf_raise_for_status: the X-Error-Code
// header names the case; 401 means "not found or private" because the hub does not reveal which).

export type HubErrorCode =
  /** 401: the repository does not exist, is private, or the token is invalid. */
  | 'unauthorized'
  /** 403 / GatedRepo: the repository is gated and this token has not been granted access. */
  | 'gated'
  /** Unknown repository, revision or file (404). */
  | 'not_found'
  /** The hub could not be reached or kept failing (network errors, 5xx, 429) after the retries. */
  | 'network'
  /** A downloaded file does not have the size or hash the hub announced. */
  | 'integrity'
  /** The repository is not a diffusers pipeline this engine can load (no model_index.json, no safetensors). */
  | 'unsupported_repo'
  /** Any other HTTP error or malformed hub answer. */
  | 'http'
  /** Another pull into the same folder is running. */
  | 'locked'
  /** The destination exists and is not a folder this tool pulled. */
  | 'destination_exists'
  /** The disk does not have room for the download. */
  | 'no_space';

export class HubError extends Error {
  constructor(
    readonly code: HubErrorCode,
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'HubError';
  }
}

/** Whether retrying the same request may succeed. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export interface HubRequestContext {
  repoId: string;
  revision: string;
  /** What was being fetched, for the message: "the file list", "unet/config.json". */
  what: string;
  endpoint: string;
  hasToken: boolean;
}

/** Turns a failed hub response into a HubError whose message says what to do. */
export async function hubErrorFromResponse(response: Response, context: HubRequestContext): Promise<HubError> {
  const errorCode = response.headers.get('x-error-code');
  const serverMessage = await readServerMessage(response);
  const requestId = response.headers.get('x-request-id');
  const suffix = [serverMessage && `hub said: ${serverMessage}`, requestId && `request id ${requestId}`].filter(Boolean).join('; ');
  const detail = suffix ? ` (${suffix})` : '';
  const { repoId, revision, what, endpoint, hasToken } = context;
  const repoUrl = `${endpoint}/${repoId}`;
  const status = response.status;

  if (errorCode === 'GatedRepo' || status === 403) {
    return new HubError(
      'gated',
      `access to ${repoId} is restricted (HTTP ${status})${detail}. Accept its terms at ${repoUrl} with your account, ` +
        `then set HF_TOKEN to an access token of that account${hasToken ? ' (the current HF_TOKEN has no access)' : ''}.`,
      status,
    );
  }
  if (errorCode === 'RevisionNotFound') {
    return new HubError('not_found', `revision "${revision}" does not exist in ${repoId}${detail}. Use a branch, tag or commit of ${repoUrl}.`, status);
  }
  if (errorCode === 'EntryNotFound') {
    return new HubError('not_found', `${what} is not in ${repoId} at revision "${revision}"${detail}.`, status);
  }
  if (errorCode === 'RepoNotFound' || status === 401) {
    return new HubError(
      // huggingface.co answers 401 for unknown and private repositories alike; some mirrors answer 404.
      status === 404 ? 'not_found' : 'unauthorized',
      `repository ${repoId} was not found at ${endpoint}, or it is private (HTTP ${status})${detail}. Check the repo id; ` +
        (hasToken ? 'check that HF_TOKEN is valid and can read this repository.' : 'for a private repository set HF_TOKEN to an access token.'),
      status,
    );
  }
  if (status === 404) {
    return new HubError('not_found', `${what} of ${repoId}@${revision} was not found at ${endpoint} (HTTP 404)${detail}.`, status);
  }
  return new HubError(
    isRetryableStatus(status) ? 'network' : 'http',
    `the hub answered HTTP ${status} for ${what} of ${repoId}@${revision}${detail}.`,
    status,
  );
}

async function readServerMessage(response: Response): Promise<string | null> {
  try {
    const text = (await response.text()).trim();
    if (!text) return null;
    try {
      const json = JSON.parse(text) as { error?: unknown };
      if (typeof json.error === 'string') return json.error;
    } catch {
      // plain-text error page
    }
    return text.slice(0, 200);
  } catch {
    return null;
  }
}
