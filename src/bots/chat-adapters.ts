// Turns the chat adapters on by configuration alone: DISCORD_TOKEN starts the Discord adapter; SLACK_BOT_TOKEN with
// SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP, mounted on the service's server at /slack/events)
// starts the Slack adapter. The composition root (src/main.ts) creates them before the worker starts, so no job
// event is missed, and starts them once the server is up.
import type { Config } from '../config.js';
import type { VideoService } from '../service/video-service.js';
import { locateConfiguredFfmpeg } from '../video/ffmpeg.js';
import type { HttpPlugin } from '../http/server.js';
import type { Logger } from '../log.js';
import type { VideoLink } from './chat-replier.js';
import { DiscordAdapter } from './discord/adapter.js';
import { createDiscordClient } from './discord/client.js';
import { createSlackApp } from './slack/app.js';
import { SlackAdapter } from './slack/adapter.js';
import { slackEventsRoute } from './slack/http-route.js';

/** Knobs for tests and operators' code; production uses the defaults. */
export interface ChatAdapterOptions {
  /** Minimum time between two progress edits of one job's message (default 2000 ms). */
  progressIntervalMs?: number;
  /** Discord REST retries (discord.js default 3) and timeout (default 15 s). */
  discordRest?: { retries?: number; timeoutMs?: number };
  /** Slack Web API retries (default: five within five minutes). */
  slackRetries?: number;
}

export interface ChatAdapters {
  /** Routes for the service's HTTP server (Slack's request URL in HTTP mode). */
  readonly plugins: HttpPlugin[];
  readonly discord: DiscordAdapter | undefined;
  readonly slack: SlackAdapter | undefined;
  /** Connects every enabled adapter; one that cannot connect is logged and left off, the service keeps running. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Creates the adapters the configuration enables and subscribes them to job events (no network yet). */
export function createChatAdapters(config: Config, service: VideoService, logger: Logger, options: ChatAdapterOptions = {}): ChatAdapters {
  const videoLink = publicVideoLinks(config.publicUrl, service, logger);
  let discord: DiscordAdapter | undefined;
  let slack: SlackAdapter | undefined;
  const plugins: HttpPlugin[] = [];

  if (config.discord.token !== undefined) {
    const log = logger.child({ component: 'discord' });
    const client = createDiscordClient({
      token: config.discord.token,
      restApi: config.discord.apiUrl,
      ...(config.discord.gatewayUrl === undefined ? {} : { gatewayUrl: config.discord.gatewayUrl }),
      ...(options.discordRest?.retries === undefined ? {} : { retries: options.discordRest.retries }),
      ...(options.discordRest?.timeoutMs === undefined ? {} : { timeout: options.discordRest.timeoutMs }),
      logger: log,
    });
    discord = new DiscordAdapter({
      client,
      service,
      logger: log,
      ...(config.discord.guildId === undefined ? {} : { guildId: config.discord.guildId }),
      ...(config.discord.applicationId === undefined ? {} : { applicationId: config.discord.applicationId }),
      ...(videoLink === undefined ? {} : { videoLink }),
      ffmpeg: () => locateConfiguredFfmpeg(config.engine.ffmpegPath),
      ...(options.progressIntervalMs === undefined ? {} : { progressIntervalMs: options.progressIntervalMs }),
    });
  } else if (config.discord.applicationId !== undefined || config.discord.guildId !== undefined) {
    logger.warn('DISCORD_APPLICATION_ID or DISCORD_GUILD_ID is set but DISCORD_TOKEN is not: Discord stays off');
  }

  if (config.slack.botToken !== undefined) {
    const log = logger.child({ component: 'slack' });
    const handle = createSlackApp({
      botToken: config.slack.botToken,
      ...(config.slack.appToken === undefined ? {} : { appToken: config.slack.appToken }),
      ...(config.slack.signingSecret === undefined ? {} : { signingSecret: config.slack.signingSecret }),
      slackApiUrl: config.slack.apiUrl,
      mounted: true,
      ...(options.slackRetries === undefined ? {} : { retryConfig: { retries: options.slackRetries } }),
      logger: log,
    });
    if (handle.requestListener !== undefined) plugins.push({ plugin: slackEventsRoute, options: { requestListener: handle.requestListener } });
    slack = new SlackAdapter({
      handle,
      service,
      logger: log,
      ...(videoLink === undefined ? {} : { videoLink }),
      ...(options.progressIntervalMs === undefined ? {} : { progressIntervalMs: options.progressIntervalMs }),
    });
  } else if (config.slack.appToken !== undefined || config.slack.signingSecret !== undefined) {
    logger.warn('SLACK_APP_TOKEN or SLACK_SIGNING_SECRET is set but SLACK_BOT_TOKEN is not: Slack stays off');
  }

  const adapters: { name: string; adapter: DiscordAdapter | SlackAdapter }[] = [];
  if (discord !== undefined) adapters.push({ name: 'Discord', adapter: discord });
  if (slack !== undefined) adapters.push({ name: 'Slack', adapter: slack });

  return {
    plugins,
    discord,
    slack,
    async start() {
      await Promise.all(
        adapters.map(({ name, adapter }) =>
          adapter.start().catch((error: unknown) => logger.error({ err: error }, `${name} is off: it could not connect (the rest of the service runs on)`)),
        ),
      );
    },
    async stop() {
      await Promise.all(adapters.map(({ name, adapter }) => adapter.stop().catch((error: unknown) => logger.warn({ err: error }, `${name} did not stop cleanly`))));
    },
  };
}

/**
 * Signed links to videos that could not be uploaded (service/media-links.ts), only when the service has a public
 * address: a loopback PUBLIC_URL means chat users cannot reach it, and a link to it would only confuse. A link that
 * cannot be made is logged and left out; the message then explains without it.
 */
function publicVideoLinks(publicUrl: string, service: VideoService, logger: Logger): VideoLink | undefined {
  const host = new URL(publicUrl).hostname;
  if (host === 'localhost' || host === '[::1]' || host.startsWith('127.')) return undefined;
  return async (jobId) => {
    try {
      return await service.mediaUrl(jobId, { kind: 'video' });
    } catch (error) {
      logger.warn({ jobId, err: error }, 'could not make a link to a video');
      return undefined;
    }
  };
}
