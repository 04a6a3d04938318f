// Signed, expiring links to a job's files that need no token: what chat users get when a video cannot be uploaded
// (over Discord's upload limit, Slack refusing the upload). The link names the job, the file and an expiry time, and
// carries an HMAC-SHA256 of the three under a server key, so it cannot be altered or made up. The key is 256 random
// bits generated at the first start and kept in the database (settings table, internal key), never in a log or a
// page; every process sharing the database signs and verifies with the same key.
// @see https://www.rfc-editor.org/rfc/rfc2104 (HMAC)
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SettingsStore } from '../db/settings.js';

export const MEDIA_KINDS = ['video', 'poster'] as const;
export type MediaKind = (typeof MEDIA_KINDS)[number];

/** Where the service serves signed links: `/media/<jobId>/<kind>?exp=<unix seconds>&sig=<base64url HMAC>`. */
export const MEDIA_PATH = '/media';

const KEY_SETTING = 'mediaLinkKey';
const KEY_BYTES = 32;

export interface MediaLinkParts {
  jobId: string;
  kind: MediaKind;
  /** Unix seconds after which the link no longer works. */
  expiresAt: number;
}

export type MediaLinkCheck = { ok: true } | { ok: false; reason: 'signature' | 'expired' };

export class MediaLinks {
  readonly #key: Buffer;
  readonly #publicUrl: string;

  /** `publicUrl` is PUBLIC_URL without a trailing slash. */
  constructor(key: Buffer, publicUrl: string) {
    if (key.length < KEY_BYTES) throw new Error(`the media link key must have at least ${KEY_BYTES} bytes`);
    this.#key = key;
    this.#publicUrl = publicUrl;
  }

  url(parts: MediaLinkParts): string {
    const query = new URLSearchParams({ exp: String(parts.expiresAt), sig: this.#sign(parts).toString('base64url') });
    return `${this.#publicUrl}${MEDIA_PATH}/${encodeURIComponent(parts.jobId)}/${parts.kind}?${query}`;
  }

  /**
   * Checks the signature first (in constant time), then the expiry, so a forged link learns nothing about jobs.
   * `exp` and `sig` are the query values as received; anything malformed is a bad signature.
   */
  check(jobId: string, kind: MediaKind, exp: string | undefined, sig: string | undefined, now: Date): MediaLinkCheck {
    if (exp === undefined || sig === undefined || !/^\d{1,12}$/.test(exp) || !/^[A-Za-z0-9_-]{1,100}$/.test(sig)) {
      return { ok: false, reason: 'signature' };
    }
    const expected = this.#sign({ jobId, kind, expiresAt: Number(exp) });
    const given = Buffer.from(sig, 'base64url');
    // The length is no secret (always 32 bytes); timingSafeEqual needs equal lengths.
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'signature' };
    if (Number(exp) * 1000 <= now.getTime()) return { ok: false, reason: 'expired' };
    return { ok: true };
  }

  #sign(parts: MediaLinkParts): Buffer {
    // A JSON array keeps the three fields apart whatever characters a job id holds.
    return createHmac('sha256', this.#key).update(JSON.stringify(['t2v-media-v1', parts.jobId, parts.kind, parts.expiresAt])).digest();
  }
}

/**
 * The link key from the database, or a new one stored there. Two processes starting together on one database may
 * both generate a key: the insert keeps the first and both then read it back, so they sign alike.
 */
export async function setupMediaLinks(settings: SettingsStore, publicUrl: string): Promise<MediaLinks> {
  let stored = await settings.readInternal(KEY_SETTING);
  if (stored === undefined) {
    await settings.createInternal(KEY_SETTING, randomBytes(KEY_BYTES).toString('base64url'));
    stored = await settings.readInternal(KEY_SETTING);
  }
  const key = Buffer.from(stored ?? '', 'base64url');
  if (key.length < KEY_BYTES) throw new Error(`the stored media link key (setting internal.${KEY_SETTING}) is damaged: delete that row and restart to make a new one`);
  return new MediaLinks(key, publicUrl);
}
