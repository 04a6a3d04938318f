// Builds the Bolt app that production and the loopback tests share (style.md §10): only the endpoints differ.
// Two transports, chosen by which credential is configured:
// - Socket Mode (SLACK_APP_TOKEN, xapp-): Bolt opens a WebSocket to Slack; no public URL needed. Wins if both are set.
// - HTTP (SLACK_SIGNING_SECRET): Slack POSTs events, slash commands and interactivity to /slack/events; Bolt's
//   HTTPReceiver verifies the v0 HMAC signature and rejects requests whose timestamp is more than 5 minutes old.
// SLACK_API_URL (for example GovSlack's https://slack-gov.com/api/) applies to the app's Web API client and to the
// Socket Mode client's apps.connections.open.
// In the service, HTTP mode is mounted on the main HTTP server (`mounted: true`, see http-route.ts): Bolt's
// HTTPReceiver still does all request handling (signature, staleness, ssl_check, url_verification, acks) through its
// `requestListener`, but Slack reaches it at PUBLIC_URL + /slack/events, through the same port and TLS proxy as the
// API and the dashboard.
// We build the receivers ourselves, rather than passing `socketMode: true` to App, to be able to await the Socket Mode
// disconnect on stop: Bolt's SocketModeReceiver.stop() does not wait for it (chat-fakes.md, shutdown gotcha).
// @see https://docs.slack.dev/tools/bolt-js/concepts/socket-mode
// @see https://api.slack.com/docs/verifying-requests-from-slack
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, HTTPReceiver, LogLevel, SocketModeReceiver, webApi, type Logger as BoltLogger } from '@slack/bolt';
import type { Logger } from '../../log.js';
import { endpointUrl } from '../endpoint-url.js';
import { createRedactor, formatLogArgs } from '../library-log.js';

/** The one request URL path for events, slash commands and interactivity (slack-app-manifest.yaml uses it). */
export const SLACK_EVENTS_PATH = '/slack/events';

export interface SlackAppOptions {
  /** Bot User OAuth Token, `xoxb-…` (SLACK_BOT_TOKEN). */
  botToken: string;
  /** Signing secret for HTTP mode (SLACK_SIGNING_SECRET). */
  signingSecret?: string;
  /** App-level token with `connections:write`, `xapp-…`, for Socket Mode (SLACK_APP_TOKEN). */
  appToken?: string;
  /** Web API base, default `https://slack.com/api/` (SLACK_API_URL). */
  slackApiUrl?: string;
  /** HTTP mode: port to listen on (0 picks a free one), default 3000. */
  port?: number;
  /** HTTP mode: interface to listen on, default all. */
  host?: string;
  /** HTTP mode without a server of its own: start() does not listen; mount `requestListener` on another server. */
  mounted?: boolean;
  /**
   * Web API retries. Default `fiveRetriesInFiveMinutes`: the SDK's own default retries for about 30 minutes, which
   * would hold a job's progress messages that long. Socket Mode reconnects keep the SDK's eager policy unless given.
   */
  retryConfig?: webApi.RetryOptions;
  /** Receives Bolt's and the Slack SDK's output (as child `{ lib: '@slack/bolt' }`), tokens redacted. */
  logger: Logger;
  /**
   * Mounted HTTP mode: how long a request that arrives before start() has finished (the server already listens while
   * auth.test runs) waits for it before it is answered 503; default 2000 ms, within Slack's 3 s.
   */
  startWaitMs?: number;
}

export interface SlackAppHandle {
  /** Register listeners (`app.event('app_mention', …)`, `app.command('/video', …)`, `app.action(…)`) before start(). */
  readonly app: App;
  readonly mode: 'http' | 'socket';
  /** Verifies the bot token (auth.test), then listens (HTTP) or connects (Socket Mode). */
  start(): Promise<void>;
  /** Stops listening, or closes the Socket Mode connection and waits until it is closed. */
  stop(): Promise<void>;
  /** HTTP mode: the port bound by start(); undefined before, when mounted, and in Socket Mode. */
  readonly port: number | undefined;
  /** HTTP mode: Bolt's handler for POST /slack/events, for mounting on another HTTP server; undefined in Socket Mode. */
  readonly requestListener: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
}

export function createSlackApp(options: SlackAppOptions): SlackAppHandle {
  const botToken = checkedToken(
    'SLACK_BOT_TOKEN',
    options.botToken,
    'xoxb-',
    'the Bot User OAuth Token (OAuth & Permissions)',
  );
  const appToken =
    options.appToken === undefined || options.appToken === ''
      ? undefined
      : checkedToken(
          'SLACK_APP_TOKEN',
          options.appToken,
          'xapp-',
          'an App-Level Token with connections:write (Basic Information)',
        );
  const signingSecret = options.signingSecret === '' ? undefined : options.signingSecret;
  if (appToken === undefined && signingSecret === undefined) {
    throw new Error(
      'Slack needs SLACK_APP_TOKEN (Socket Mode, no public URL needed) or SLACK_SIGNING_SECRET (HTTP mode: Slack posts to ' +
        `https://<your host>${SLACK_EVENTS_PATH}).`,
    );
  }
  const slackApiUrl = options.slackApiUrl === undefined ? undefined : checkedApiUrl(options.slackApiUrl);
  const libraryLogger = options.logger.child({ lib: '@slack/bolt' });
  const logger = new BoltLogAdapter(libraryLogger, createRedactor([botToken, appToken, signingSecret]));
  const logLevel = boltLevel(options.logger.level);
  const retryConfig = options.retryConfig ?? webApi.retryPolicies.fiveRetriesInFiveMinutes;
  const apiUrl = slackApiUrl === undefined ? {} : { slackApiUrl };

  let socketReceiver: SocketModeReceiver | undefined;
  let httpReceiver: HTTPReceiver | undefined;
  if (appToken !== undefined) {
    if (signingSecret !== undefined)
      libraryLogger.info('SLACK_APP_TOKEN is set: using Socket Mode; SLACK_SIGNING_SECRET is not used');
    socketReceiver = new SocketModeReceiver({
      appToken,
      logger,
      logLevel,
      // A separate object: SocketModeClient writes its own retry default into the options it is given.
      installerOptions: {
        clientOptions: {
          ...apiUrl,
          ...(options.retryConfig === undefined ? {} : { retryConfig: options.retryConfig }),
        },
      },
    });
  } else {
    httpReceiver = new HTTPReceiver({
      signingSecret: signingSecret!,
      endpoints: SLACK_EVENTS_PATH,
      logger,
      logLevel,
    });
  }

  const app = new App({
    token: botToken,
    receiver: socketReceiver ?? httpReceiver!,
    logger,
    logLevel,
    clientOptions: { ...apiUrl, retryConfig },
    // auth.test then runs in start(), where a bad token becomes an explained error instead of an unhandled rejection.
    deferInitialization: true,
  });

  let port: number | undefined;
  let started = false;
  const initialized = new Readiness();
  return {
    app,
    mode: socketReceiver === undefined ? 'http' : 'socket',
    get port() {
      return port;
    },
    requestListener:
      httpReceiver === undefined
        ? undefined
        : whenInitialized(httpReceiver.requestListener, initialized, options.startWaitMs ?? 2_000),
    async start() {
      try {
        await app.init();
      } catch (error) {
        initialized.settle(false);
        throw explainStartFailure('auth.test', 'SLACK_BOT_TOKEN', slackApiUrl, error);
      }
      initialized.settle(true);
      if (socketReceiver !== undefined) {
        try {
          await socketReceiver.start();
        } catch (error) {
          throw explainStartFailure('apps.connections.open', 'SLACK_APP_TOKEN', slackApiUrl, error);
        }
      } else if (options.mounted !== true) {
        const server = await httpReceiver!.start({
          port: options.port ?? 3000,
          ...(options.host === undefined ? {} : { host: options.host }),
        });
        port = (server.address() as AddressInfo).port;
      }
      started = true;
    },
    async stop() {
      if (!started) return;
      started = false;
      if (socketReceiver !== undefined) await socketReceiver.client.disconnect();
      else if (options.mounted !== true) await httpReceiver!.stop();
      port = undefined;
    },
  };
}

/** Whether the app finished its initialization (auth.test): undefined until then, then true or false for good. */
class Readiness {
  #value: boolean | undefined;
  readonly #waiters = new Set<(value: boolean) => void>();

  get value(): boolean | undefined {
    return this.#value;
  }

  settle(value: boolean): void {
    this.#value = value;
    for (const waiter of this.#waiters) waiter(value);
    this.#waiters.clear();
  }

  /** Resolves with the value once settled, or undefined after `ms`. */
  wait(ms: number): Promise<boolean | undefined> {
    if (this.#value !== undefined) return Promise.resolve(this.#value);
    return new Promise((resolve) => {
      const waiter = (value: boolean) => {
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        resolve(undefined);
      }, ms);
      this.#waiters.add(waiter);
    });
  }
}

/**
 * The service's server listens before the adapters start, but Bolt cannot handle a request before its init()
 * (auth.test) has finished: init sets the app's authorize function, so the request fails (401, measured with Bolt 5.1,
 * an AuthorizationError logged, no listener run). Such requests wait for the start instead, up to `waitMs`; then, or
 * when the start failed, they get 503, which Slack retries for events (Retry-After while the start is under way).
 */
function whenInitialized(
  listener: (req: IncomingMessage, res: ServerResponse) => void,
  initialized: Readiness,
  waitMs: number,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (initialized.value === true) {
      listener(req, res);
      return;
    }
    void initialized.wait(waitMs).then((ready) => {
      if (ready === true) listener(req, res);
      else {
        res.writeHead(503, { 'content-type': 'text/plain', ...(ready === undefined ? { 'retry-after': '5' } : {}) });
        res.end(
          ready === undefined
            ? 'The Slack app is starting; try again in a few seconds.'
            : 'The Slack app is off: it could not start.',
        );
      }
    });
  };
}

/** Bolt's Logger interface over our pino logger, with secrets redacted from every line. */
class BoltLogAdapter implements BoltLogger {
  #level: LogLevel = LogLevel.INFO;

  constructor(
    private readonly logger: Logger,
    private readonly redact: (text: string) => string,
  ) {}

  debug(...message: unknown[]): void {
    if (this.#enabled(LogLevel.DEBUG)) this.logger.debug(this.redact(formatLogArgs(message)));
  }

  info(...message: unknown[]): void {
    if (this.#enabled(LogLevel.INFO)) this.logger.info(this.redact(formatLogArgs(message)));
  }

  warn(...message: unknown[]): void {
    if (this.#enabled(LogLevel.WARN)) this.logger.warn(this.redact(formatLogArgs(message)));
  }

  error(...message: unknown[]): void {
    this.logger.error(this.redact(formatLogArgs(message)));
  }

  setLevel(level: LogLevel): void {
    this.#level = level;
  }

  getLevel(): LogLevel {
    return this.#level;
  }

  /** The pino child already names the component. */
  setName(): void {}

  #enabled(level: LogLevel): boolean {
    const order = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARN, LogLevel.ERROR];
    return order.indexOf(level) >= order.indexOf(this.#level);
  }
}

function boltLevel(pinoLevel: string): LogLevel {
  if (pinoLevel === 'trace' || pinoLevel === 'debug') return LogLevel.DEBUG;
  if (pinoLevel === 'info') return LogLevel.INFO;
  if (pinoLevel === 'warn') return LogLevel.WARN;
  return LogLevel.ERROR;
}

function checkedToken(name: string, raw: string, prefix: string, what: string): string {
  const token = raw.trim();
  if (token === '') throw new Error(`${name} is empty: set it to ${what}, which starts with ${prefix}.`);
  if (!token.startsWith(prefix)) {
    const kind = /^(xox[a-z]|xapp)-/.exec(token)?.[0];
    throw new Error(
      `${name} must be ${what}, which starts with ${prefix}; the value given ${kind === undefined ? 'is not a Slack token' : `starts with ${kind}`}.`,
    );
  }
  return token;
}

function checkedApiUrl(raw: string): string {
  const url = endpointUrl('SLACK_API_URL', raw, 'http', 'https://slack.com/api/');
  return `${url.origin}${url.pathname.replace(/\/*$/, '/')}`;
}

function explainStartFailure(method: string, setting: string, slackApiUrl: string | undefined, error: unknown): Error {
  const coded = error as { code?: string; data?: { error?: string }; original?: Error };
  if (coded.code === webApi.ErrorCode.PlatformError) {
    const reason = coded.data?.error ?? 'unknown_error';
    const hint =
      reason === 'invalid_auth' ||
      reason === 'not_authed' ||
      reason === 'account_inactive' ||
      reason === 'token_revoked'
        ? `reinstall the app to the workspace and copy a fresh token into ${setting}`
        : `check ${setting} and the app's settings`;
    return new Error(`Slack refused ${method} (${reason}): ${hint}.`, { cause: error });
  }
  if (coded.code === webApi.ErrorCode.RequestError || coded.code === webApi.ErrorCode.HTTPError) {
    const where = slackApiUrl ?? 'https://slack.com/api/';
    return new Error(
      `Could not reach the Slack API at ${where} for ${method} (${coded.original?.message ?? String(error)}): check SLACK_API_URL and the network.`,
      { cause: error },
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}
