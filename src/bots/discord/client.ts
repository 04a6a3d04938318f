// Builds the discord.js Client that production and the loopback tests share (style.md §10): only the endpoints differ.
// The REST base comes from `rest.api` (DISCORD_API_URL, for REST proxies); discord.js has no gateway-URL option, so
// DISCORD_GATEWAY_URL is applied by rewriting the `url` of GET /gateway/bot in a `rest.makeRequest` wrapper, the
// route discord.js asks for its gateway (proved in docs/chat-fakes.md, test D3).
// @see https://discord.js.org/docs/packages/rest/stable/RESTOptions:Interface
// @see https://discord.com/developers/docs/events/gateway#get-gateway-bot
import {
  Client,
  DefaultRestOptions,
  Events,
  GatewayIntentBits,
  Partials,
  RESTEvents,
  type RESTOptions,
  type ResponseLike,
} from 'discord.js';
import type { Logger } from '../../log.js';
import { endpointUrl } from '../endpoint-url.js';
import { createRedactor, formatLogArgs } from '../library-log.js';

export interface DiscordClientOptions {
  /** The bot token (Developer Portal → your application → Bot). A leading `Bot ` is tolerated. */
  token: string;
  /** REST base without the API version, default `https://discord.com/api` (DISCORD_API_URL). */
  restApi?: string;
  /** Gateway WebSocket URL used instead of the one Discord advertises (DISCORD_GATEWAY_URL). */
  gatewayUrl?: string;
  /** Retries of a failed REST request (discord.js default 3). */
  retries?: number;
  /** Milliseconds before a REST request is aborted (discord.js default 15000). */
  timeout?: number;
  /** Receives discord.js' debug, warning and error output (as child `{ lib: 'discord.js' }`), tokens redacted. */
  logger: Logger;
}

/**
 * A discord.js Client, not yet logged in, holding the token: call `client.login()` (no argument) to connect.
 * REST calls such as command registration work before login. Intents: Guilds only; slash commands and buttons arrive
 * as interactions, which need no privileged intent. `Partials.Channel` lets `interaction.channel` resolve in DMs.
 */
export function createDiscordClient(options: DiscordClientOptions): Client {
  const token = checkedToken(options.token);
  const rest: Partial<RESTOptions> = {
    retries: checkedCount('retries', options.retries ?? DefaultRestOptions.retries),
    timeout: checkedCount('timeout', options.timeout ?? DefaultRestOptions.timeout),
  };
  if (options.restApi !== undefined) rest.api = checkedRestApi(options.restApi);
  if (options.gatewayUrl !== undefined) rest.makeRequest = withGatewayUrl(checkedGatewayUrl(options.gatewayUrl));

  const client = new Client({
    intents: [GatewayIntentBits.Guilds],
    partials: [Partials.Channel],
    // Prompts are user text: never let them ping @everyone, roles or users unless a message opts in explicitly.
    allowedMentions: { parse: [], repliedUser: false },
    rest,
  });
  client.token = token;
  client.rest.setToken(token);
  routeLibraryLogs(client, options.logger.child({ lib: 'discord.js' }), createRedactor([token]));
  return client;
}

/** Wraps the default request strategy so that the gateway information names `gatewayUrl`. */
function withGatewayUrl(gatewayUrl: string): RESTOptions['makeRequest'] {
  return async (url, init) => {
    const response = await DefaultRestOptions.makeRequest(url, init);
    if (!response.ok || !new URL(url).pathname.endsWith('/gateway/bot')) return response;
    const information = (await response.json()) as Record<string, unknown>;
    const headers = new Headers(response.headers);
    headers.delete('content-length');
    headers.delete('content-encoding');
    const rewritten = new Response(JSON.stringify({ ...information, url: gatewayUrl }), {
      status: response.status,
      statusText: response.statusText,
      headers,
    });
    return rewritten as ResponseLike;
  };
}

function routeLibraryLogs(client: Client, logger: Logger, redact: (text: string) => string): void {
  client.on(Events.Debug, (message) => logger.debug(redact(message)));
  client.on(Events.Warn, (message) => logger.warn(redact(message)));
  // Without an `error` listener Node would throw the event and end the process.
  client.on(Events.Error, (error) => logger.error(redact(`discord.js error: ${formatLogArgs([error])}`)));
  client.on(Events.ShardError, (error, shardId) =>
    logger.error(redact(`discord.js shard ${shardId} error: ${formatLogArgs([error])}`)),
  );
  client.rest.on(RESTEvents.Debug, (message) => logger.debug(redact(message)));
  client.rest.on(RESTEvents.RateLimited, (info) =>
    logger.warn(
      redact(
        `Discord rate limit on ${info.method.toUpperCase()} ${info.route}: waiting ${info.timeToReset} ms (global: ${info.global})`,
      ),
    ),
  );
}

function checkedToken(raw: string): string {
  const token = raw.trim().replace(/^(Bot|Bearer)\s+/i, '');
  if (token === '') {
    throw new Error(
      'The Discord bot token (DISCORD_TOKEN) is empty. Copy it from the Discord Developer Portal (your application → Bot → Reset Token).',
    );
  }
  if (/\s/.test(token)) {
    throw new Error('The Discord bot token (DISCORD_TOKEN) contains whitespace; paste the token alone, on one line.');
  }
  return token;
}

function checkedRestApi(raw: string): string {
  const url = endpointUrl('DISCORD_API_URL', raw, 'http', 'https://discord.com/api');
  const base = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  if (/\/v\d+$/.test(base)) {
    throw new Error(
      `DISCORD_API_URL must not include the API version: discord.js appends /v10 itself. Use ${base.replace(/\/v\d+$/, '')} instead of ${base}.`,
    );
  }
  return base;
}

function checkedGatewayUrl(raw: string): string {
  const url = endpointUrl('DISCORD_GATEWAY_URL', raw, 'ws', 'wss://gateway.discord.gg');
  // discord.js appends `?v=10&encoding=json` itself.
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function checkedCount(name: 'retries' | 'timeout', value: number): number {
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`Discord REST ${name} must be a whole number >= 0 (got ${value}).`);
  return value;
}
