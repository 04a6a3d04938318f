// A fake Discord on 127.0.0.1 for driving the real discord.js client: REST over HTTP (`/api/v10/...`) and the gateway
// over WebSocket (ws), following docs/chat-fakes.md. It keeps just enough state (commands, channels, messages,
// interactions) to answer the way Discord does, enforces the rules an adapter can get wrong (3 s interaction deadline,
// upload limit, thread permission, `Bot` auth on bot routes, buttons that exist), records every request and gateway
// event, and lets tests wait on them. Wire payloads are plain JSON objects shaped like Discord's.
// @see https://discord.com/developers/docs/interactions/receiving-and-responding
// @see https://discord.com/developers/docs/events/gateway
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  ApplicationCommandOptionType,
  ChannelType,
  ComponentType,
  GatewayDispatchEvents,
  GatewayOpcodes,
  InteractionContextType,
  InteractionResponseType,
  InteractionType,
  MessageFlags,
  MessageType,
  PermissionFlagsBits,
  RESTJSONErrorCodes,
} from 'discord.js';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { DISCORD_BOT_PERMISSION_BITS } from '../../src/bots/discord/invite.js';
import { closeServer, listenOnLoopback, readBody } from './loopback-http.js';
import { Recorder } from './recorder.js';

/** A JSON object as it travels on the wire. */
export type Wire = Record<string, unknown>;

export interface FakeDiscordOptions {
  /** Bot token accepted on bot routes (`Authorization: Bot <token>`) and in IDENTIFY. */
  token?: string;
  /** Largest total attachment size of one request; above it Discord answers 413 {code: 40005}. Default 10 MiB. */
  maxUploadBytes?: number;
  /** `url` answered by GET /gateway/bot; default the fake's own gateway. A dead URL proves a gateway override. */
  advertisedGatewayUrl?: string;
  /** false makes thread creation fail with 403 {code: 50013 Missing Permissions}. Default true. */
  allowThreads?: boolean;
  /** Time from dispatch within which the first interaction callback must arrive, else 404 {code: 10062}; 0 makes every
   *  callback late. Default 3000. */
  deadlineMs?: number;
  /** HELLO heartbeat interval. The default (45 s) means no heartbeat happens during a short test. */
  heartbeatIntervalMs?: number;
}

/** The switches a test may flip while the fake runs. */
export interface FakeDiscordSettings {
  maxUploadBytes: number;
  allowThreads: boolean;
  deadlineMs: number;
  /** Life of an interaction token for webhook calls (Discord: 15 min, the default); later calls get 401 {code: 50027}. */
  interactionTokenLifetimeMs: number;
}

export interface RecordedFile {
  /** Multipart field name, `files[0]` for discord.js. */
  field: string;
  filename: string;
  contentType: string;
  bytes: Buffer;
}

/** A REST request as the fake parsed it. */
interface ParsedRequest {
  method: string;
  /** Path after `/api/v10`, percent-decoded (`/webhooks/{app}/{token}/messages/@original`). */
  path: string;
  query: Record<string, string>;
  /** The Authorization header as sent; null when absent (interaction callbacks and webhooks send none). */
  auth: string | null;
  contentType: string | null;
  /** The JSON body, or the parsed `payload_json` part of a multipart body; null without a body. */
  json: unknown;
  /** Text parts of a multipart body by field name; null when the body was not multipart. */
  fields: Record<string, string> | null;
  files: RecordedFile[];
}

/** A REST request with the fake's answer, as recorded. */
export interface DiscordRequest extends ParsedRequest {
  seq: number;
  status: number;
  response: unknown;
}

export interface GatewayEvent {
  kind: 'connect' | 'identify' | 'resume' | 'heartbeat' | 'dispatch' | 'close';
  /** Connection number, 1 for the first WebSocket the fake accepted. */
  connection: number;
  /** Query string of the WebSocket URL (`v`, `encoding`, `compress`), on `connect`. */
  query?: Record<string, string>;
  /** IDENTIFY / RESUME `d`, or `{t, s, d}` for a dispatch. */
  payload?: Wire;
  /** Close code, on `close`. */
  code?: number;
}

export interface FakeUser {
  id: string;
  username: string;
  /** Guild permissions of the member (for admin checks); ignored in DMs. */
  permissions: bigint;
}

export interface FakeInteraction {
  id: string;
  token: string;
  kind: 'command' | 'button';
  channelId: string;
  guildId: string | null;
  user: FakeUser;
  dispatchedAt: number;
  /** Callback type of the first response (5 = deferred, 4 = reply, 7 = update, ...), null until acknowledged. */
  responseType: number | null;
  /** The message that `@original` names: the reply for commands, the clicked message for component updates. */
  originalMessageId: string | null;
  /** For a button: the message that carries it. */
  componentMessageId: string | null;
}

export interface SlashCommandInput {
  name: string;
  /** Option values by name; their types come from the registered command, as in Discord. */
  options?: Record<string, string | number | boolean>;
  /** Default `fake.user('alice')`. */
  user?: FakeUser;
  /** true: invoked in the bot's DM with the user (no guild, no member). Default false. */
  dm?: boolean;
  /** Guild channel the command is used in; default the guild's text channel. */
  channelId?: string;
  locale?: string;
}

export interface ButtonInput {
  customId: string;
  /** The message carrying the button, or its id; it must be a message the fake holds. */
  message: string | { id: string };
  /** Default `fake.user('alice')`. */
  user?: FakeUser;
}

interface Reply {
  status: number;
  body?: unknown;
  /** Raw bytes (attachments), sent instead of JSON. */
  bytes?: { data: Buffer; contentType: string };
}

interface InteractionState extends FakeInteraction {
  messageIds: Set<string>;
}

interface Connection {
  number: number;
  ws: WebSocket;
  sessionId: string | null;
  seq: number;
}

type Handler = (request: ParsedRequest, params: string[]) => Reply | Promise<Reply>;

const DISCORD_EPOCH = 1_420_070_400_000n;
const MAX_CONTENT_LENGTH = 2000;
const MAX_CUSTOM_ID_LENGTH = 100;
/** The bot holds what its invite URL grants; each interaction's `app_permissions` derives from it. */
const BOT_CHANNEL_PERMISSIONS = DISCORD_BOT_PERMISSION_BITS;
const MEMBER_PERMISSIONS =
  PermissionFlagsBits.ViewChannel |
  PermissionFlagsBits.SendMessages |
  PermissionFlagsBits.SendMessagesInThreads |
  PermissionFlagsBits.ReadMessageHistory |
  PermissionFlagsBits.UseApplicationCommands;

function fakeBotToken(applicationId: string): string {
  return `${Buffer.from(applicationId).toString('base64url')}.GfAkE1.${randomBytes(28).toString('base64url')}`;
}

function apiError(status: number, code: number, message: string, errors?: Wire): Reply {
  return { status, body: errors === undefined ? { code, message } : { code, message, errors } };
}

function invalidFormBody(field: string, message: string): Reply {
  return apiError(400, RESTJSONErrorCodes.InvalidFormBodyOrContentType, 'Invalid Form Body', {
    [field]: { _errors: [{ code: 'BASE_TYPE_INVALID', message }] },
  });
}


function collectButtons(components: unknown): Wire[] {
  if (!Array.isArray(components)) return [];
  return components.flatMap((component: Wire) =>
    component.type === ComponentType.Button ? [component] : collectButtons(component.components),
  );
}

function asWire(value: unknown): Wire {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Wire) : {};
}

export class FakeDiscord {
  readonly applicationId: string;
  readonly token: string;
  readonly guildId: string;
  /** The guild's text channel, where slash commands are used by default. */
  readonly textChannelId: string;
  readonly settings: FakeDiscordSettings;
  readonly requests = new Recorder<DiscordRequest>(
    (r) => `${r.method} ${r.path} -> ${r.status} (auth: ${r.auth === null ? 'none' : r.auth.split(' ')[0]})`,
  );
  readonly gateway = new Recorder<GatewayEvent>(
    (e) => `#${e.connection} ${e.kind}${e.kind === 'dispatch' ? ` ${String(e.payload?.t)}` : ''}`,
  );
  /** Registered commands: `global` and per guild id, as stored by PUT (with ids). */
  readonly commands: { global: Wire[]; guild: Map<string, Wire[]> } = { global: [], guild: new Map() };
  readonly channels = new Map<string, Wire>();
  readonly messages = new Map<string, Wire>();
  readonly interactions = new Map<string, FakeInteraction>();

  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #routes: { method: string; pattern: RegExp; handler: Handler }[] = [];
  readonly #advertisedGatewayUrl: string | undefined;
  readonly #heartbeatIntervalMs: number;
  readonly #users = new Map<string, FakeUser>();
  readonly #interactionsByToken = new Map<string, InteractionState>();
  /** Interaction id -> its INTERACTION_CREATE payload as first dispatched, for redeliver(). */
  readonly #dispatched = new Map<string, Wire>();
  readonly #attachments = new Map<string, RecordedFile>();
  readonly #sessions = new Set<string>();
  readonly #holds: { method: string; path: RegExp; arrive: () => void; released: Promise<void> }[] = [];
  #nextSnowflake = 0;
  #nextConnection = 0;
  #active: Connection | null = null;
  #port = 0;

  constructor(options: FakeDiscordOptions, server: Server) {
    this.#server = server;
    this.applicationId = this.#snowflake();
    this.token = options.token ?? fakeBotToken(this.applicationId);
    this.guildId = this.#snowflake();
    this.textChannelId = this.#snowflake();
    this.#advertisedGatewayUrl = options.advertisedGatewayUrl;
    this.#heartbeatIntervalMs = options.heartbeatIntervalMs ?? 45_000;
    this.settings = {
      maxUploadBytes: options.maxUploadBytes ?? 10 * 1024 * 1024,
      allowThreads: options.allowThreads ?? true,
      deadlineMs: options.deadlineMs ?? 3_000,
      interactionTokenLifetimeMs: 15 * 60_000,
    };
    this.channels.set(this.textChannelId, {
      id: this.textChannelId,
      type: ChannelType.GuildText,
      guild_id: this.guildId,
      name: 'videos',
      position: 0,
      permission_overwrites: [],
      parent_id: null,
      nsfw: false,
      topic: null,
      last_message_id: null,
      rate_limit_per_user: 0,
      flags: 0,
    });
    this.#wss = new WebSocketServer({ server, path: '/gateway' });
    this.#wss.on('connection', (ws, req) => this.#onGatewayConnection(ws, req));
    server.on('request', (req, res) => void this.#onHttp(req, res));
    this.#defineRoutes();
  }

  /** REST base for discord.js `rest.api` (no version): `http://127.0.0.1:PORT/api`. */
  get restApi(): string {
    return `http://127.0.0.1:${this.#port}/api`;
  }

  /** The fake's own gateway, also sent as READY's `resume_gateway_url`. */
  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.#port}/gateway`;
  }

  get botUser(): Wire {
    return {
      id: this.applicationId,
      username: 't2v-bot',
      discriminator: '0',
      global_name: null,
      avatar: null,
      bot: true,
    };
  }

  /** The same user for the same name, so tests can tell requesters apart. */
  user(username: string, options: { permissions?: bigint } = {}): FakeUser {
    let user = this.#users.get(username);
    if (user === undefined) {
      user = { id: this.#snowflake(), username, permissions: options.permissions ?? MEMBER_PERMISSIONS };
      this.#users.set(username, user);
    }
    return user;
  }

  /** The DM channel between the bot and `user` (created on first use). */
  dmChannel(user: FakeUser): Wire {
    const existing = [...this.channels.values()].find(
      (c) => c.type === ChannelType.DM && (c.recipients as Wire[])[0]?.id === user.id,
    );
    if (existing !== undefined) return existing;
    const channel: Wire = {
      id: this.#snowflake(),
      type: ChannelType.DM,
      last_message_id: null,
      flags: 0,
      recipients: [this.#userWire(user)],
    };
    this.channels.set(channel.id as string, channel);
    return channel;
  }

  /** Bytes of an uploaded attachment by attachment id. */
  attachment(id: string): RecordedFile | undefined {
    return this.#attachments.get(id);
  }

  waitFor<S extends DiscordRequest>(pred: (r: DiscordRequest) => r is S, timeoutMs?: number): Promise<S>;
  waitFor(pred: (r: DiscordRequest) => boolean, timeoutMs?: number): Promise<DiscordRequest>;
  waitFor(pred: (r: DiscordRequest) => boolean, timeoutMs?: number): Promise<DiscordRequest> {
    return this.requests.waitFor(pred, timeoutMs);
  }

  waitForGateway(pred: (e: GatewayEvent) => boolean, timeoutMs?: number): Promise<GatewayEvent> {
    return this.gateway.waitFor(pred, timeoutMs);
  }

  /** Dispatches INTERACTION_CREATE for a slash command the bot registered (guild commands first, then global). */
  sendSlashCommand(input: SlashCommandInput): FakeInteraction {
    const user = input.user ?? this.user('alice');
    const dm = input.dm ?? false;
    const command = this.#findCommand(input.name, dm);
    const options = this.#commandOptions(command, input.options ?? {});
    const channel = dm ? this.dmChannel(user) : this.#channelOrThrow(input.channelId ?? this.textChannelId);
    const interaction = this.#newInteraction('command', channel, user);
    this.#dispatchInteraction(interaction, {
      ...this.#interactionEnvelope(interaction, InteractionType.ApplicationCommand, channel, user, input.locale),
      data: {
        id: command.id,
        name: command.name,
        type: 1,
        options,
        ...(command.guild_id === undefined ? {} : { guild_id: command.guild_id }),
      },
    });
    return interaction;
  }

  /** Dispatches INTERACTION_CREATE (type 3) for a click on a button that `message` really carries. */
  sendButton(input: ButtonInput): FakeInteraction {
    const user = input.user ?? this.user('alice');
    const messageId = typeof input.message === 'string' ? input.message : input.message.id;
    const message = this.messages.get(messageId);
    if (message === undefined) throw new Error(`sendButton: the fake holds no message ${messageId}`);
    const buttons = collectButtons(message.components);
    const button = buttons.find((b) => b.custom_id === input.customId);
    if (button === undefined) {
      const ids = buttons.map((b) => String(b.custom_id)).join(', ') || 'none';
      throw new Error(`sendButton: message ${messageId} has no button ${input.customId} (it has: ${ids})`);
    }
    if (button.disabled === true) throw new Error(`sendButton: button ${input.customId} is disabled`);
    const channel = this.#channelOrThrow(message.channel_id as string);
    const interaction = this.#newInteraction('button', channel, user);
    interaction.componentMessageId = messageId;
    this.#dispatchInteraction(interaction, {
      ...this.#interactionEnvelope(interaction, InteractionType.MessageComponent, channel, user, undefined),
      message,
      data: { custom_id: input.customId, component_type: ComponentType.Button },
    });
    return interaction;
  }

  /**
   * Dispatches an interaction's INTERACTION_CREATE again, exactly as the first time (same id, token and data), on the
   * current connection, as a gateway replay can deliver an event twice.
   */
  redeliver(interaction: FakeInteraction): void {
    const payload = this.#dispatched.get(interaction.id);
    if (payload === undefined) throw new Error(`redeliver: interaction ${interaction.id} was never dispatched`);
    this.#dispatch(GatewayDispatchEvents.InteractionCreate, structuredClone(payload));
  }

  /**
   * The next REST request of `method` whose path (after `/api/v10`, decoded) matches `path` waits for `release()`
   * before the fake handles it (a slow Discord: nothing it would do has happened yet); `arrived` resolves when it comes.
   */
  holdNext(method: string, path: RegExp): { arrived: Promise<void>; release: () => void } {
    let arrive!: () => void;
    let release!: () => void;
    const arrived = new Promise<void>((resolve) => (arrive = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.#holds.push({ method, path, arrive, released });
    return { arrived, release };
  }

  /** Closes the current gateway connection with `code` (4000 is resumable), as Discord does on a restart. */
  dropGatewayConnection(code = 4000): void {
    this.#active?.ws.close(code, 'fake: connection dropped');
  }

  async close(): Promise<void> {
    for (const ws of this.#wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    await closeServer(this.#server);
  }

  /** @internal */
  async listen(): Promise<void> {
    this.#port = await listenOnLoopback(this.#server);
  }

  // ---- REST ----

  #defineRoutes(): void {
    /** One handler for `methods` on `pattern` (`:name` matches one path segment, passed as a parameter). */
    const route = (methods: string | string[], pattern: string, handler: Handler): void => {
      const source = pattern.replaceAll(/:\w+/g, '([^/]+)');
      for (const method of [methods].flat()) this.#routes.push({ method, pattern: new RegExp(`^${source}$`), handler });
    };
    const bot =
      (handler: Handler): Handler =>
      (request, params) =>
        request.auth === `Bot ${this.token}` ? handler(request, params) : apiError(401, 0, '401: Unauthorized');

    route('GET', '/gateway/bot', bot(() => this.#gatewayBot()));
    route('PUT', '/applications/:app/commands', bot((r, [app]) => this.#putCommands(r, app!, null)));
    route('GET', '/applications/:app/commands', bot((_r, [app]) => this.#listCommands(app!, null)));
    route('PUT', '/applications/:app/guilds/:guild/commands', bot((r, [app, g]) => this.#putCommands(r, app!, g!)));
    route('GET', '/applications/:app/guilds/:guild/commands', bot((_r, [app, g]) => this.#listCommands(app!, g!)));
    route('POST', '/interactions/:id/:token/callback', (r, [id, token]) => this.#callback(r, id!, token!));
    route('POST', '/webhooks/:app/:token', (r, [app, token]) => this.#followUp(r, app!, token!));
    route(['GET', 'PATCH', 'DELETE'], '/webhooks/:app/:token/messages/:message', (r, p) => this.#webhookMessage(r, p));
    route('GET', '/channels/:channel', bot((_r, [c]) => this.#getChannel(c!)));
    route('POST', '/channels/:channel/messages', bot((r, [c]) => this.#postMessage(r, c!)));
    const channelMessage = bot((r, [c, m]) => this.#channelMessage(r, c!, m!));
    route(['GET', 'PATCH', 'DELETE'], '/channels/:channel/messages/:message', channelMessage);
    route('POST', '/channels/:channel/messages/:message/threads', bot((r, [c, m]) => this.#startThread(r, c!, m!)));
    route('POST', '/users/@me/channels', bot((r) => this.#createDm(r)));
  }

  async #onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const body = await readBody(req);
    const attachment = /^\/attachments\/[^/]+\/([^/]+)\/[^/]+$/.exec(url.pathname);
    if (attachment !== null) {
      const file = this.#attachments.get(attachment[1]!);
      this.#send(
        res,
        file === undefined
          ? { status: 404 }
          : { status: 200, bytes: { data: file.bytes, contentType: file.contentType } },
      );
      return;
    }
    const request = await this.#parse(req, url, body);
    const held = request === null ? -1 : this.#holds.findIndex((h) => h.method === request.method && h.path.test(request.path));
    if (held >= 0) {
      const [hold] = this.#holds.splice(held, 1);
      hold!.arrive();
      await hold!.released;
    }
    let reply: Reply;
    if (request === null) {
      reply = apiError(400, RESTJSONErrorCodes.InvalidFormBodyOrContentType, 'The request body contains invalid JSON.');
    } else if (!url.pathname.startsWith('/api/v10/')) {
      reply = apiError(404, 0, '404: Not Found');
    } else {
      const match = this.#routes
        .map((r) => ({ r, m: r.method === request.method ? r.pattern.exec(request.path) : null }))
        .find((x) => x.m !== null);
      reply =
        match === undefined ? apiError(404, 0, '404: Not Found') : await match.r.handler(request, match.m!.slice(1));
    }
    const parsed = request ?? {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: {},
      auth: req.headers.authorization ?? null,
      contentType: req.headers['content-type'] ?? null,
      json: null,
      fields: null,
      files: [],
    };
    this.requests.push({ ...parsed, seq: this.requests.items.length + 1, status: reply.status, response: reply.body });
    this.#send(res, reply);
  }

  async #parse(req: IncomingMessage, url: URL, body: Buffer): Promise<ParsedRequest | null> {
    // discord.js sends `@original` percent-encoded; decode before routing (chat-fakes.md gotcha 1).
    const path = decodeURIComponent(url.pathname.replace(/^\/api\/v10/, ''));
    const contentType = req.headers['content-type'] ?? null;
    const request: ParsedRequest = {
      method: req.method ?? 'GET',
      path,
      query: Object.fromEntries(url.searchParams),
      auth: req.headers.authorization ?? null,
      contentType,
      json: null,
      fields: null,
      files: [],
    };
    try {
      if (contentType?.startsWith('multipart/form-data')) {
        // Node's built-in multipart parser (undici), as proved in chat-fakes.md: no busboy needed.
        const form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
        request.fields = {};
        for (const [field, value] of form) {
          if (typeof value === 'string') request.fields[field] = value;
          else {
            const bytes = Buffer.from(await value.arrayBuffer());
            request.files.push({ field, filename: value.name, contentType: value.type, bytes });
          }
        }
        const payload = request.fields.payload_json;
        request.json = payload === undefined ? null : JSON.parse(payload);
      } else if (body.length > 0) {
        request.json = JSON.parse(body.toString('utf8'));
      }
    } catch {
      return null;
    }
    return request;
  }

  #send(res: ServerResponse, reply: Reply): void {
    if (reply.bytes !== undefined) {
      res.writeHead(reply.status, { 'content-type': reply.bytes.contentType }).end(reply.bytes.data);
    } else if (reply.status === 204 || reply.body === undefined) {
      res.writeHead(reply.status).end();
    } else {
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
    }
  }

  #gatewayBot(): Reply {
    return {
      status: 200,
      body: {
        url: this.#advertisedGatewayUrl ?? this.gatewayUrl,
        shards: 1,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
      },
    };
  }

  #putCommands(request: ParsedRequest, app: string, guildId: string | null): Reply {
    if (app !== this.applicationId) return apiError(403, RESTJSONErrorCodes.MissingAccess, 'Missing Access');
    if (guildId !== null && guildId !== this.guildId) return apiError(404, 10004, 'Unknown Guild');
    if (!Array.isArray(request.json)) return invalidFormBody('_root', 'Expected an array of commands.');
    const previous = guildId === null ? this.commands.global : (this.commands.guild.get(guildId) ?? []);
    const stored: Wire[] = [];
    for (const [index, raw] of (request.json as unknown[]).entries()) {
      const command = asWire(raw);
      const problem = this.#commandProblem(command);
      if (problem !== null) return invalidFormBody(String(index), problem);
      const old = previous.find((c) => c.name === command.name);
      stored.push({
        type: 1,
        default_member_permissions: null,
        ...command,
        id: old?.id ?? this.#snowflake(),
        application_id: this.applicationId,
        version: this.#snowflake(),
        ...(guildId === null ? {} : { guild_id: guildId }),
      });
    }
    if (guildId === null) this.commands.global.splice(0, Infinity, ...stored);
    else this.commands.guild.set(guildId, stored);
    return { status: 200, body: stored };
  }

  #listCommands(app: string, guildId: string | null): Reply {
    if (app !== this.applicationId) return apiError(403, RESTJSONErrorCodes.MissingAccess, 'Missing Access');
    return { status: 200, body: guildId === null ? this.commands.global : (this.commands.guild.get(guildId) ?? []) };
  }

  /** The checks Discord applies to a chat-input command, so a bad definition fails here as it would in production. */
  #commandProblem(command: Wire): string | null {
    const name = command.name;
    if (typeof name !== 'string' || !/^[-_\p{Ll}\p{N}]{1,32}$/u.test(name))
      return `Invalid command name ${String(name)}.`;
    const description = command.description;
    if (typeof description !== 'string' || description.length < 1 || description.length > 100) {
      return `Command ${name}: description must be 1-100 characters.`;
    }
    const options = (command.options ?? []) as Wire[];
    let optionalSeen = false;
    for (const option of options) {
      if (typeof option.name !== 'string' || !/^[-_\p{Ll}\p{N}]{1,32}$/u.test(option.name)) {
        return `Command ${name}: invalid option name ${String(option.name)}.`;
      }
      if (typeof option.description !== 'string' || option.description.length < 1 || option.description.length > 100) {
        return `Command ${name}, option ${option.name}: description must be 1-100 characters.`;
      }
      if (option.required === true && optionalSeen)
        return 'Required options must be placed before non-required options';
      if (option.required !== true) optionalSeen = true;
      if (Array.isArray(option.choices) && option.choices.length > 25)
        return `Option ${option.name}: at most 25 choices.`;
    }
    return null;
  }

  async #callback(request: ParsedRequest, id: string, token: string): Promise<Reply> {
    const interaction = this.#interactionsByToken.get(token);
    if (interaction === undefined || interaction.id !== id) {
      return apiError(404, RESTJSONErrorCodes.UnknownInteraction, 'Unknown interaction');
    }
    if (interaction.responseType !== null) {
      return apiError(
        400,
        RESTJSONErrorCodes.InteractionHasAlreadyBeenAcknowledged,
        'Interaction has already been acknowledged.',
      );
    }
    if (Date.now() - interaction.dispatchedAt >= this.settings.deadlineMs) {
      return apiError(404, RESTJSONErrorCodes.UnknownInteraction, 'Unknown interaction');
    }
    const body = asWire(request.json);
    const data = asWire(body.data);
    const type = body.type;
    const invalid = this.#payloadProblem(data, request.files);
    if (invalid !== null) return invalid;
    const extra = this.#interactionMessageFields(interaction);
    let message: Wire | undefined;
    switch (type) {
      case InteractionResponseType.ChannelMessageWithSource:
        message = this.#createMessage(interaction.channelId, data, request.files, extra);
        interaction.originalMessageId = message.id as string;
        break;
      case InteractionResponseType.DeferredChannelMessageWithSource: {
        const flags = (Number(data.flags ?? 0) & MessageFlags.Ephemeral) | MessageFlags.Loading;
        message = this.#createMessage(interaction.channelId, { flags }, [], extra);
        interaction.originalMessageId = message.id as string;
        break;
      }
      case InteractionResponseType.DeferredMessageUpdate:
      case InteractionResponseType.UpdateMessage:
        if (interaction.componentMessageId === null) {
          return invalidFormBody('type', 'Update responses are only valid for component interactions.');
        }
        interaction.originalMessageId = interaction.componentMessageId;
        if (type === InteractionResponseType.UpdateMessage) {
          message = this.#editMessage(this.messages.get(interaction.componentMessageId)!, data, request.files);
        }
        break;
      case InteractionResponseType.Modal:
        break;
      default:
        return invalidFormBody('type', `Unsupported interaction response type ${String(type)}.`);
    }
    interaction.responseType = type;
    if (interaction.originalMessageId !== null) interaction.messageIds.add(interaction.originalMessageId);
    if (request.query.with_response !== 'true') return { status: 204 };
    const original =
      interaction.originalMessageId === null ? undefined : this.messages.get(interaction.originalMessageId);
    return {
      status: 200,
      body: {
        interaction: {
          id: interaction.id,
          type: interaction.kind === 'command' ? InteractionType.ApplicationCommand : InteractionType.MessageComponent,
          ...(original === undefined
            ? {}
            : {
                response_message_id: original.id,
                response_message_loading: (Number(original.flags) & MessageFlags.Loading) !== 0,
                response_message_ephemeral: (Number(original.flags) & MessageFlags.Ephemeral) !== 0,
              }),
        },
        resource: { type, ...(message === undefined ? {} : { message }) },
      },
    };
  }

  #webhookInteraction(app: string, token: string): InteractionState | Reply {
    const interaction = this.#interactionsByToken.get(token);
    if (app !== this.applicationId || interaction === undefined || interaction.responseType === null) {
      return apiError(404, RESTJSONErrorCodes.UnknownWebhook, 'Unknown Webhook');
    }
    if (Date.now() - interaction.dispatchedAt > this.settings.interactionTokenLifetimeMs) {
      return apiError(401, RESTJSONErrorCodes.InvalidWebhookToken, 'Invalid Webhook Token');
    }
    return interaction;
  }

  #followUp(request: ParsedRequest, app: string, token: string): Reply {
    const interaction = this.#webhookInteraction(app, token);
    if ('status' in interaction) return interaction;
    const payload = asWire(request.json);
    const invalid = this.#payloadProblem(payload, request.files);
    if (invalid !== null) return invalid;
    const message = this.#createMessage(
      interaction.channelId,
      payload,
      request.files,
      this.#interactionMessageFields(interaction),
    );
    interaction.messageIds.add(message.id as string);
    return request.query.wait === 'true' ? { status: 200, body: message } : { status: 204 };
  }

  #webhookMessage(request: ParsedRequest, [app, token, messageRef]: string[]): Reply {
    const interaction = this.#webhookInteraction(app!, token!);
    if ('status' in interaction) return interaction;
    const messageId = messageRef === '@original' ? interaction.originalMessageId : messageRef!;
    const message = messageId === null ? undefined : this.messages.get(messageId);
    if (message === undefined || !interaction.messageIds.has(messageId!)) {
      return apiError(404, RESTJSONErrorCodes.UnknownMessage, 'Unknown Message');
    }
    if (request.method === 'GET') return { status: 200, body: message };
    if (request.method === 'DELETE') {
      this.messages.delete(messageId!);
      return { status: 204 };
    }
    const payload = asWire(request.json);
    const invalid = this.#payloadProblem(payload, request.files);
    if (invalid !== null) return invalid;
    return { status: 200, body: this.#editMessage(message, payload, request.files) };
  }

  #getChannel(channelId: string): Reply {
    const channel = this.channels.get(channelId);
    return channel === undefined
      ? apiError(404, RESTJSONErrorCodes.UnknownChannel, 'Unknown Channel')
      : { status: 200, body: channel };
  }

  #postMessage(request: ParsedRequest, channelId: string): Reply {
    const channel = this.channels.get(channelId);
    if (channel === undefined) return apiError(404, RESTJSONErrorCodes.UnknownChannel, 'Unknown Channel');
    const payload = asWire(request.json);
    const invalid = this.#payloadProblem(payload, request.files);
    if (invalid !== null) return invalid;
    const type = payload.message_reference === undefined ? MessageType.Default : MessageType.Reply;
    const message = this.#createMessage(channelId, payload, request.files, { type });
    if (channel.type === ChannelType.PublicThread) {
      channel.message_count = Number(channel.message_count) + 1;
      channel.total_message_sent = Number(channel.total_message_sent) + 1;
    }
    return { status: 200, body: message };
  }

  /** A message of `channelId` the bot token may see (ephemeral ones belong to the interaction webhook only). */
  #visibleMessage(channelId: string, messageId: string): Wire | undefined {
    const message = this.messages.get(messageId);
    const visible = message?.channel_id === channelId && (Number(message.flags) & MessageFlags.Ephemeral) === 0;
    return visible ? message : undefined;
  }

  #channelMessage(request: ParsedRequest, channelId: string, messageId: string): Reply {
    const message = this.#visibleMessage(channelId, messageId);
    if (message === undefined) return apiError(404, RESTJSONErrorCodes.UnknownMessage, 'Unknown Message');
    if (request.method === 'GET') return { status: 200, body: message };
    if ((message.author as Wire).id !== this.applicationId) {
      return apiError(
        403,
        RESTJSONErrorCodes.CannotEditMessageAuthoredByAnotherUser,
        'Cannot edit a message authored by another user',
      );
    }
    if (request.method === 'DELETE') {
      this.messages.delete(messageId);
      return { status: 204 };
    }
    const payload = asWire(request.json);
    const invalid = this.#payloadProblem(payload, request.files);
    if (invalid !== null) return invalid;
    return { status: 200, body: this.#editMessage(message, payload, request.files) };
  }

  #startThread(request: ParsedRequest, channelId: string, messageId: string): Reply {
    const channel = this.channels.get(channelId);
    if (channel === undefined) return apiError(404, RESTJSONErrorCodes.UnknownChannel, 'Unknown Channel');
    if (channel.type === ChannelType.DM) {
      return apiError(400, RESTJSONErrorCodes.CannotExecuteActionOnDMChannel, 'Cannot execute action on a DM channel');
    }
    if (channel.type !== ChannelType.GuildText && channel.type !== ChannelType.GuildAnnouncement) {
      return apiError(
        400,
        RESTJSONErrorCodes.CannotExecuteActionOnThisChannelType,
        'Cannot execute action on this channel type',
      );
    }
    const message = this.#visibleMessage(channelId, messageId);
    if (message === undefined) return apiError(404, RESTJSONErrorCodes.UnknownMessage, 'Unknown Message');
    if (!this.settings.allowThreads) return apiError(403, RESTJSONErrorCodes.MissingPermissions, 'Missing Permissions');
    if (message.thread !== undefined) {
      return apiError(
        400,
        RESTJSONErrorCodes.ThreadAlreadyCreatedForMessage,
        'A thread has already been created for this message',
      );
    }
    const body = asWire(request.json);
    if (typeof body.name !== 'string' || body.name.length < 1 || body.name.length > 100) {
      return invalidFormBody('name', 'Must be between 1 and 100 in length.');
    }
    const now = new Date().toISOString();
    // Discord gives a thread started from a message that message's id.
    const thread: Wire = {
      id: messageId,
      type: ChannelType.PublicThread,
      guild_id: channel.guild_id,
      parent_id: channelId,
      owner_id: this.applicationId,
      name: body.name,
      last_message_id: null,
      message_count: 0,
      total_message_sent: 0,
      member_count: 1,
      rate_limit_per_user: body.rate_limit_per_user ?? 0,
      flags: 0,
      thread_metadata: {
        archived: false,
        auto_archive_duration: body.auto_archive_duration ?? 4320,
        archive_timestamp: now,
        locked: false,
        create_timestamp: now,
      },
      member: { id: messageId, user_id: this.applicationId, join_timestamp: now, flags: 0 },
    };
    this.channels.set(messageId, thread);
    message.thread = thread;
    message.flags = Number(message.flags) | MessageFlags.HasThread;
    if (this.#active?.sessionId != null)
      this.#dispatch(GatewayDispatchEvents.ThreadCreate, { ...thread, newly_created: true });
    return { status: 201, body: thread };
  }

  #createDm(request: ParsedRequest): Reply {
    const recipientId = asWire(request.json).recipient_id;
    const user = [...this.#users.values()].find((u) => u.id === recipientId);
    if (user === undefined) return apiError(404, 10013, 'Unknown User');
    return { status: 200, body: this.dmChannel(user) };
  }

  /** Upload limit first (Discord rejects the body before reading it), then the form checks adapters can trip. */
  #payloadProblem(payload: Wire, files: RecordedFile[]): Reply | null {
    const uploadBytes = files.reduce((sum, f) => sum + f.bytes.length, 0);
    if (uploadBytes > this.settings.maxUploadBytes) {
      return apiError(413, RESTJSONErrorCodes.RequestEntityTooLarge, 'Request entity too large');
    }
    if (typeof payload.content === 'string' && payload.content.length > MAX_CONTENT_LENGTH) {
      return invalidFormBody('content', `Must be ${MAX_CONTENT_LENGTH} or fewer in length.`);
    }
    for (const button of collectButtons(payload.components)) {
      if (typeof button.custom_id === 'string' && button.custom_id.length > MAX_CUSTOM_ID_LENGTH) {
        return invalidFormBody('components', `custom_id must be ${MAX_CUSTOM_ID_LENGTH} or fewer in length.`);
      }
    }
    return null;
  }

  // ---- messages ----

  #interactionMessageFields(interaction: InteractionState): Wire {
    return {
      type: interaction.kind === 'command' ? MessageType.ChatInputCommand : MessageType.Default,
      webhook_id: this.applicationId,
      application_id: this.applicationId,
      interaction_metadata: {
        id: interaction.id,
        type: interaction.kind === 'command' ? InteractionType.ApplicationCommand : InteractionType.MessageComponent,
        user: this.#userWire(interaction.user),
        authorizing_integration_owners: {},
      },
    };
  }

  #createMessage(channelId: string, payload: Wire, files: RecordedFile[], extra: Wire): Wire {
    const channel = this.channels.get(channelId);
    const message: Wire = {
      id: this.#snowflake(),
      type: MessageType.Default,
      channel_id: channelId,
      ...(channel?.guild_id === undefined ? {} : { guild_id: channel.guild_id }),
      author: this.botUser,
      content: payload.content ?? '',
      embeds: payload.embeds ?? [],
      components: payload.components ?? [],
      attachments: this.#newAttachments(channelId, payload, files),
      flags: Number(payload.flags ?? 0),
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      pinned: false,
      ...extra,
    };
    this.messages.set(message.id as string, message);
    if (channel !== undefined) channel.last_message_id = message.id;
    return message;
  }

  /** Applies an edit the way Discord does: given keys replace, `attachments` lists the ones to keep plus new files. */
  #editMessage(message: Wire, payload: Wire, files: RecordedFile[]): Wire {
    for (const key of ['content', 'embeds', 'components'] as const) {
      if (key in payload) message[key] = payload[key] ?? (key === 'content' ? '' : []);
    }
    const existing = message.attachments as Wire[];
    const kept = Array.isArray(payload.attachments)
      ? existing.filter((a) => (payload.attachments as Wire[]).some((k) => k.id === a.id))
      : existing;
    message.attachments = [...kept, ...this.#newAttachments(message.channel_id as string, payload, files)];
    message.flags = Number(message.flags) & ~MessageFlags.Loading;
    message.edited_timestamp = new Date().toISOString();
    return message;
  }

  #newAttachments(channelId: string, payload: Wire, files: RecordedFile[]): Wire[] {
    const described = Array.isArray(payload.attachments) ? (payload.attachments as Wire[]) : [];
    return files.map((file, index) => {
      const fileIndex = /^files\[(\d+)\]$/.exec(file.field)?.[1] ?? String(index);
      const meta = described.find((a) => String(a.id) === fileIndex) ?? {};
      const id = this.#snowflake();
      const filename = typeof meta.filename === 'string' ? meta.filename : file.filename;
      this.#attachments.set(id, file);
      const url = `http://127.0.0.1:${this.#port}/attachments/${channelId}/${id}/${encodeURIComponent(filename)}`;
      return {
        id,
        filename,
        size: file.bytes.length,
        url,
        proxy_url: url,
        content_type: file.contentType,
        ...(typeof meta.description === 'string' ? { description: meta.description } : {}),
      };
    });
  }

  // ---- interactions ----

  #findCommand(name: string, dm: boolean): Wire {
    const guildCommands = dm ? [] : (this.commands.guild.get(this.guildId) ?? []);
    const command = [...guildCommands, ...this.commands.global].find((c) => c.name === name);
    if (command === undefined) {
      const known = [...guildCommands, ...this.commands.global].map((c) => `/${String(c.name)}`).join(', ') || 'none';
      throw new Error(
        `sendSlashCommand: /${name} is not registered ${dm ? 'globally (DMs see only global commands)' : 'for the guild or globally'}; registered: ${known}`,
      );
    }
    const contexts = command.contexts as number[] | null | undefined;
    const allowedInDm = Array.isArray(contexts)
      ? contexts.includes(InteractionContextType.BotDM)
      : command.dm_permission !== false;
    if (dm && !allowedInDm)
      throw new Error(`sendSlashCommand: /${name} is not available in DMs (contexts/dm_permission)`);
    return command;
  }

  /** Builds `data.options` from plain values, typed and checked against the registered definition as Discord does. */
  #commandOptions(command: Wire, values: Record<string, string | number | boolean>): Wire[] {
    const definitions = (command.options ?? []) as Wire[];
    for (const definition of definitions) {
      if (definition.required === true && !(String(definition.name) in values)) {
        throw new Error(`sendSlashCommand: /${String(command.name)} requires option ${String(definition.name)}`);
      }
    }
    return Object.entries(values).map(([name, value]) => {
      const definition = definitions.find((d) => d.name === name);
      if (definition === undefined) {
        const known = definitions.map((d) => String(d.name)).join(', ');
        throw new Error(`sendSlashCommand: /${String(command.name)} has no option ${name} (it has: ${known})`);
      }
      const type = definition.type as ApplicationCommandOptionType;
      const typeOk =
        (type === ApplicationCommandOptionType.String && typeof value === 'string') ||
        (type === ApplicationCommandOptionType.Integer && Number.isInteger(value)) ||
        (type === ApplicationCommandOptionType.Number && typeof value === 'number') ||
        (type === ApplicationCommandOptionType.Boolean && typeof value === 'boolean');
      if (!typeOk)
        throw new Error(
          `sendSlashCommand: option ${name} has type ${type}; Discord's client would not send ${JSON.stringify(value)}`,
        );
      const choices = definition.choices as Wire[] | undefined;
      if (choices !== undefined && !choices.some((c) => c.value === value)) {
        throw new Error(
          `sendSlashCommand: option ${name} only offers ${choices.map((c) => JSON.stringify(c.value)).join(', ')}`,
        );
      }
      const outOfRange =
        (typeof value === 'number' &&
          ((typeof definition.min_value === 'number' && value < definition.min_value) ||
            (typeof definition.max_value === 'number' && value > definition.max_value))) ||
        (typeof value === 'string' &&
          ((typeof definition.min_length === 'number' && value.length < definition.min_length) ||
            (typeof definition.max_length === 'number' && value.length > definition.max_length)));
      if (outOfRange)
        throw new Error(
          `sendSlashCommand: Discord's client would refuse ${name}=${JSON.stringify(value)} (limits of the definition)`,
        );
      return { name, type, value };
    });
  }

  #newInteraction(kind: 'command' | 'button', channel: Wire, user: FakeUser): InteractionState {
    const interaction: InteractionState = {
      id: this.#snowflake(),
      token: `aW50ZXJhY3Rpb24.${randomBytes(48).toString('base64url')}`,
      kind,
      channelId: channel.id as string,
      guildId: channel.type === ChannelType.DM ? null : (channel.guild_id as string),
      user,
      dispatchedAt: Date.now(),
      responseType: null,
      originalMessageId: null,
      componentMessageId: null,
      messageIds: new Set(),
    };
    this.interactions.set(interaction.id, interaction);
    this.#interactionsByToken.set(interaction.token, interaction);
    return interaction;
  }

  #appPermissions(): bigint {
    return this.settings.allowThreads
      ? BOT_CHANNEL_PERMISSIONS
      : BOT_CHANNEL_PERMISSIONS & ~PermissionFlagsBits.CreatePublicThreads;
  }

  #interactionEnvelope(
    interaction: FakeInteraction,
    type: InteractionType,
    channel: Wire,
    user: FakeUser,
    locale: string | undefined,
  ): Wire {
    const inGuild = interaction.guildId !== null;
    return {
      id: interaction.id,
      application_id: this.applicationId,
      type,
      token: interaction.token,
      version: 1,
      locale: locale ?? 'en-US',
      app_permissions: String(this.#appPermissions()),
      entitlements: [],
      attachment_size_limit: this.settings.maxUploadBytes,
      channel,
      channel_id: channel.id,
      context: inGuild ? InteractionContextType.Guild : InteractionContextType.BotDM,
      ...(inGuild
        ? {
            guild_id: interaction.guildId,
            guild: { id: interaction.guildId, locale: 'en-US', features: [] },
            guild_locale: 'en-US',
            authorizing_integration_owners: { '0': interaction.guildId },
            member: {
              user: this.#userWire(user),
              roles: [],
              permissions: String(user.permissions),
              joined_at: new Date(0).toISOString(),
              nick: null,
              avatar: null,
              premium_since: null,
              deaf: false,
              mute: false,
              pending: false,
              flags: 0,
              communication_disabled_until: null,
            },
          }
        : { user: this.#userWire(user), authorizing_integration_owners: { '0': this.guildId } }),
    };
  }

  #userWire(user: FakeUser): Wire {
    return { id: user.id, username: user.username, discriminator: '0', global_name: user.username, avatar: null };
  }

  #channelOrThrow(channelId: string): Wire {
    const channel = this.channels.get(channelId);
    if (channel === undefined) throw new Error(`The fake has no channel ${channelId}`);
    return channel;
  }

  // ---- gateway ----

  #onGatewayConnection(ws: WebSocket, req: IncomingMessage): void {
    const connection: Connection = { number: ++this.#nextConnection, ws, sessionId: null, seq: 0 };
    const query = Object.fromEntries(new URL(req.url ?? '/', 'http://127.0.0.1').searchParams);
    this.gateway.push({ kind: 'connect', connection: connection.number, query });
    ws.on('message', (data) => this.#onGatewayMessage(connection, data));
    ws.on('close', (code) => {
      if (this.#active === connection) this.#active = null;
      this.gateway.push({ kind: 'close', connection: connection.number, code });
    });
    if (query.compress !== undefined) {
      // The fake speaks plain JSON text frames only; zlib-sync must stay out of the test install (chat-fakes.md).
      ws.close(4000, `fake: compress=${query.compress} is not supported; uninstall zlib-sync`);
      return;
    }
    this.#sendOp(ws, GatewayOpcodes.Hello, { heartbeat_interval: this.#heartbeatIntervalMs });
  }

  #onGatewayMessage(connection: Connection, data: RawData): void {
    const frame = JSON.parse(data.toString()) as { op: number; d: unknown };
    const d = asWire(frame.d);
    switch (frame.op) {
      case GatewayOpcodes.Heartbeat:
        this.gateway.push({ kind: 'heartbeat', connection: connection.number });
        this.#sendOp(connection.ws, GatewayOpcodes.HeartbeatAck, null);
        break;
      case GatewayOpcodes.Identify:
        this.gateway.push({ kind: 'identify', connection: connection.number, payload: d });
        if (d.token !== this.token) {
          connection.ws.close(4004, 'Authentication failed.');
          return;
        }
        connection.sessionId = randomBytes(16).toString('hex');
        this.#sessions.add(connection.sessionId);
        this.#active = connection;
        this.#dispatch(GatewayDispatchEvents.Ready, {
          v: 10,
          user: { ...this.botUser, flags: 0, verified: true, mfa_enabled: false },
          guilds: [{ id: this.guildId, unavailable: true }],
          session_id: connection.sessionId,
          resume_gateway_url: this.gatewayUrl,
          shard: [0, 1],
          application: { id: this.applicationId, flags: 0 },
          user_settings: {},
        });
        this.#dispatch(GatewayDispatchEvents.GuildCreate, this.#guildCreate());
        break;
      case GatewayOpcodes.Resume:
        this.gateway.push({ kind: 'resume', connection: connection.number, payload: d });
        if (d.token !== this.token || !this.#sessions.has(String(d.session_id))) {
          this.#sendOp(connection.ws, GatewayOpcodes.InvalidSession, false);
          return;
        }
        connection.sessionId = String(d.session_id);
        connection.seq = Number(d.seq);
        this.#active = connection;
        this.#dispatch(GatewayDispatchEvents.Resumed, {});
        break;
      default:
        break;
    }
  }

  #guildCreate(): Wire {
    const botRoleId = this.#snowflake();
    return {
      id: this.guildId,
      name: 'Fake Guild',
      icon: null,
      splash: null,
      discovery_splash: null,
      banner: null,
      description: null,
      owner_id: this.user('owner').id,
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      mfa_level: 0,
      nsfw_level: 0,
      premium_tier: 0,
      premium_progress_bar_enabled: false,
      preferred_locale: 'en-US',
      system_channel_id: null,
      system_channel_flags: 0,
      rules_channel_id: null,
      public_updates_channel_id: null,
      safety_alerts_channel_id: null,
      vanity_url_code: null,
      application_id: null,
      features: [],
      joined_at: new Date().toISOString(),
      large: false,
      unavailable: false,
      member_count: 2,
      max_members: 500_000,
      roles: [
        {
          id: this.guildId,
          name: '@everyone',
          permissions: String(MEMBER_PERMISSIONS),
          position: 0,
          color: 0,
          hoist: false,
          managed: false,
          mentionable: false,
          flags: 0,
        },
        {
          id: botRoleId,
          name: 't2v-bot',
          permissions: String(this.#appPermissions()),
          position: 1,
          color: 0,
          hoist: false,
          managed: true,
          mentionable: false,
          flags: 0,
          tags: { bot_id: this.applicationId },
        },
      ],
      // The bot's own member, so `guild.members.me` and `channel.permissionsFor(me)` work without a fetch.
      members: [
        {
          user: this.botUser,
          roles: [botRoleId],
          joined_at: new Date().toISOString(),
          deaf: false,
          mute: false,
          flags: 0,
        },
      ],
      channels: [...this.channels.values()].filter(
        (c) => c.guild_id === this.guildId && c.type === ChannelType.GuildText,
      ),
      threads: [],
      emojis: [],
      stickers: [],
      presences: [],
      voice_states: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }

  #dispatchInteraction(interaction: FakeInteraction, payload: Wire): void {
    this.#dispatched.set(interaction.id, structuredClone(payload));
    this.#dispatch(GatewayDispatchEvents.InteractionCreate, payload);
  }

  #sendOp(ws: WebSocket, op: GatewayOpcodes, d: unknown): void {
    ws.send(JSON.stringify({ op, d }));
  }

  #dispatch(t: GatewayDispatchEvents, d: Wire): void {
    const connection = this.#active;
    if (connection === null || connection.sessionId === null) {
      throw new Error(
        'The fake has no identified gateway session: wait for the client to be ready (Events.ClientReady) first',
      );
    }
    connection.seq += 1;
    const payload = { op: GatewayOpcodes.Dispatch, t, s: connection.seq, d };
    connection.ws.send(JSON.stringify(payload));
    this.gateway.push({ kind: 'dispatch', connection: connection.number, payload: { t, s: connection.seq, d } });
  }

  #snowflake(): string {
    const ms = BigInt(Date.now()) - DISCORD_EPOCH;
    return String((ms << 22n) | BigInt(this.#nextSnowflake++ % 4096));
  }
}

/** Matches a recorded request by method and path (exact, or a pattern): `fake.waitFor(isRequest('GET', '/gateway/bot'))`. */
export function isRequest(method: string, path: string | RegExp): (r: DiscordRequest) => boolean {
  return (r) => r.method === method && (typeof path === 'string' ? r.path === path : path.test(r.path));
}

/** Starts the fake on an ephemeral 127.0.0.1 port. Point discord.js at it with `rest.api = fake.restApi`. */
export async function startFakeDiscord(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  const fake = new FakeDiscord(options, createServer());
  await fake.listen();
  return fake;
}
