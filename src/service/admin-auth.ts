// The admin token guards the HTTP API and the dashboard. ADMIN_TOKEN from the environment wins; without it the
// first start generates one, prints it once and keeps only its SHA-256 in the database. Plain SHA-256 suffices:
// the generated token is 256 random bits, so there is nothing to brute-force. Comparison is constant-time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SettingsStore } from '../db/settings.js';

const HASH_KEY = 'adminTokenHash';

export interface AdminAuth {
  /** True when `token` is the admin token (constant-time in the token's content). */
  verify(token: string | undefined): boolean;
  /** 'environment' or 'database': where the accepted token is defined. */
  readonly source: 'environment' | 'database';
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function verifierFor(expectedHash: Buffer): (token: string | undefined) => boolean {
  return (token) => token !== undefined && token.length > 0 && timingSafeEqual(hashToken(token), expectedHash);
}

export interface AdminTokenSetup {
  auth: AdminAuth;
  /** The token, only when it was generated now (to be shown once). */
  generated?: string;
}

/**
 * Resolves the admin token: from the environment, from the stored hash, or newly generated and stored.
 * `rotate` replaces a stored token (for a lost one); it has no effect when ADMIN_TOKEN is set.
 */
export async function setupAdminAuth(
  settings: SettingsStore,
  envToken: string | undefined,
  options: { rotate?: boolean } = {},
): Promise<AdminTokenSetup> {
  if (envToken !== undefined) return { auth: { verify: verifierFor(hashToken(envToken)), source: 'environment' } };
  const stored = options.rotate === true ? undefined : await settings.readInternal(HASH_KEY);
  if (stored !== undefined && /^[0-9a-f]{64}$/.test(stored)) {
    return { auth: { verify: verifierFor(Buffer.from(stored, 'hex')), source: 'database' } };
  }
  const generated = randomBytes(32).toString('base64url');
  await settings.writeInternal(HASH_KEY, hashToken(generated).toString('hex'));
  return { auth: { verify: verifierFor(hashToken(generated)), source: 'database' }, generated };
}
