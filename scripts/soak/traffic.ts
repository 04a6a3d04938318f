// The clients: a steady stream of API submits, Slack app mentions, cancels and re-rolls from several users, sent as
// real clients send them. A request that gets no answer because the service is down (refused connection, reset) or
// answers that it is restarting is sent again once the service is back: the API's with the same Idempotency-Key,
// Slack's as Slack retries an event (the same body, X-Slack-Retry-Num, at most three retries). What the service
// answered is recorded here; the report checks those answers against the database and the fake's records.
import { setTimeout as sleep } from 'node:timers/promises';
import type { FakeSlack } from '../../test/fakes/slack.js';
import type { SeededRandom } from './random.js';
import type { ServiceSet } from './service-set.js';

/** Answers that mean "not now": the request is sent again after the restart. */
const RETRY_CODES = new Set(['videobot_shutting_down', 'videobot_unavailable', 'videobot_internal']);
/** Sends of one API request before the client gives up (each after the service is ready again). */
const MAX_API_SENDS = 8;
/** Slack retries an event three times, then drops it. */
const MAX_SLACK_RETRIES = 3;
const REQUEST_TIMEOUT_MS = 30_000;
/** Share of actions of each kind; the rest are API submits. */
const MENTION_SHARE = 0.3;
const REROLL_SHARE = 0.12;
const CANCEL_SHARE = 0.13;
/**
 * Share of submits and mentions sent as a burst of two to four from one user at once (a script, impatient clicks):
 * tiny jobs render in a fraction of a second, so without bursts nothing would wait in line to be cancelled, and the
 * per-user queue limit would never be met.
 */
const BURST_SHARE = 0.25;

/** The service's final answer to one request (after any retries), or why there was none. */
export interface Answer {
  status: number;
  jobId?: string;
  code?: string;
}

export interface ApiJobRequest {
  kind: 'submit' | 'reroll';
  idempotencyKey: string;
  parentJobId?: string;
  sends: number;
  answer?: Answer;
  gaveUp?: string;
}

export interface SlackMention {
  eventId: string;
  /** The mention's ts: the thread the bot answers in. */
  ts: string;
  user: string;
  sends: number;
  /** The final HTTP status of the delivery (200: acknowledged). */
  status?: number;
  gaveUp?: string;
}

export interface CancelRequest {
  jobId: string;
  sends: number;
  answer?: Answer;
  gaveUp?: string;
}

export interface TrafficRecords {
  apiRequests: ApiJobRequest[];
  mentions: SlackMention[];
  cancels: CancelRequest[];
  /** Answers that made a client send again, by code (`network` for no answer at all). */
  retriedAnswers: Map<string, number>;
}

export interface TrafficOptions {
  set: ServiceSet;
  fake: FakeSlack;
  rng: SeededRandom;
  adminToken: string;
  seconds: number;
  maxJobs: number;
  /** A job's denoising steps are drawn from 2 to this. */
  maxSteps: number;
  apiUsers: string[];
  slackUsers: string[];
}

/** Tiny jobs, so that many finish on two CPU cores: 64x64, 2 to 4 frames, 2 to `maxSteps` steps. */
function tinyJob(rng: SeededRandom, maxSteps: number): { frames: number; steps: number } {
  return { frames: rng.int(2, 4), steps: rng.int(2, maxSteps) };
}

export class Traffic {
  readonly records: TrafficRecords = { apiRequests: [], mentions: [], cancels: [], retriedAnswers: new Map() };
  readonly #o: TrafficOptions;
  readonly #inFlight = new Set<Promise<void>>();
  /** Jobs the service named in its answers and lists: what cancels and re-rolls pick from. */
  readonly #knownJobs: string[] = [];
  #sent = 0;

  constructor(options: TrafficOptions) {
    this.#o = options;
  }

  /** Sends until the time is up or `maxJobs` job requests went out; answers may still be pending (see settle). */
  async send(): Promise<void> {
    const { rng, seconds, maxJobs } = this.#o;
    const deadline = performance.now() + seconds * 1000;
    // Cancels come on top of the job requests; the gap spreads maxJobs job requests over the whole time.
    const meanGapMs = ((seconds * 1000) / maxJobs) * (1 - CANCEL_SHARE);
    while (performance.now() < deadline && this.#sent < maxJobs) {
      await sleep(rng.interval(meanGapMs));
      for (const action of this.#nextActions(maxJobs - this.#sent)) this.#launch(action);
    }
  }

  /** Waits until every request sent has its final answer (retries included) or was given up. */
  async settle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
  }

  #launch(action: Promise<void>): void {
    const tracked = action.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }

  /** The next action, or a burst of them; at most `jobsLeft` job requests. */
  #nextActions(jobsLeft: number): Promise<void>[] {
    const { rng } = this.#o;
    const roll = rng.int(0, 999) / 1000;
    if (roll < CANCEL_SHARE) return [this.#cancel()];
    if (roll < CANCEL_SHARE + REROLL_SHARE && this.#knownJobs.length > 0) {
      this.#sent += 1;
      return [this.#reroll(rng.pick(this.#knownJobs))];
    }
    const slack = roll < CANCEL_SHARE + REROLL_SHARE + MENTION_SHARE;
    const user = rng.pick(slack ? this.#o.slackUsers : this.#o.apiUsers);
    const burst = Math.min(jobsLeft, rng.chance(BURST_SHARE) ? rng.int(2, 4) : 1);
    this.#sent += burst;
    return Array.from({ length: burst }, () => (slack ? this.#mention(user) : this.#submit(user)));
  }

  #submit(user: string): Promise<void> {
    const { rng } = this.#o;
    const request: ApiJobRequest = { kind: 'submit', idempotencyKey: `soak-submit-${this.records.apiRequests.length + 1}`, sends: 0 };
    this.records.apiRequests.push(request);
    const body = {
      user: { platform: 'api', id: user },
      prompt: `soak submit ${this.records.apiRequests.length}`,
      width: 64,
      height: 64,
      ...tinyJob(rng, this.#o.maxSteps),
    };
    return this.#sendJobRequest(request, '/api/v1/jobs', body);
  }

  #reroll(parentJobId: string): Promise<void> {
    const request: ApiJobRequest = { kind: 'reroll', idempotencyKey: `soak-reroll-${this.records.apiRequests.length + 1}`, parentJobId, sends: 0 };
    this.records.apiRequests.push(request);
    // No user in the body: the re-roll is the parent's requester's, and goes where the parent went (a Slack thread).
    return this.#sendJobRequest(request, `/api/v1/jobs/${parentJobId}/reroll`, {});
  }

  async #sendJobRequest(request: ApiJobRequest, path: string, body: object): Promise<void> {
    const result = await this.#untilAnswered(request, () =>
      this.#api('POST', path, body, { 'idempotency-key': request.idempotencyKey }),
    );
    if ('answer' in result) {
      request.answer = result.answer;
      if (result.answer.jobId !== undefined) this.#knownJobs.push(result.answer.jobId);
    } else request.gaveUp = result.gaveUp;
  }

  async #cancel(): Promise<void> {
    const { rng } = this.#o;
    const active = this.#o.set.ready ? await this.#activeJobs() : [];
    const pool = active.length > 0 ? active : this.#knownJobs;
    if (pool.length === 0) return;
    const cancel: CancelRequest = { jobId: rng.pick(pool), sends: 0 };
    this.records.cancels.push(cancel);
    const result = await this.#untilAnswered(cancel, () => this.#api('DELETE', `/api/v1/jobs/${cancel.jobId}`));
    if ('answer' in result) cancel.answer = result.answer;
    else cancel.gaveUp = result.gaveUp;
  }

  /** Waiting and running jobs, as the service lists them (also the Slack ones, which the API never answered with). */
  async #activeJobs(): Promise<string[]> {
    try {
      const response = await this.#api('GET', '/api/v1/jobs?status=queued,running&limit=100');
      const listed = (response.body as { jobs?: { id: string }[] }).jobs ?? [];
      for (const { id } of listed) if (!this.#knownJobs.includes(id)) this.#knownJobs.push(id);
      return listed.map((job) => job.id);
    } catch {
      return [];
    }
  }

  /**
   * Sends until the service gives a final answer: no answer or a "not now" answer waits until the service is ready
   * again, then sends the same request again, at most MAX_API_SENDS times.
   */
  async #untilAnswered(
    record: { sends: number },
    send: () => Promise<{ status: number; body: unknown }>,
  ): Promise<{ answer: Answer } | { gaveUp: string }> {
    for (;;) {
      record.sends += 1;
      let why: string;
      try {
        const { status, body } = await send();
        const answer = toAnswer(status, body);
        if (answer.code === undefined || !RETRY_CODES.has(answer.code)) return { answer };
        why = answer.code;
      } catch {
        why = 'network';
      }
      this.records.retriedAnswers.set(why, (this.records.retriedAnswers.get(why) ?? 0) + 1);
      if (record.sends >= MAX_API_SENDS) return { gaveUp: why };
      await this.#o.set.whenReady();
      await sleep(100 * record.sends);
    }
  }

  async #api(method: string, path: string, body?: object, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${this.#o.set.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.#o.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as unknown) };
  }

  /**
   * An app mention from a random Slack user, signed by the fake. The event body is built here rather than by
   * fake.deliverEvent, which keeps nothing when the connection fails: Slack keeps the event and retries it.
   */
  async #mention(user: string): Promise<void> {
    const { fake, rng } = this.#o;
    const n = this.records.mentions.length + 1;
    const mention: SlackMention = {
      eventId: `EvSOAK${String(n).padStart(6, '0')}`,
      // Its own range of ts values, apart from the fake's counter, which numbers the bot's messages.
      ts: `${Math.floor(Date.now() / 1000)}.${900_000 + n}`,
      user: fake.user(user),
      sends: 0,
    };
    this.records.mentions.push(mention);
    const { frames, steps } = tinyJob(rng, this.#o.maxSteps);
    const event = {
      type: 'app_mention',
      user: mention.user,
      text: `<@${fake.botUserId}> soak mention ${n} --frames ${frames} --size 64x64 --steps ${steps}`,
      channel: fake.channelId,
      ts: mention.ts,
      event_ts: mention.ts,
    };
    const body = JSON.stringify({
      token: 'legacy-verification',
      team_id: fake.teamId,
      api_app_id: fake.appId,
      event,
      type: 'event_callback',
      event_id: mention.eventId,
      event_time: Math.floor(Date.now() / 1000),
      authorizations: [{ enterprise_id: null, team_id: fake.teamId, user_id: fake.botUserId, is_bot: true, is_enterprise_install: false }],
      is_ext_shared_channel: false,
    });
    const eventsUrl = `${this.#o.set.url}/slack/events`;
    // Slack's reasons: connection_failed (no connection), http_error (an answer other than 2xx).
    let reason: string | undefined;
    for (let retry = 0; ; retry += 1) {
      mention.sends += 1;
      try {
        const delivery = await fake.deliver(body, 'application/json', { url: eventsUrl }, reason === undefined ? undefined : { num: retry, reason });
        if (delivery.status >= 200 && delivery.status < 300) {
          mention.status = delivery.status;
          return;
        }
        reason = 'http_error';
      } catch {
        reason = 'connection_failed';
      }
      this.records.retriedAnswers.set(`slack ${reason}`, (this.records.retriedAnswers.get(`slack ${reason}`) ?? 0) + 1);
      if (retry >= MAX_SLACK_RETRIES) {
        mention.gaveUp = reason;
        return;
      }
      await this.#o.set.whenReady();
    }
  }
}

function toAnswer(status: number, body: unknown): Answer {
  const fields = body as { id?: string; error?: { code?: string } };
  return {
    status,
    ...(status === 202 && typeof fields.id === 'string' ? { jobId: fields.id } : {}),
    ...(typeof fields.error?.code === 'string' ? { code: fields.error.code } : {}),
  };
}
