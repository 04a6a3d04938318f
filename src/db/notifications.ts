// Messages between the processes that share one Postgres database, over Postgres' own LISTEN/NOTIFY: a worker's
// progress reaches the front that serves the chat thread and the dashboard, a cancel from any front reaches the
// worker that renders the job, and a queued job wakes the workers. Sending is `pg_notify` through Prisma (inside a
// transaction, the message goes out when it commits); listening needs a connection of its own that stays open,
// so it uses `pg` directly (Prisma has no LISTEN). Postgres does not keep messages for a listener that is not
// connected: after a reconnect, `onConnected(true)` tells the owner to catch up from the tables, which stay the
// source of truth.
// @see https://www.postgresql.org/docs/current/sql-notify.html
import pg from 'pg';
import type { Logger } from '../log.js';
import type { PrismaClient } from './database.js';

/**
 * The channel every t2v process of one deployment listens on. Channels are per database; deployments that share a
 * database in separate schemas (`?schema=`) get one each.
 */
export function notificationChannel(schema: string | undefined): string {
  return schema === undefined || schema === 'public' ? 't2v_events' : `t2v_events_${schema}`;
}
/** Postgres refuses payloads of 8000 bytes or more. */
const MAX_PAYLOAD_BYTES = 7_900;
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5_000;

/** Sends `message` (JSON) to every process listening on the channel, this one included. */
export async function notify(prisma: Pick<PrismaClient, '$executeRaw'>, channel: string, message: unknown): Promise<void> {
  const payload = JSON.stringify(message);
  if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) throw new Error(`notification over ${MAX_PAYLOAD_BYTES} bytes: ${payload.slice(0, 200)}…`);
  await prisma.$executeRaw`SELECT pg_notify(${channel}, ${payload})`;
}

export interface ListenerOptions {
  connectionString: string;
  channel: string;
  /** Called with each message's parsed JSON; a message that is not JSON is logged and dropped. */
  onMessage: (message: unknown) => void;
  /** Called after each (re)connection; `reconnected` is false the first time. */
  onConnected?: (reconnected: boolean) => void;
  logger: Logger;
}

/** A LISTEN connection that reconnects by itself (with backoff) after the server restarts or the network drops. */
export class NotificationListener {
  readonly #options: ListenerOptions;
  #client: pg.Client | undefined;
  #closed = false;
  #connectedOnce = false;
  #retryMs = RECONNECT_MIN_MS;
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(options: ListenerOptions) {
    this.#options = options;
  }

  /** Connects and listens; rejects only when the first connection fails (later ones are retried). */
  async start(): Promise<void> {
    await this.#connect();
  }

  get connected(): boolean {
    return this.#client !== undefined;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#options.connectionString });
    client.on('notification', (message) => {
      if (message.channel !== this.#options.channel || message.payload === undefined) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(message.payload);
      } catch {
        this.#options.logger.warn({ payload: message.payload.slice(0, 200) }, 'dropped a notification that is not JSON');
        return;
      }
      this.#options.onMessage(parsed);
    });
    // 'error' without a listener would crash the process; a lost connection is retried instead.
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client, undefined));
    await client.connect();
    await client.query(`LISTEN ${client.escapeIdentifier(this.#options.channel)}`);
    if (this.#closed) {
      await client.end();
      return;
    }
    this.#client = client;
    this.#retryMs = RECONNECT_MIN_MS;
    const reconnected = this.#connectedOnce;
    this.#connectedOnce = true;
    if (reconnected) this.#options.logger.info('listening for notifications again');
    this.#options.onConnected?.(reconnected);
  }

  #lost(client: pg.Client, error: Error | undefined): void {
    if (this.#client !== client || this.#closed) return;
    this.#client = undefined;
    client.end().catch(() => undefined);
    this.#options.logger.warn({ err: error }, 'lost the notification connection to Postgres; reconnecting');
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed) return;
    const wait = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, RECONNECT_MAX_MS);
    this.#retryTimer = setTimeout(() => {
      this.#connect().catch((error: unknown) => {
        this.#options.logger.debug({ err: error }, 'notification connection still down');
        this.#scheduleReconnect();
      });
    }, wait);
    this.#retryTimer.unref();
  }
}
