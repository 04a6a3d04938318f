// Every Slack message the bot sends, as Block Kit payloads with a plain `text` fallback (notifications, screen
// readers): pure functions of a job and its state, tested without any network. User text (prompts) is escaped, so a
// prompt can never ping a channel or forge a link.
// Limits: section text 3000 characters, 10 fields of 2000; button value 2000, action_id 255.
// @see https://docs.slack.dev/reference/block-kit/blocks
import type { types } from '@slack/bolt';
import { ErrorCode, type VideoBotError } from '../../core/errors.js';
import type { Job } from '../../core/jobs.js';
import { userMessage } from '../../core/messages.js';
import {
  cancelledByText,
  clipSeconds,
  formatSeconds,
  paramFields,
  paramsLine,
  placeText,
  progressText,
  renderTimeText,
  requeuedText,
  truncate,
} from '../job-text.js';

export type SlackBlock = types.KnownBlock;

export interface SlackMessage {
  text: string;
  blocks?: SlackBlock[];
}

export type SlackAction = 'cancel' | 'reroll' | 'reproduce';
const SLACK_ACTIONS: readonly SlackAction[] = ['cancel', 'reroll', 'reproduce'];

/** Bolt listens for these action_ids; the job id travels in the button's value. */
export const ACTION_ID_PATTERN = /^t2v_(cancel|reroll|reproduce)$/;

export function actionId(action: SlackAction): string {
  return `t2v_${action}`;
}

export function parseActionId(id: string): SlackAction | null {
  const action = ACTION_ID_PATTERN.exec(id)?.[1];
  return action !== undefined && SLACK_ACTIONS.includes(action as SlackAction) ? (action as SlackAction) : null;
}

/** Escapes the three characters Slack treats as markup, so user text shows as typed. */
export function escapeText(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function button(action: SlackAction, label: string, jobId: string, style?: 'primary' | 'danger'): types.Button {
  return { type: 'button', action_id: actionId(action), text: { type: 'plain_text', text: label }, value: jobId, ...(style === undefined ? {} : { style }) };
}

function statusBlocks(job: Job, line: string, buttons: types.Button[]): SlackBlock[] {
  const blocks: SlackBlock[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*${escapeText(truncate(job.params.prompt, 2_900))}*` } },
    { type: 'section', text: { type: 'mrkdwn', text: line } },
    {
      type: 'section',
      fields: paramFields(job.params).map((f) => ({ type: 'mrkdwn' as const, text: `*${f.label}*\n${escapeText(truncate(f.value, 1_900))}` })),
    },
    { type: 'context', elements: [{ type: 'mrkdwn', text: `Asked by <@${job.user.platformUserId}> · job \`${job.id}\`` }] },
  ];
  if (buttons.length > 0) blocks.push({ type: 'actions', block_id: 'job_actions', elements: buttons });
  return blocks;
}

const promptFallback = (job: Job) => escapeText(truncate(job.params.prompt, 200));

/** Posted first, before the job exists, so its ts can be stored with the job. */
export function submittingMessage(): SlackMessage {
  return { text: 'Adding your video to the queue…' };
}

export function queuedMessage(job: Job, position: number, etaSeconds: number | null): SlackMessage {
  const line = placeText(position, etaSeconds);
  return { text: `${line}: ${promptFallback(job)}`, blocks: statusBlocks(job, `:hourglass_flowing_sand: ${line}`, [button('cancel', 'Cancel', job.id, 'danger')]) };
}

export function runningMessage(job: Job, step: number, totalSteps: number, etaMs: number | null): SlackMessage {
  const line = progressText(step, totalSteps, etaMs);
  return { text: `${line}: ${promptFallback(job)}`, blocks: statusBlocks(job, `:film_frames: ${line}`, [button('cancel', 'Cancel', job.id, 'danger')]) };
}

export function requeuedMessage(job: Job, reason: 'restart' | 'shutdown'): SlackMessage {
  const line = requeuedText(reason);
  return { text: line, blocks: statusBlocks(job, `:arrows_counterclockwise: ${line}`, [button('cancel', 'Cancel', job.id, 'danger')]) };
}

/** The status message once the file is in the thread: Re-roll and Same seed live here (files carry no buttons). */
export function doneMessage(job: Job): SlackMessage {
  const line = `Done. ${renderTimeText(job)}; the ${job.params.frames === 1 ? 'image' : 'video'} is in this thread.`;
  return {
    text: `${line} ${promptFallback(job)}`,
    blocks: statusBlocks(job, `:white_check_mark: ${line}`, [button('reroll', 'Re-roll', job.id, 'primary'), button('reproduce', 'Same seed again', job.id)]),
  };
}

export function failedMessage(job: Job, text: string): SlackMessage {
  const shown = escapeText(truncate(text, 2_800));
  return { text: `Failed: ${shown}`, blocks: statusBlocks(job, `:x: Failed: ${shown}`, [button('reroll', 'Try again with a new seed', job.id)]) };
}

/** `byUserId` as cancelledByText takes it: a user, undefined for an admin, null when not known. */
export function cancelledMessage(job: Job, byUserId: string | undefined | null): SlackMessage {
  const line = cancelledByText(byUserId);
  return { text: line, blocks: statusBlocks(job, `:no_entry_sign: ${line}`, []) };
}

/** The initial_comment of the uploaded file: who asked, the prompt, every parameter, the durations. */
export function resultComment(job: Job): string {
  const still = job.params.frames === 1;
  const duration = still ? '' : ` · ${formatSeconds(clipSeconds(job.params))} long`;
  const negative = job.params.negativePrompt === '' ? '' : `\nAvoiding: ${escapeText(job.params.negativePrompt)}`;
  return (
    `<@${job.user.platformUserId}> your ${still ? 'image' : 'video'} is ready: *${escapeText(truncate(job.params.prompt, 2_000))}*${negative}\n` +
    `${paramsLine(job.params)}${duration} · ${renderTimeText(job).toLowerCase()}`
  );
}

/** A job-time problem, posted in the job's thread. */
export function jobErrorMessage(job: Job, text: string): SlackMessage {
  return { text: `<@${job.user.platformUserId}> ${escapeText(text)} (job \`${job.id}\`)` };
}

/** The upload failed; a link to the service's copy when there is a public address. */
export function uploadFailedMessage(job: Job, error: VideoBotError, link: string | undefined): SlackMessage {
  const where = link === undefined ? '' : ` Download it here: <${link}|${escapeText(job.id)}>`;
  return { text: `<@${job.user.platformUserId}> ${escapeText(userMessage(error))}${where}` };
}

const CANCEL_RIGHTS = 'Only the person who asked for it or a t2v admin can cancel it.';
/** Slack's answers when the bot may not post where /video was used. */
const NOT_A_MEMBER = new Set(['not_in_channel', 'channel_not_found']);

/** A problem with what the user just did (shown to them alone). */
export function requestErrorText(error: VideoBotError, action?: SlackAction): string {
  let extra = '';
  if (error.code === ErrorCode.Forbidden && action === 'cancel') extra = ` ${CANCEL_RIGHTS}`;
  if (error.code === ErrorCode.PlatformError && NOT_A_MEMBER.has(String(error.details.error))) {
    extra = ' Invite me to this channel first (/invite, then my name) and try again.';
  }
  return `${escapeText(userMessage(error))}${extra}`;
}

/** A request that could not be parsed: what is wrong, then how to ask. */
export function usageText(problem: string | undefined, help: string): string {
  return problem === undefined ? help : `${escapeText(problem)}\n\n${help}`;
}
