// The soak's figures, each computed from a record the soak did not write itself: the database (jobs, the usage
// ledger, delivery records, settings), the fake Slack's log (what reached "Slack"), the service's own log lines, and
// the service's answers to the clients. Nothing is counted from what the soak expected to happen.
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../src/config.js';
import { ErrorCode } from '../../src/core/errors.js';
import { resolveQuota, type QuotaOverride } from '../../src/core/quota.js';
import { connectDatabase, databaseTarget } from '../../src/db/database.js';
import { SettingsStore } from '../../src/db/settings.js';
import { workspaceSubject } from '../../src/queue/job-store.js';
import type { FakeSlack, SlackApiCall } from '../../test/fakes/slack.js';
import type { Kill } from './faults.js';
import type { ReadyTime, UnexpectedExit } from './service-set.js';
import type { TrafficRecords } from './traffic.js';

export interface SoakRecords {
  databaseUrl: string;
  /** The service's environment, for the quota defaults it ran with. */
  serviceEnv: Record<string, string>;
  fake: FakeSlack;
  /** Each process start's log file; `killed`: that process ended by a SIGKILL (it was not its member's last). */
  logs: { file: string; killed: boolean }[];
  traffic: TrafficRecords;
  kills: Kill[];
  readyTimes: ReadyTime[];
  unexpectedExits: UnexpectedExit[];
  /** Exit code or signal of each member after the final SIGTERM. */
  finalExits: Record<string, number | string>;
}

export interface Figures {
  submitted: number;
  jobsByOrigin: Record<string, number>;
  accepted: { apiSubmits: number; apiRerolls: number; slackMentions: number; slackMentionsWithJob: number };
  succeeded: number;
  failed: Record<string, number>;
  cancelled: number;
  refused: Record<string, number>;
  lost: {
    apiAcceptedWithoutJob: string[];
    slackAcknowledgedWithoutJob: string[];
    unfinished: string[];
    chatVideoNeverPosted: string[];
  };
  renderedTwice: string[];
  /**
   * Renders that finished in a process killed before it did anything more with the job (recorded it, dropped it): the
   * result died with the process, so the job was recorded from its render-result.json at the restart or, when the
   * worker stayed down, rendered again elsewhere. Such a render is not counted in `renderedTwice`.
   */
  rendersCutOffByKill: number;
  postedTwice: string[];
  chargedTwice: string[];
  /** Finished jobs whose ledger does not end as their status says (a success not settled, a failure not refunded). */
  chargeNotMatchingEnd: string[];
  quotaOverspend: { user: string; day: string; videos: number; limit: number }[];
  queueWaitSeconds: { p50: number; p95: number; jobs: number };
  restartToReadySeconds: { median: number; max: number; restarts: number; firstStart: number };
  /** `stayedDown`: kills of a worker that stayed down past its lease before its restart. */
  kills: { total: number; duringRender: number; stayedDown: number };
  /** From the `queue restored` line each incarnation logs. */
  recoveredAfterKill: { requeued: number; recorded: number; failed: number };
  /** From the lines of the processes that took back the jobs of a killed worker once its lease ran out. */
  takenBackAfterLease: { requeued: number; failed: number };
  unexpectedExits: UnexpectedExit[];
  finalExits: Record<string, number | string>;
  cancels: Record<string, number>;
  retriedAnswers: Record<string, number>;
  gaveUp: { api: number; slack: number; cancels: number };
  slackDuplicatesDropped: number;
}

/** Thread replies that refuse a mention, by the code whose message they show (core/messages.ts). */
const REFUSAL_TEXTS: [RegExp, ErrorCode][] = [
  [/You have used \d+ of your|GPU-seconds but you have/, ErrorCode.QuotaExceeded],
  [/queued; the limit is/, ErrorCode.TooManyQueued],
  [/The queue is full/, ErrorCode.QueueFull],
  [/The service is restarting/, ErrorCode.ShuttingDown],
  [/database is not available/, ErrorCode.Unavailable],
];

export async function computeFigures(records: SoakRecords): Promise<Figures> {
  const db = await connectDatabase(databaseTarget(records.databaseUrl));
  try {
    const prisma = db.prisma;
    const jobs = await prisma.job.findMany({ include: { user: true } });
    const ledger = await prisma.usageEntry.findMany({ include: { user: true } });
    const deliveries = await prisma.delivery.findMany();
    const policies = await prisma.quotaPolicy.findMany();
    const settings = await new SettingsStore(prisma, loadConfig(records.serviceEnv).settingDefaults).get();

    const jobById = new Map(jobs.map((job) => [job.id, job]));
    const logs = records.logs.map(({ file, killed }) => ({ lines: readLogLines(file), killed }));
    const logLines = logs.flatMap((log) => log.lines);
    const posts = slackPostsByJob(records.fake);
    const apiRequests = records.traffic.apiRequests;
    const acceptedApi = apiRequests.filter((r) => r.answer?.jobId !== undefined);
    const acknowledged = records.traffic.mentions.filter((m) => m.status === 200);
    const jobOfDelivery = new Map(deliveries.map((d) => [d.key, d.jobId]));

    const refused: Record<string, number> = {};
    for (const request of apiRequests) {
      if (request.answer !== undefined && request.answer.jobId === undefined) count(refused, `${request.answer.code ?? request.answer.status} (API ${request.kind})`);
    }
    const slackWithoutJob: string[] = [];
    let slackWithJob = 0;
    for (const mention of acknowledged) {
      const jobId = jobOfDelivery.get(`slack:event:${mention.eventId}`);
      if (jobId != null && jobById.has(jobId)) {
        slackWithJob += 1;
        continue;
      }
      const refusal = refusalInThread(records.fake, mention.ts, mention.user);
      if (refusal !== undefined) count(refused, `${refusal} (Slack mention)`);
      else slackWithoutJob.push(`${mention.eventId} (${jobOfDelivery.has(`slack:event:${mention.eventId}`) ? 'claimed, no job, no answer' : 'never claimed'})`);
    }

    const failed: Record<string, number> = {};
    const jobsByOrigin: Record<string, number> = {};
    for (const job of jobs) {
      count(jobsByOrigin, `${job.user.platform} ${job.parentJobId === null ? 'new' : 're-roll'}`);
      if (job.status === 'failed') count(failed, job.errorCode ?? 'no code');
    }

    const renders = new Map<string, number>();
    let rendersCutOffByKill = 0;
    for (const { lines, killed } of logs) {
      lines.forEach((line, at) => {
        if (line.msg !== 'render finished' || typeof line.jobId !== 'string') return;
        if (killed && !lines.slice(at + 1).some((later) => later.jobId === line.jobId)) rendersCutOffByKill += 1;
        else renders.set(line.jobId, (renders.get(line.jobId) ?? 0) + 1);
      });
    }
    const restored = logLines.filter((line) => line.msg === 'queue restored');
    const takenBack = logLines.filter((line) => line.msg === 'took back the jobs of a worker whose lease ran out');
    const lengthOf = (value: unknown) => (Array.isArray(value) ? value.length : 0);

    const entriesByJob = new Map<string, { reserve: number; settle: number; refund: number }>();
    for (const entry of ledger) {
      const kinds = entriesByJob.get(entry.jobId) ?? { reserve: 0, settle: 0, refund: 0 };
      kinds[entry.kind] += 1;
      entriesByJob.set(entry.jobId, kinds);
    }
    const chargeNotMatchingEnd = jobs
      .filter((job) => {
        const kinds = entriesByJob.get(job.id) ?? { reserve: 0, settle: 0, refund: 0 };
        if (job.status === 'succeeded') return kinds.reserve !== 1 || kinds.settle !== 1 || kinds.refund !== 0;
        if (job.status === 'failed' || job.status === 'cancelled') return kinds.reserve !== 1 || kinds.refund !== 1 || kinds.settle !== 0;
        return false;
      })
      .map((job) => `${job.id} (${job.status})`);

    const waits = jobs
      .filter((job) => job.startedAt !== null)
      .map((job) => (job.startedAt!.getTime() - job.createdAt.getTime()) / 1000)
      .sort((a, b) => a - b);
    const restarts = records.readyTimes.filter((t) => !t.firstStart).map((t) => t.ms / 1000).sort((a, b) => a - b);

    const cancels: Record<string, number> = {};
    for (const cancel of records.traffic.cancels) if (cancel.answer !== undefined) count(cancels, cancel.answer.code ?? String(cancel.answer.status));

    return {
      submitted: jobs.length,
      jobsByOrigin,
      accepted: {
        apiSubmits: new Set(acceptedApi.filter((r) => r.kind === 'submit').map((r) => r.answer!.jobId)).size,
        apiRerolls: new Set(acceptedApi.filter((r) => r.kind === 'reroll').map((r) => r.answer!.jobId)).size,
        slackMentions: acknowledged.length,
        slackMentionsWithJob: slackWithJob,
      },
      succeeded: jobs.filter((job) => job.status === 'succeeded').length,
      failed,
      cancelled: jobs.filter((job) => job.status === 'cancelled').length,
      refused,
      lost: {
        apiAcceptedWithoutJob: acceptedApi.filter((r) => !jobById.has(r.answer!.jobId!)).map((r) => `${r.answer!.jobId} (${r.idempotencyKey})`),
        slackAcknowledgedWithoutJob: slackWithoutJob,
        unfinished: jobs.filter((job) => job.status === 'queued' || job.status === 'running').map((job) => `${job.id} (${job.status})`),
        chatVideoNeverPosted: jobs.filter((job) => job.status === 'succeeded' && job.replyPlatform === 'slack' && (posts.get(job.id) ?? 0) === 0).map((job) => job.id),
      },
      renderedTwice: [...renders].filter(([, n]) => n > 1).map(([id, n]) => `${id} (${n} renders)`),
      rendersCutOffByKill,
      postedTwice: [...posts].filter(([, n]) => n > 1).map(([id, n]) => `${id} (${n} posts)`),
      chargedTwice: [...entriesByJob].filter(([, k]) => k.reserve > 1 || k.settle + k.refund > 1).map(([id, k]) => `${id} (${JSON.stringify(k)})`),
      chargeNotMatchingEnd,
      quotaOverspend: quotaOverspend(ledger, policies, settings.videosPerDay, { gpuSecondsPerDay: settings.gpuSecondsPerDay, maxQueued: settings.maxQueuedPerUser }),
      queueWaitSeconds: { p50: percentile(waits, 0.5), p95: percentile(waits, 0.95), jobs: waits.length },
      restartToReadySeconds: {
        median: percentile(restarts, 0.5),
        max: restarts.at(-1) ?? Number.NaN,
        restarts: restarts.length,
        firstStart: (records.readyTimes.find((t) => t.firstStart)?.ms ?? Number.NaN) / 1000,
      },
      kills: {
        total: records.kills.length,
        duringRender: records.kills.filter((k) => k.running.length > 0).length,
        stayedDown: records.kills.filter((k) => k.downSeconds > 0).length,
      },
      recoveredAfterKill: {
        requeued: restored.reduce((n, line) => n + lengthOf(line.requeuedAfterCrash), 0),
        recorded: restored.reduce((n, line) => n + lengthOf(line.recordedAfterCrash), 0),
        failed: restored.reduce((n, line) => n + lengthOf(line.failedAfterCrash), 0),
      },
      takenBackAfterLease: {
        requeued: takenBack.reduce((n, line) => n + lengthOf(line.requeued), 0),
        failed: takenBack.reduce((n, line) => n + lengthOf(line.failed), 0),
      },
      unexpectedExits: records.unexpectedExits,
      finalExits: records.finalExits,
      cancels,
      retriedAnswers: Object.fromEntries(records.traffic.retriedAnswers),
      gaveUp: {
        api: apiRequests.filter((r) => r.gaveUp !== undefined).length,
        slack: records.traffic.mentions.filter((m) => m.gaveUp !== undefined).length,
        cancels: records.traffic.cancels.filter((c) => c.gaveUp !== undefined).length,
      },
      slackDuplicatesDropped: logLines.filter((line) => typeof line.msg === 'string' && line.msg.startsWith('dropped a Slack delivery')).length,
    };
  } finally {
    await db.close();
  }
}

/** The must-be-zero figures, by name: the soak fails when any is not zero. */
export function mustBeZero(figures: Figures): Record<string, number> {
  const lost = figures.lost;
  return {
    lost: lost.apiAcceptedWithoutJob.length + lost.slackAcknowledgedWithoutJob.length + lost.unfinished.length + lost.chatVideoNeverPosted.length,
    'rendered twice': figures.renderedTwice.length,
    'posted twice': figures.postedTwice.length,
    'charged twice': figures.chargedTwice.length,
    'charge not matching the job end': figures.chargeNotMatchingEnd.length,
    'quota overspend': figures.quotaOverspend.reduce((n, o) => n + o.videos - o.limit, 0),
  };
}

type LogLine = Record<string, unknown> & { msg?: unknown; jobId?: unknown };

/** The JSON lines of one log file; other lines (Node's warnings on stderr) are skipped. */
function readLogLines(file: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const text of readFileSync(file, 'utf8').split('\n')) {
    if (!text.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(text) as LogLine);
    } catch {
      // A line cut short by SIGKILL: the process died while writing it.
    }
  }
  return lines;
}

/**
 * Videos posted into Slack threads, per job: files.completeUploadExternal calls (the step that shares an uploaded file
 * in the thread) whose file the bot uploaded under the job's file name, `t2v-<jobId>.mp4`.
 */
function slackPostsByJob(fake: FakeSlack): Map<string, number> {
  const jobOfFile = new Map<string, string>();
  for (const upload of fake.uploads) {
    const match = /^t2v-(.+)\.(mp4|png)$/.exec(upload.filename);
    if (match !== null) jobOfFile.set(upload.fileId, match[1]!);
  }
  const posts = new Map<string, number>();
  for (const call of fake.calls) {
    if (call.method !== 'files.completeUploadExternal' || call.response.ok !== true) continue;
    for (const file of call.params.files as { id: string }[]) {
      const jobId = jobOfFile.get(file.id);
      if (jobId !== undefined) posts.set(jobId, (posts.get(jobId) ?? 0) + 1);
    }
  }
  return posts;
}

/** The code of the refusal the bot wrote to `user` in the mention's thread, if it wrote one. */
function refusalInThread(fake: FakeSlack, threadTs: string, user: string): string | undefined {
  const inThread = new Set(fake.calls.filter((c) => c.method === 'chat.postMessage' && c.params.thread_ts === threadTs).map((c) => String(c.response.ts)));
  const texts = fake.calls
    .filter((c: SlackApiCall) => (c.method === 'chat.postMessage' && c.params.thread_ts === threadTs) || (c.method === 'chat.update' && inThread.has(String(c.params.ts))))
    .map((c) => String(c.params.text ?? ''))
    .filter((text) => text.startsWith(`<@${user}> `));
  const last = texts.at(-1);
  if (last === undefined) return undefined;
  return REFUSAL_TEXTS.find(([pattern]) => pattern.test(last))?.[1] ?? `unrecognised: ${last.slice(0, 60)}`;
}

/** Per user and UTC day, the ledger's net videos (reserved minus refunded) above the videos-per-day limit in force. */
function quotaOverspend(
  ledger: { userId: string; day: string; videos: number; user: { platform: 'discord' | 'slack' | 'api'; workspaceId: string | null; platformUserId: string } }[],
  policies: { scope: string; subject: string; videosPerDay: number | null; gpuSecondsPerDay: number | null; maxQueued: number | null }[],
  videosPerDay: number,
  otherDefaults: { gpuSecondsPerDay: number; maxQueued: number },
): Figures['quotaOverspend'] {
  const override = (scope: string, subject: string): QuotaOverride | null => {
    const row = policies.find((p) => p.scope === scope && p.subject === subject);
    return row === undefined ? null : { videosPerDay: row.videosPerDay, gpuSecondsPerDay: row.gpuSecondsPerDay, maxQueued: row.maxQueued };
  };
  const net = new Map<string, { user: string; day: string; videos: number; limit: number }>();
  for (const entry of ledger) {
    const key = `${entry.userId} ${entry.day}`;
    let totals = net.get(key);
    if (totals === undefined) {
      const { user } = entry;
      const workspace = user.workspaceId === null ? null : override('workspace', workspaceSubject(user.platform, user.workspaceId));
      const limit = resolveQuota({ videosPerDay, ...otherDefaults }, workspace, override('user', entry.userId)).limits.videosPerDay;
      totals = { user: `${user.platform}:${user.platformUserId}`, day: entry.day, videos: 0, limit };
      net.set(key, totals);
    }
    totals.videos += entry.videos;
  }
  return [...net.values()].filter((t) => t.videos > t.limit);
}

/** Nearest-rank percentile of sorted values; NaN for none. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

function count(tally: Record<string, number>, key: string): void {
  tally[key] = (tally[key] ?? 0) + 1;
}
