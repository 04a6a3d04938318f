// Every Discord message the bot sends, as plain API payloads (embeds, button rows, allowed mentions): pure functions
// of a job and its state, tested without any network. The adapter only decides where each one goes.
// Limits: embed title 256, description 4096, field value 1024 characters; button custom_id 100.
// @see https://discord.com/developers/docs/resources/message#embed-object-embed-limits
import {
  ButtonStyle,
  ComponentType,
  type APIActionRowComponent,
  type APIButtonComponentWithCustomId,
  type APIEmbed,
  type APIEmbedField,
} from 'discord.js';
import { ErrorCode, type VideoBotError } from '../../core/errors.js';
import type { Job } from '../../core/jobs.js';
import { formatResetTime, userMessage } from '../../core/messages.js';
import type { UserQuotaStatus } from '../../service/video-service.js';
import type { QueueSnapshot } from '../../core/queue-snapshot.js';
import {
  cancelAcceptedText,
  cancelledByText,
  clipSeconds,
  formatDuration,
  formatSeconds,
  paramFields,
  placeText,
  progressText,
  renderTimeText,
  requeuedText,
  truncate,
} from '../job-text.js';

export const COLORS = { queued: 0x5865f2, running: 0xfee75c, done: 0x57f287, failed: 0xed4245, cancelled: 0x99aab5 } as const;

/** What a button does; the job id travels in its custom_id. */
export type ButtonAction = 'cancel' | 'reroll' | 'reproduce';
const BUTTON_ACTIONS: readonly ButtonAction[] = ['cancel', 'reroll', 'reproduce'];
const CUSTOM_ID_PREFIX = 't2v';

/**
 * A message as discord.js accepts it for send/edit/reply (raw API shapes are accepted there). Whether it is
 * ephemeral is the adapter's choice of how to send it, not part of the content.
 */
export interface DiscordMessage {
  content?: string;
  embeds?: APIEmbed[];
  components?: APIActionRowComponent<APIButtonComponentWithCustomId>[];
  allowedMentions?: { parse?: []; users?: string[] };
}

export function customId(action: ButtonAction, jobId: string): string {
  return `${CUSTOM_ID_PREFIX}:${action}:${jobId}`;
}

/** The action and job of one of our buttons, or null for any other custom_id. */
export function parseCustomId(id: string): { action: ButtonAction; jobId: string } | null {
  const [prefix, action, jobId, ...rest] = id.split(':');
  if (prefix !== CUSTOM_ID_PREFIX || rest.length > 0 || jobId === undefined || jobId === '') return null;
  if (!BUTTON_ACTIONS.includes(action as ButtonAction)) return null;
  return { action: action as ButtonAction, jobId };
}

/** Thread names are 1-100 characters; named from the prompt so a channel's thread list reads like a gallery. */
export function threadName(prompt: string): string {
  return truncate(`🎬 ${prompt}`, 100);
}

function buttonRow(buttons: { action: ButtonAction; label: string; style: ButtonStyle; jobId: string }[]): APIActionRowComponent<APIButtonComponentWithCustomId> {
  return {
    type: ComponentType.ActionRow,
    components: buttons.map((b) => ({ type: ComponentType.Button, style: b.style, label: b.label, custom_id: customId(b.action, b.jobId) }) as APIButtonComponentWithCustomId),
  };
}

const cancelRow = (job: Job) => [buttonRow([{ action: 'cancel', label: 'Cancel', style: ButtonStyle.Danger, jobId: job.id }])];

const resultRow = (job: Job) => [
  buttonRow([
    { action: 'reroll', label: 'Re-roll', style: ButtonStyle.Primary, jobId: job.id },
    { action: 'reproduce', label: 'Same seed again', style: ButtonStyle.Secondary, jobId: job.id },
  ]),
];

function fields(job: Job): APIEmbedField[] {
  return paramFields(job.params).map((f) => ({ name: f.label, value: truncate(f.value, 1024), inline: f.label !== 'Negative' }));
}

function statusEmbed(job: Job, color: number, line: string): APIEmbed {
  return {
    title: truncate(job.params.prompt, 256),
    description: `${line}\nAsked by <@${job.user.platformUserId}>`,
    color,
    fields: fields(job),
    footer: { text: `Job ${job.id}` },
  };
}

const NO_MENTIONS = { parse: [] as [] };

/** The status message while the job waits: place in line and ETA, with Cancel. */
export function queuedMessage(job: Job, position: number, etaSeconds: number | null): DiscordMessage {
  return { content: '', embeds: [statusEmbed(job, COLORS.queued, placeText(position, etaSeconds))], components: cancelRow(job), allowedMentions: NO_MENTIONS };
}

/** The status message while the job renders. */
export function runningMessage(job: Job, step: number, totalSteps: number, etaMs: number | null): DiscordMessage {
  return {
    content: '',
    embeds: [statusEmbed(job, COLORS.running, progressText(step, totalSteps, etaMs))],
    components: cancelRow(job),
    allowedMentions: NO_MENTIONS,
  };
}

/** A running job went back to the queue: the service restarted or is restarting. */
export function requeuedMessage(job: Job, reason: 'restart' | 'shutdown'): DiscordMessage {
  return { content: '', embeds: [statusEmbed(job, COLORS.queued, requeuedText(reason))], components: cancelRow(job), allowedMentions: NO_MENTIONS };
}

/** The status message once the video is posted; `where` says where to find it. */
export function doneMessage(job: Job, where: 'thread' | 'below'): DiscordMessage {
  const line = `Done. ${renderTimeText(job)}; the video is ${where === 'thread' ? 'in the thread' : 'below'}.`;
  return { content: '', embeds: [statusEmbed(job, COLORS.done, line)], components: [], allowedMentions: NO_MENTIONS };
}

/** Try again is a Re-roll: whoever presses it asks for the video anew, under their own quota. */
export function failedMessage(job: Job, text: string): DiscordMessage {
  return {
    content: '',
    embeds: [statusEmbed(job, COLORS.failed, `Failed: ${truncate(text, 3_500)}`)],
    components: [buttonRow([{ action: 'reroll', label: 'Try again with a new seed', style: ButtonStyle.Primary, jobId: job.id }])],
    allowedMentions: NO_MENTIONS,
  };
}

/** `byUserId` as cancelledByText takes it: a user, undefined for an admin, null when not known. */
export function cancelledMessage(job: Job, byUserId: string | undefined | null): DiscordMessage {
  return { content: '', embeds: [statusEmbed(job, COLORS.cancelled, cancelledByText(byUserId))], components: [], allowedMentions: NO_MENTIONS };
}

/** The post that carries the file (attached by the adapter): who asked, the prompt, every parameter, the durations. */
export function resultMessage(job: Job): DiscordMessage {
  const still = job.params.frames === 1;
  return {
    content: `<@${job.user.platformUserId}> your ${still ? 'image' : 'video'} is ready.`,
    embeds: [
      {
        title: truncate(job.params.prompt, 256),
        color: COLORS.done,
        fields: [
          ...fields(job),
          ...(still ? [] : [{ name: 'Duration', value: formatSeconds(clipSeconds(job.params)), inline: true }]),
          { name: 'Render time', value: renderTimeText(job).replace(/^Rendered in /, ''), inline: true },
        ],
        footer: { text: `Job ${job.id}` },
      },
    ],
    components: resultRow(job),
    allowedMentions: { users: [job.user.platformUserId] },
  };
}

/**
 * The video could not be uploaded within the upload limit, even re-encoded smaller: a link to the service's copy
 * when there is a public address, else the reason in plain words.
 */
export function tooLargeMessage(job: Job, tooLarge: VideoBotError, link: string | undefined): DiscordMessage {
  const reason = userMessage(tooLarge);
  const content = link === undefined ? `<@${job.user.platformUserId}> ${reason}` : `<@${job.user.platformUserId}> ${reason} Download it here: ${link}`;
  return { content, embeds: [], components: resultRow(job), allowedMentions: { users: [job.user.platformUserId] } };
}

/** A job-time problem posted where the job's updates go (thread or channel). */
export function jobErrorMessage(job: Job, text: string): DiscordMessage {
  return { content: `<@${job.user.platformUserId}> ${truncate(text, 1_800)} (job ${job.id})`, allowedMentions: { users: [job.user.platformUserId] } };
}

/** Who may cancel, named in the refusal so the user knows whom to ask. */
const CANCEL_RIGHTS = 'Only the person who asked for it, a member with the Manage Server permission, or a t2v admin can cancel it.';

/** A command-time problem, shown only to the user who caused it (ephemeral). */
export function commandErrorMessage(error: VideoBotError, action?: ButtonAction): DiscordMessage {
  const extra = error.code === ErrorCode.Forbidden && action === 'cancel' ? ` ${CANCEL_RIGHTS}` : '';
  return { content: `${truncate(userMessage(error), 1_900)}${extra}`, embeds: [], components: [], allowedMentions: NO_MENTIONS};
}

/** The ephemeral answer to a Cancel click that went through. */
export function cancelAcceptedMessage(job: Job): DiscordMessage {
  return { content: cancelAcceptedText(job), allowedMentions: NO_MENTIONS};
}

/** /quota */
export function quotaMessage(status: UserQuotaStatus, now: Date = new Date()): DiscordMessage {
  const { limits, used, left } = status;
  const lines = [
    `**Videos today:** ${used.videos} of ${limits.videosPerDay} used, ${left.videos} left`,
    `**GPU time today:** ${Math.round(used.gpuSeconds)} of ${limits.gpuSecondsPerDay} GPU-seconds used, ${Math.floor(left.gpuSeconds)} left`,
    `**Waiting now:** ${status.queued} of at most ${limits.maxQueued}`,
    `Resets ${formatResetTime(status.resetAt, now)}.`,
  ];
  if (status.user.banned) lines.unshift('You are not allowed to make videos here.');
  return { content: lines.join('\n'), allowedMentions: NO_MENTIONS};
}

/** /queue: the user's own jobs with their places, and the length of the whole queue. */
export function queueMessage(userId: string, snapshot: QueueSnapshot): DiscordMessage {
  const mine = (job: Job) => job.user.platform === 'discord' && job.user.platformUserId === userId;
  const lines: string[] = [];
  for (const running of snapshot.running.filter((r) => mine(r.job))) {
    const p = running.job.progress;
    const eta = running.etaSeconds === null ? '' : `, ready in ${formatDuration(running.etaSeconds)}`;
    lines.push(`• Rendering (step ${p.step}/${p.totalSteps || running.job.params.steps}${eta}): ${truncate(running.job.params.prompt, 80)}`);
  }
  for (const queued of snapshot.queued.filter((q) => mine(q.job))) {
    lines.push(`• ${placeText(queued.position, queued.etaSeconds)}: ${truncate(queued.job.params.prompt, 80)}`);
  }
  const total = `The queue has ${snapshot.running.length} rendering and ${snapshot.queued.length} waiting.`;
  const engine = snapshot.engine.ready ? '' : ' The engine is not ready yet, so nothing renders for now.';
  const content = lines.length === 0 ? `You have no videos in the queue. ${total}${engine}` : `Your videos:\n${lines.join('\n')}\n${total}${engine}`;
  return { content, allowedMentions: NO_MENTIONS};
}
