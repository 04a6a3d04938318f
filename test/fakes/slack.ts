// A fake Slack on 127.0.0.1 for driving the real Bolt app, following docs/chat-fakes.md:
// - the Web API (`POST /api/<method>`, form-encoded or JSON) with the methods the bot uses, token checks included;
// - the files.uploadV2 flow: files.getUploadURLExternal -> bytes POSTed to the fake's upload_url ->
//   files.completeUploadExternal;
// - response_url capture for respond();
// - signed deliveries to a Bolt HTTP receiver (events, slash commands, `payload=` block actions), with forgeries, and
//   Slack's retries of them (the same body signed anew, with X-Slack-Retry-Num and X-Slack-Retry-Reason);
// - Socket Mode: apps.connections.open -> ws URL -> hello -> envelopes, with the client's acks recorded, and retried
//   envelopes (a new envelope id, the same payload, retry_attempt and retry_reason).
// Everything it sees goes into one log that tests can wait on.
// @see https://api.slack.com/docs/verifying-requests-from-slack
// @see https://docs.slack.dev/apis/events-api/using-socket-mode
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { closeServer, listenOnLoopback, readBody } from './loopback-http.js';
import { Recorder } from './recorder.js';

export type Wire = Record<string, unknown>;

export interface FakeSlackOptions {
  botToken?: string;
  appToken?: string;
  signingSecret?: string;
}

export interface SlackApiCall {
  kind: 'call';
  seq: number;
  /** Web API method, `chat.postMessage`. */
  method: string;
  /** Authorization header as sent, `Bearer xoxb-…`; null when absent. */
  auth: string | null;
  contentType: string | null;
  /** Arguments: a JSON body as is; form fields as strings, except JSON-valued ones (`blocks`, `files`, …) parsed. */
  params: Wire;
  response: Wire;
}

export interface SlackUpload {
  kind: 'upload';
  fileId: string;
  /** Filename and length declared to files.getUploadURLExternal. */
  filename: string;
  declaredLength: number;
  auth: string | null;
  /** Multipart field that carried the bytes (null for a raw body). */
  field: string | null;
  bytes: Buffer;
}

export interface SlackResponsePost {
  kind: 'response';
  /** Id in the response_url the fake handed out (returned by deliverSlashCommand / deliverBlockAction). */
  responseId: string;
  body: Wire;
}

export interface SocketFrame {
  kind: 'socket';
  event: 'open' | 'envelope' | 'ack' | 'close';
  connection: number;
  envelopeId?: string;
  /** Envelope type (`events_api`, `interactive`, `slash_commands`) on `envelope`. */
  type?: string;
  /** Envelope payload, or the ack's `payload`. */
  payload?: unknown;
  code?: number;
}

export type SlackRecord = SlackApiCall | SlackUpload | SlackResponsePost | SocketFrame;

export interface SlackMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  user: string;
  bot_id?: string;
  text: string;
  blocks?: unknown;
  files?: Wire[];
}

export type Forgery = 'wrong-secret' | 'tampered-body' | 'no-signature';

export interface DeliveryOptions {
  /** Receiver URL; default `fake.eventsUrl`. */
  url?: string;
  /** `X-Slack-Request-Timestamp` in Unix seconds; default now. */
  timestamp?: number;
  /** Send a request that must fail verification. */
  forge?: Forgery;
}

/** Why Slack sends a delivery again: `X-Slack-Retry-Num` (1 to 3) and `X-Slack-Retry-Reason`. */
export interface SlackRetry {
  num: number;
  /** `http_timeout` (no answer within 3 s), `http_error`, `connection_failed`, … */
  reason: string;
}

export interface Delivery {
  status: number;
  body: string;
  /** The Retry-After header of the answer, if any. */
  retryAfter: string | null;
  /** What was sent, for retry(). */
  request: { body: string; contentType: string };
}

export interface SlashCommandInput {
  command?: string;
  text: string;
  userId?: string;
  channelId?: string;
}

export interface BlockActionInput {
  actionId: string;
  value?: string;
  userId?: string;
  /** The message carrying the button. */
  message: { channel: string; ts: string };
  blockId?: string;
}

const JSON_PARAMS = new Set(['blocks', 'attachments', 'files', 'metadata']);

function sign(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}


export class FakeSlack {
  readonly botToken: string;
  readonly appToken: string;
  readonly signingSecret: string;
  readonly teamId = 'T0FAKE';
  readonly appId = 'A0T2VBOT';
  readonly botUserId = 'U0T2VBOT';
  readonly botId = 'B0T2VBOT';
  /** A public channel the bot is a member of. */
  readonly channelId = 'C0VIDEOS';
  /** Where signed deliveries go unless a call passes `url`: Bolt's `http://127.0.0.1:PORT/slack/events`. */
  eventsUrl: string | undefined;
  readonly log = new Recorder<SlackRecord>(describe);
  readonly messages: SlackMessage[] = [];

  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #files = new Map<string, { filename: string; length: number; uploaded: boolean; title?: string }>();
  readonly #responseUses = new Map<string, number>();
  readonly #tickets = new Set<string>();
  readonly #failures = new Map<string, string[]>();
  readonly #holds = new Map<string, { arrive: () => void; released: Promise<void> }[]>();
  readonly #sockets = new Set<WebSocket>();
  #port = 0;
  #counter = 0;
  #connections = 0;

  constructor(options: FakeSlackOptions, server: Server) {
    this.botToken = options.botToken ?? `xoxb-1111-2222-${randomUUID().replaceAll('-', '')}`;
    this.appToken = options.appToken ?? `xapp-1-${this.appId}-3333-${randomUUID().replaceAll('-', '')}`;
    this.signingSecret = options.signingSecret ?? randomUUID().replaceAll('-', '');
    this.#server = server;
    this.#wss = new WebSocketServer({ noServer: true });
    server.on('request', (req, res) => void this.#onHttp(req, res));
    server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const ticket = url.searchParams.get('ticket');
      if (url.pathname !== '/link/' || ticket === null || !this.#tickets.delete(ticket)) {
        socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onSocket(ws));
    });
  }

  /** Web API base for `clientOptions.slackApiUrl`: `http://127.0.0.1:PORT/api/`. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.#port}/api/`;
  }

  get calls(): SlackApiCall[] {
    return this.log.items.filter((r): r is SlackApiCall => r.kind === 'call');
  }

  get uploads(): SlackUpload[] {
    return this.log.items.filter((r): r is SlackUpload => r.kind === 'upload');
  }

  /** Open Socket Mode connections. */
  get socketConnections(): number {
    return this.#sockets.size;
  }

  /** Stable fake user id for a name: `user('alice')` is `U0ALICE`. */
  user(name: string): string {
    return `U0${name.toUpperCase()}`;
  }

  waitFor<S extends SlackRecord>(pred: (r: SlackRecord) => r is S, timeoutMs?: number): Promise<S>;
  waitFor(pred: (r: SlackRecord) => boolean, timeoutMs?: number): Promise<SlackRecord>;
  waitFor(pred: (r: SlackRecord) => boolean, timeoutMs?: number): Promise<SlackRecord> {
    return this.log.waitFor(pred, timeoutMs);
  }

  /** The first post to a response_url (the one with `responseId`, if given), already made or still to come. */
  waitForResponse(responseId?: string, timeoutMs?: number): Promise<SlackResponsePost> {
    return this.log.waitFor(
      (r): r is SlackResponsePost => r.kind === 'response' && (responseId === undefined || r.responseId === responseId),
      timeoutMs,
    );
  }

  /** The first call of `method` (matching `pred` on its params), already made or still to come. */
  waitForCall(method: string, pred: (params: Wire) => boolean = () => true, timeoutMs?: number): Promise<SlackApiCall> {
    return this.log.waitFor(
      (r): r is SlackApiCall => r.kind === 'call' && r.method === method && pred(r.params),
      timeoutMs,
    );
  }

  /**
   * The next call of `method` waits for `release()` before it is answered (a slow Slack); `arrived` resolves when that
   * call comes in.
   */
  holdNext(method: string): { arrived: Promise<void>; release: () => void } {
    let arrive!: () => void;
    let release!: () => void;
    const arrived = new Promise<void>((resolve) => (arrive = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.#holds.set(method, [...(this.#holds.get(method) ?? []), { arrive, released }]);
    return { arrived, release };
  }

  /** The next call of `method` answers `{ok: false, error}`, as Slack does for `not_in_channel` and the like. */
  failNext(method: string, error: string): void {
    this.#failures.set(method, [...(this.#failures.get(method) ?? []), error]);
  }

  // ---- signed deliveries to a Bolt HTTP receiver ----

  /**
   * POSTs `body` signed with the signing secret (or forged), as Slack does for every request to the app; with `retry`,
   * marked as Slack marks a retry.
   */
  async deliver(body: string, contentType: string, options: DeliveryOptions = {}, retry?: SlackRetry): Promise<Delivery> {
    const url = options.url ?? this.eventsUrl;
    if (url === undefined) throw new Error('FakeSlack: set fake.eventsUrl (Bolt receiver URL) or pass options.url');
    const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = { 'content-type': contentType };
    if (options.forge !== 'no-signature') {
      const secret = options.forge === 'wrong-secret' ? `${this.signingSecret}-forged` : this.signingSecret;
      headers['x-slack-request-timestamp'] = String(timestamp);
      headers['x-slack-signature'] = sign(secret, timestamp, body);
    }
    if (retry !== undefined) {
      headers['x-slack-retry-num'] = String(retry.num);
      headers['x-slack-retry-reason'] = retry.reason;
    }
    const sent = options.forge === 'tampered-body' ? body.replace(/.$/, (c) => (c === ' ' ? '\t' : `${c} `)) : body;
    const response = await fetch(url, { method: 'POST', headers, body: sent });
    return {
      status: response.status,
      body: await response.text(),
      retryAfter: response.headers.get('retry-after'),
      request: { body, contentType },
    };
  }

  /**
   * Sends a delivery again as Slack retries one it thinks was not acknowledged in time: the same body, signed with the
   * current timestamp, with X-Slack-Retry-Num and X-Slack-Retry-Reason. Slack does not wait for the first answer: an
   * http_timeout retry goes out 3 s after the first try, whether or not that one is still being handled.
   */
  retry(delivery: Delivery, retry: SlackRetry = { num: 1, reason: 'http_timeout' }, options?: DeliveryOptions): Promise<Delivery> {
    return this.deliver(delivery.request.body, delivery.request.contentType, options, retry);
  }

  deliverUrlVerification(challenge: string, options?: DeliveryOptions): Promise<Delivery> {
    return this.deliver(
      JSON.stringify({ token: 'legacy-verification', challenge, type: 'url_verification' }),
      'application/json',
      options,
    );
  }

  /**
   * Delivers an Events API `event_callback`. An `app_mention` or `message` gets a `ts` if it has none and is stored as
   * a channel message, so replies can thread on it. Resolves with the delivery and the event as sent.
   */
  async deliverEvent(event: Wire, options?: DeliveryOptions): Promise<Delivery & { event: Wire }> {
    const body = this.#eventCallback(event);
    const delivery = await this.deliver(JSON.stringify(body), 'application/json', options);
    return { ...delivery, event: body.event as Wire };
  }

  /** Delivers a form-encoded slash command with a response_url on the fake. */
  async deliverSlashCommand(
    input: SlashCommandInput,
    options?: DeliveryOptions,
  ): Promise<Delivery & { responseId: string }> {
    const { fields, responseId } = this.#slashCommand(input);
    const delivery = await this.deliverForm(fields, options);
    return { ...delivery, responseId };
  }

  /** Delivers a `block_actions` click as `payload=<json>`, the way Slack posts interactivity. */
  async deliverBlockAction(
    input: BlockActionInput,
    options?: DeliveryOptions,
  ): Promise<Delivery & { responseId: string }> {
    const { payload, responseId } = this.#blockActions(input);
    const delivery = await this.deliverForm({ payload: JSON.stringify(payload) }, options);
    return { ...delivery, responseId };
  }

  deliverForm(fields: Record<string, string>, options?: DeliveryOptions): Promise<Delivery> {
    return this.deliver(new URLSearchParams(fields).toString(), 'application/x-www-form-urlencoded', options);
  }

  // ---- Socket Mode ----

  /**
   * Sends an envelope to the connected Socket Mode client and resolves with its ack frame's payload. A retry is a new
   * envelope (its own id) with the same payload, numbered by `retry_attempt`.
   */
  async sendEnvelope(
    type: 'events_api' | 'interactive' | 'slash_commands',
    payload: Wire,
    retry: { attempt: number; reason: string } = { attempt: 0, reason: '' },
  ): Promise<SocketFrame> {
    const [ws] = this.#sockets;
    if (ws === undefined) throw new Error('FakeSlack: no Socket Mode client is connected');
    const envelopeId = randomUUID();
    const connection = (ws as WebSocket & { connection: number }).connection;
    ws.send(
      JSON.stringify({
        envelope_id: envelopeId,
        type,
        payload,
        accepts_response_payload: type !== 'events_api',
        retry_attempt: retry.attempt,
        retry_reason: retry.reason,
      }),
    );
    this.log.push({ kind: 'socket', event: 'envelope', connection, envelopeId, type, payload });
    return this.log.waitFor(
      (r): r is SocketFrame => r.kind === 'socket' && r.event === 'ack' && r.envelopeId === envelopeId,
    );
  }

  pushEvent(event: Wire): Promise<SocketFrame> {
    return this.sendEnvelope('events_api', this.#eventCallback(event));
  }

  /** Sends the envelope with `envelopeId` again, as Slack retries one whose ack it did not get in time. */
  retryEnvelope(envelopeId: string, retry: { attempt: number; reason: string } = { attempt: 1, reason: 'http_timeout' }): Promise<SocketFrame> {
    const sent = this.log.items.find((r): r is SocketFrame => r.kind === 'socket' && r.event === 'envelope' && r.envelopeId === envelopeId);
    if (sent === undefined) throw new Error(`FakeSlack: no envelope ${envelopeId} was sent`);
    return this.sendEnvelope(sent.type as 'events_api' | 'interactive' | 'slash_commands', sent.payload as Wire, retry);
  }

  pushSlashCommand(input: SlashCommandInput): Promise<SocketFrame> {
    return this.sendEnvelope('slash_commands', this.#slashCommand(input).fields);
  }

  async close(): Promise<void> {
    for (const ws of this.#sockets) ws.terminate();
    await closeServer(this.#server);
  }

  /** @internal */
  async listen(): Promise<void> {
    this.#port = await listenOnLoopback(this.#server);
  }

  // ---- payload builders ----

  #ts(): string {
    this.#counter += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(this.#counter).padStart(6, '0')}`;
  }

  #eventCallback(event: Wire): Wire {
    const ts = typeof event.ts === 'string' ? event.ts : this.#ts();
    const full: Wire = { event_ts: ts, ...event, ts };
    if ((full.type === 'app_mention' || full.type === 'message') && typeof full.channel === 'string') {
      this.messages.push({
        channel: full.channel,
        ts,
        ...(typeof full.thread_ts === 'string' ? { thread_ts: full.thread_ts } : {}),
        user: String(full.user),
        text: String(full.text ?? ''),
      });
    }
    return {
      token: 'legacy-verification',
      team_id: this.teamId,
      api_app_id: this.appId,
      event: full,
      type: 'event_callback',
      event_id: `Ev${String(this.#counter).padStart(8, '0')}`,
      event_time: Math.floor(Date.now() / 1000),
      authorizations: [
        {
          enterprise_id: null,
          team_id: this.teamId,
          user_id: this.botUserId,
          is_bot: true,
          is_enterprise_install: false,
        },
      ],
      is_ext_shared_channel: false,
    };
  }

  /** What every user interaction carries: who (default alice) and a fresh response_url on the fake. */
  #fromUser(userId = this.user('alice')): { url: string; responseId: string; userId: string; userName: string } {
    const responseId = randomUUID();
    this.#responseUses.set(responseId, 0);
    const url = `http://127.0.0.1:${this.#port}/response/${responseId}`;
    return { url, responseId, userId, userName: userId.slice(2).toLowerCase() };
  }

  #slashCommand(input: SlashCommandInput): { fields: Record<string, string>; responseId: string } {
    const { url, responseId, userId, userName } = this.#fromUser(input.userId);
    return {
      responseId,
      fields: {
        token: 'legacy-verification',
        team_id: this.teamId,
        team_domain: 'fake',
        channel_id: input.channelId ?? this.channelId,
        channel_name: 'videos',
        user_id: userId,
        user_name: userName,
        command: input.command ?? '/video',
        text: input.text,
        api_app_id: this.appId,
        is_enterprise_install: 'false',
        response_url: url,
        trigger_id: `${this.#counter}.${Date.now()}.fake`,
      },
    };
  }

  #blockActions(input: BlockActionInput): { payload: Wire; responseId: string } {
    const message = this.messages.find((m) => m.channel === input.message.channel && m.ts === input.message.ts);
    if (message === undefined) throw new Error(`FakeSlack: no message ${input.message.ts} in ${input.message.channel}`);
    const { url, responseId, userId, userName } = this.#fromUser(input.userId);
    return {
      responseId,
      payload: {
        type: 'block_actions',
        user: {
          id: userId,
          username: userName,
          name: userName,
          team_id: this.teamId,
        },
        api_app_id: this.appId,
        token: 'legacy-verification',
        container: {
          type: 'message',
          message_ts: message.ts,
          channel_id: message.channel,
          is_ephemeral: false,
          ...(message.thread_ts === undefined ? {} : { thread_ts: message.thread_ts }),
        },
        trigger_id: `${this.#counter}.${Date.now()}.fake`,
        team: { id: this.teamId, domain: 'fake' },
        enterprise: null,
        is_enterprise_install: false,
        channel: { id: message.channel, name: 'videos' },
        message: { type: 'message', ...message },
        state: { values: {} },
        response_url: url,
        actions: [
          {
            action_id: input.actionId,
            block_id: input.blockId ?? 'actions',
            type: 'button',
            ...(input.value === undefined ? {} : { value: input.value }),
            action_ts: this.#ts(),
          },
        ],
      },
    };
  }

  // ---- HTTP ----

  async #onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const body = await readBody(req);
    const contentType = req.headers['content-type'] ?? null;
    const auth = req.headers.authorization ?? null;
    const api = /^\/api\/([\w.]+)$/.exec(url.pathname);
    const upload = /^\/upload\/(\w+)$/.exec(url.pathname);
    const response = /^\/response\/([\w-]+)$/.exec(url.pathname);
    if (req.method === 'POST' && api !== null) {
      const params = await parseParams(body, contentType);
      const hold = this.#holds.get(api[1]!)?.shift();
      if (hold !== undefined) {
        hold.arrive();
        await hold.released;
      }
      const answer = this.#api(api[1]!, params, auth);
      this.log.push({
        kind: 'call',
        seq: this.calls.length + 1,
        method: api[1]!,
        auth,
        contentType,
        params,
        response: answer,
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    } else if (req.method === 'POST' && upload !== null) {
      const file = this.#files.get(upload[1]!);
      if (file === undefined) {
        res.writeHead(404).end('unknown file');
        return;
      }
      const { field, bytes } = await uploadedBytes(body, contentType);
      file.uploaded = true;
      this.log.push({
        kind: 'upload',
        fileId: upload[1]!,
        filename: file.filename,
        declaredLength: file.length,
        auth,
        field,
        bytes,
      });
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`OK - ${bytes.length}`);
    } else if (req.method === 'POST' && response !== null && this.#responseUses.has(response[1]!)) {
      const uses = this.#responseUses.get(response[1]!)! + 1;
      this.#responseUses.set(response[1]!, uses);
      // Slack allows five uses of a response_url (within 30 minutes).
      if (uses > 5) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('used_url');
        return;
      }
      this.log.push({ kind: 'response', responseId: response[1]!, body: JSON.parse(body.toString('utf8')) as Wire });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  }

  #api(method: string, params: Wire, auth: string | null): Wire {
    const token = auth?.replace(/^Bearer\s+/, '') ?? (typeof params.token === 'string' ? params.token : null);
    const needsAppToken = method === 'apps.connections.open';
    if (token === null || token === '') return { ok: false, error: 'not_authed' };
    const expected = needsAppToken ? this.appToken : this.botToken;
    if (token !== expected) {
      const wrongKind = token === this.appToken || token === this.botToken;
      return { ok: false, error: wrongKind ? 'not_allowed_token_type' : 'invalid_auth' };
    }
    const injected = this.#failures.get(method)?.shift();
    if (injected !== undefined) return { ok: false, error: injected };
    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: 'https://fake.slack.com/',
          team: 'Fake Team',
          user: 't2v-bot',
          team_id: this.teamId,
          user_id: this.botUserId,
          bot_id: this.botId,
          is_enterprise_install: false,
        };
      case 'apps.connections.open': {
        const ticket = randomUUID();
        this.#tickets.add(ticket);
        return { ok: true, url: `ws://127.0.0.1:${this.#port}/link/?ticket=${ticket}&app_id=${this.appId}` };
      }
      case 'chat.postMessage':
        return this.#postMessage(params);
      case 'chat.update':
        return this.#update(params);
      case 'chat.delete':
        return this.#delete(params);
      case 'chat.postEphemeral':
        if (typeof params.channel !== 'string' || typeof params.user !== 'string')
          return { ok: false, error: 'invalid_arguments' };
        return { ok: true, message_ts: this.#ts() };
      case 'conversations.info':
        if (params.channel !== this.channelId) return { ok: false, error: 'channel_not_found' };
        return {
          ok: true,
          channel: {
            id: this.channelId,
            name: 'videos',
            is_channel: true,
            is_private: false,
            is_im: false,
            is_member: true,
          },
        };
      case 'files.getUploadURLExternal':
        return this.#uploadUrl(params);
      case 'files.completeUploadExternal':
        return this.#completeUpload(params);
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  #postMessage(params: Wire): Wire {
    if (params.channel !== this.channelId) return { ok: false, error: 'channel_not_found' };
    if (typeof params.text !== 'string' && params.blocks === undefined) return { ok: false, error: 'no_text' };
    const threadTs = typeof params.thread_ts === 'string' ? params.thread_ts : undefined;
    const message: SlackMessage = {
      channel: params.channel,
      ts: this.#ts(),
      ...(threadTs === undefined ? {} : { thread_ts: threadTs }),
      user: this.botUserId,
      bot_id: this.botId,
      text: typeof params.text === 'string' ? params.text : '',
      ...(params.blocks === undefined ? {} : { blocks: params.blocks }),
    };
    this.messages.push(message);
    return { ok: true, channel: message.channel, ts: message.ts, message: { type: 'message', ...message } };
  }

  #update(params: Wire): Wire {
    const message = this.messages.find((m) => m.channel === params.channel && m.ts === params.ts);
    if (message === undefined) return { ok: false, error: 'message_not_found' };
    if (message.bot_id !== this.botId) return { ok: false, error: 'cant_update_message' };
    if (typeof params.text === 'string') message.text = params.text;
    if (params.blocks !== undefined) message.blocks = params.blocks;
    return {
      ok: true,
      channel: message.channel,
      ts: message.ts,
      text: message.text,
      message: { type: 'message', ...message },
    };
  }

  #delete(params: Wire): Wire {
    const index = this.messages.findIndex((m) => m.channel === params.channel && m.ts === params.ts);
    if (index < 0) return { ok: false, error: 'message_not_found' };
    if (this.messages[index]!.bot_id !== this.botId) return { ok: false, error: 'cant_delete_message' };
    this.messages.splice(index, 1);
    return { ok: true, channel: params.channel, ts: params.ts };
  }

  #uploadUrl(params: Wire): Wire {
    const length = Number(params.length);
    if (typeof params.filename !== 'string' || !Number.isInteger(length) || length <= 0) {
      return { ok: false, error: 'invalid_arguments' };
    }
    this.#counter += 1;
    const fileId = `F${String(this.#counter).padStart(8, '0')}`;
    this.#files.set(fileId, { filename: params.filename, length, uploaded: false });
    return { ok: true, upload_url: `http://127.0.0.1:${this.#port}/upload/${fileId}`, file_id: fileId };
  }

  #completeUpload(params: Wire): Wire {
    if (!Array.isArray(params.files) || params.files.length === 0) return { ok: false, error: 'invalid_arguments' };
    const entries = params.files as { id: string; title?: string }[];
    for (const entry of entries) {
      if (!this.#files.get(entry.id)?.uploaded) return { ok: false, error: 'file_not_found' };
    }
    if (params.channel_id !== undefined && params.channel_id !== this.channelId)
      return { ok: false, error: 'channel_not_found' };
    const files = entries.map((entry) => {
      const file = this.#files.get(entry.id)!;
      file.title = entry.title ?? file.filename;
      return { id: entry.id, name: file.filename, title: file.title, size: file.length };
    });
    if (typeof params.channel_id === 'string') {
      this.messages.push({
        channel: params.channel_id,
        ts: this.#ts(),
        ...(typeof params.thread_ts === 'string' ? { thread_ts: params.thread_ts } : {}),
        user: this.botUserId,
        bot_id: this.botId,
        text: typeof params.initial_comment === 'string' ? params.initial_comment : '',
        files,
      });
    }
    return { ok: true, files };
  }

  // ---- Socket Mode ----

  #onSocket(ws: WebSocket): void {
    const connection = ++this.#connections;
    Object.assign(ws, { connection });
    this.#sockets.add(ws);
    this.log.push({ kind: 'socket', event: 'open', connection });
    ws.on('message', (data: RawData) => {
      const frame = JSON.parse(data.toString()) as { envelope_id?: string; payload?: unknown };
      if (frame.envelope_id !== undefined) {
        this.log.push({
          kind: 'socket',
          event: 'ack',
          connection,
          envelopeId: frame.envelope_id,
          payload: frame.payload,
        });
      }
    });
    ws.on('close', (code) => {
      this.#sockets.delete(ws);
      this.log.push({ kind: 'socket', event: 'close', connection, code });
    });
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: this.#sockets.size,
        debug_info: { host: 'fake-slack', build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: this.appId },
      }),
    );
  }
}

async function parseParams(body: Buffer, contentType: string | null): Promise<Wire> {
  const text = body.toString('utf8');
  if (contentType?.startsWith('application/json')) return text === '' ? {} : (JSON.parse(text) as Wire);
  const params: Wire = {};
  for (const [key, value] of new URLSearchParams(text)) {
    params[key] = JSON_PARAMS.has(key) ? JSON.parse(value) : value;
  }
  return params;
}

async function uploadedBytes(
  body: Buffer,
  contentType: string | null,
): Promise<{ field: string | null; bytes: Buffer }> {
  if (!contentType?.startsWith('multipart/form-data')) return { field: null, bytes: body };
  const form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
  for (const [field, value] of form) {
    if (typeof value !== 'string') return { field, bytes: Buffer.from(await value.arrayBuffer()) };
  }
  return { field: null, bytes: Buffer.alloc(0) };
}

function describe(r: SlackRecord): string {
  switch (r.kind) {
    case 'call':
      return `call ${r.method} -> ${r.response.ok === true ? 'ok' : String(r.response.error)} (auth: ${r.auth?.slice(0, 12) ?? 'none'})`;
    case 'upload':
      return `upload ${r.fileId} ${r.filename} ${r.bytes.length} bytes`;
    case 'response':
      return `response_url ${r.responseId} ${JSON.stringify(r.body).slice(0, 80)}`;
    case 'socket':
      return `socket #${r.connection} ${r.event}${r.type === undefined ? '' : ` ${r.type}`}${r.code === undefined ? '' : ` ${r.code}`}`;
  }
}

/** Starts the fake on an ephemeral 127.0.0.1 port. Point Bolt at it with `slackApiUrl = fake.apiUrl`. */
export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const fake = new FakeSlack(options, createServer());
  await fake.listen();
  return fake;
}
