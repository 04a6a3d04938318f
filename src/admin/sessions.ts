// Dashboard sessions, kept server-side in memory. Why memory rather than the database: the dashboard is served by
// this one process; a session store in the database would need a table (and a migration per provider) for state
// that is worthless after a restart anyway, since signing in again only takes the admin token. A restart therefore
// signs every admin out, which is also the simplest way to revoke all sessions. The cookie carries only a random
// 256-bit id; the map is keyed by its SHA-256, so the ids themselves are not kept around in the process.
import { createHash, randomBytes } from 'node:crypto';

export interface Flash {
  kind: 'ok' | 'error';
  text: string;
}

export interface AdminSession {
  /** SHA-256 of the cookie value (hex); also what CSRF tokens are bound to. */
  readonly key: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  /** A one-time message for the next page (after a form's redirect). */
  flash?: Flash;
}

export interface SessionStoreOptions {
  ttlMs: number;
  /** Oldest sessions are dropped beyond this many (each login makes one; this bounds memory). Default 1000. */
  maxSessions?: number;
  now?: () => number;
}

function keyOf(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex');
}

export class SessionStore {
  readonly #sessions = new Map<string, AdminSession>();
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: SessionStoreOptions) {
    this.#ttlMs = options.ttlMs;
    this.#max = options.maxSessions ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Starts a session; returns the id for the cookie (shown nowhere else). */
  create(): { id: string; session: AdminSession } {
    this.#sweep();
    while (this.#sessions.size >= this.#max) {
      // Map iteration is insertion order: the first key is the oldest session.
      const oldest = this.#sessions.keys().next().value;
      if (oldest === undefined) break;
      this.#sessions.delete(oldest);
    }
    const id = randomBytes(32).toString('base64url');
    const now = this.#now();
    const session: AdminSession = { key: keyOf(id), createdAt: now, expiresAt: now + this.#ttlMs };
    this.#sessions.set(session.key, session);
    return { id, session };
  }

  /** The live session for a cookie value, or undefined (unknown, expired or malformed). */
  get(id: string | undefined): AdminSession | undefined {
    if (id === undefined || !/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const key = keyOf(id);
    const session = this.#sessions.get(key);
    if (session === undefined) return undefined;
    if (session.expiresAt <= this.#now()) {
      this.#sessions.delete(key);
      return undefined;
    }
    return session;
  }

  destroy(session: AdminSession): void {
    this.#sessions.delete(session.key);
  }

  get size(): number {
    return this.#sessions.size;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [key, session] of this.#sessions) if (session.expiresAt <= now) this.#sessions.delete(key);
  }
}
