// fetch with the hub's needs: retries with backoff for network failures and 5xx/429, and redirects
// followed by hand so the Authorization header never leaves the hub's origin (LFS files redirect to a
// signed CDN URL that must not receive the user's token).
import { setTimeout as sleep } from 'node:timers/promises';
import { HubError, isRetryableStatus, type HubRequestContext } from './hub_errors.js';

export interface RetryOptions {
  /** Retries after the first attempt. Default 5. */
  retries?: number;
  /** First backoff delay; doubles per retry (capped at 30 s), or the server's Retry-After. Default 500 ms. */
  retryBaseDelayMs?: number;
  signal?: AbortSignal;
}

export const DEFAULT_RETRIES = 5;
const DEFAULT_RETRY_BASE_DELAY_MS = 500;
const MAX_RETRY_DELAY_MS = 30_000;
const MAX_REDIRECTS = 10;
const USER_AGENT = 't2v-bot (hub client; Node.js)';

/** Backoff before retry number `attempt` (0-based). */
export function retryDelayMs(attempt: number, options: RetryOptions, retryAfterHeader?: string | null): number {
  const retryAfterSeconds = retryAfterHeader ? Number(retryAfterHeader) : NaN;
  if (Number.isFinite(retryAfterSeconds) && retryAfterSeconds >= 0) return Math.min(retryAfterSeconds * 1000, MAX_RETRY_DELAY_MS);
  return Math.min((options.retryBaseDelayMs ?? DEFAULT_RETRY_BASE_DELAY_MS) * 2 ** attempt, MAX_RETRY_DELAY_MS);
}

/**
 * GET `url` and return the first response that is not a retryable failure, or the last one when the
 * retries are used up. Network errors become HubError('network') once the retries are used up.
 */
export async function fetchWithRetry(
  url: string,
  init: { headers: Record<string, string> },
  context: HubRequestContext,
  options: RetryOptions,
): Promise<Response> {
  const retries = options.retries ?? DEFAULT_RETRIES;
  for (let attempt = 0; ; attempt++) {
    let response: Response;
    try {
      response = await fetchFollowingRedirects(url, init.headers, options.signal);
    } catch (error) {
      options.signal?.throwIfAborted();
      if (attempt >= retries) {
        throw new HubError(
          'network',
          `cannot download ${context.what} of ${context.repoId} from ${context.endpoint} after ${attempt + 1} attempts: ${describeNetworkError(error)}. ` +
            'Check the network, or set HF_ENDPOINT to a reachable mirror.',
          undefined,
          { cause: error },
        );
      }
      await sleep(retryDelayMs(attempt, options), undefined, { signal: options.signal });
      continue;
    }
    if (!isRetryableStatus(response.status) || attempt >= retries) return response;
    await response.body?.cancel();
    await sleep(retryDelayMs(attempt, options, response.headers.get('retry-after')), undefined, { signal: options.signal });
  }
}

/** fetch with manual redirects; drops Authorization when a redirect changes origin. */
export async function fetchFollowingRedirects(url: string, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
  let current = new URL(url);
  const origin = current.origin;
  for (let redirects = 0; ; redirects++) {
    const sameOrigin = current.origin === origin;
    const requestHeaders: Record<string, string> = { 'user-agent': USER_AGENT, ...headers };
    if (!sameOrigin) delete requestHeaders.authorization;
    const response = await fetch(current, { headers: requestHeaders, redirect: 'manual', signal });
    const location = response.headers.get('location');
    if (response.status < 300 || response.status > 399 || location === null) return response;
    await response.body?.cancel();
    if (redirects >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects starting at ${url}`);
    current = new URL(location, current);
  }
}

export function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  const causeText = cause instanceof Error ? `: ${(cause as NodeJS.ErrnoException).code ?? cause.message}` : '';
  return `${error.message}${causeText}`;
}
