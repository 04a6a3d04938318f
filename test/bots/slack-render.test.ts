import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  actionId,
  cancelledMessage,
  doneMessage,
  escapeText,
  failedMessage,
  parseActionId,
  queuedMessage,
  requestErrorText,
  resultComment,
  runningMessage,
  uploadFailedMessage,
  usageText,
} from '../../src/bots/slack/render.js';
import { ErrorCode } from '../../src/core/errors.js';
import { videoBotError } from '../../src/core/messages.js';
import { jobFixture } from './job-fixture.js';

const job = jobFixture({ user: { id: 'u1', platform: 'slack', platformUserId: 'U0ALICE', displayName: null, role: 'user' } });

type Block = { type: string; text?: { text: string }; fields?: { text: string }[]; elements?: Record<string, unknown>[] };
const blocksOf = (m: { blocks?: unknown[] }) => (m.blocks ?? []) as Block[];

describe('Slack render', () => {
  it('round-trips action ids', () => {
    assert.equal(actionId('cancel'), 't2v_cancel');
    assert.equal(parseActionId('t2v_reproduce'), 'reproduce');
    assert.equal(parseActionId('t2v_delete'), null);
  });

  it('escapes user text so a prompt cannot ping or link', () => {
    assert.equal(escapeText('<!channel> & <@U1>'), '&lt;!channel&gt; &amp; &lt;@U1&gt;');
    const message = queuedMessage({ ...job, params: { ...job.params, prompt: '<!here> a cat' } }, 1, 10);
    assert.equal(blocksOf(message)[0]!.text!.text, '*&lt;!here&gt; a cat*');
    assert.ok(!message.text.includes('<!here>'));
  });

  it('status: place and Cancel while waiting, progress while rendering, Re-roll and Same seed when done', () => {
    const queued = queuedMessage(job, 2, 90);
    assert.equal(queued.text, '#2 in line, ready in about 2 min: a panda playing guitar on a boat');
    const blocks = blocksOf(queued);
    assert.deepEqual(blocks.map((b) => b.type), ['section', 'section', 'section', 'context', 'actions']);
    assert.equal(blocks[1]!.text!.text, ':hourglass_flowing_sand: #2 in line, ready in about 2 min');
    assert.deepEqual(blocks[2]!.fields!.map((f) => f.text), ['*Seed*\n7', '*Size*\n256x256', '*Frames*\n16 at 8 fps (2.0 s)', '*Steps*\n25', '*Guidance*\n9']);
    assert.equal(blocks[3]!.elements![0]!.text, `Asked by <@U0ALICE> · job \`${job.id}\``);
    assert.deepEqual(blocks[4]!.elements!.map((e) => [e.action_id, e.value, e.style]), [['t2v_cancel', job.id, 'danger']]);
    assert.equal(blocksOf(runningMessage(job, 1, 2, 5_000))[1]!.text!.text, ':film_frames: Rendering: ▰▰▰▰▰▱▱▱▱▱ step 1/2, 5 s left');
    const done = blocksOf(doneMessage(job));
    assert.equal(done[1]!.text!.text, ':white_check_mark: Done. Rendered in 12.3 s; the video is in this thread.');
    assert.deepEqual(done.at(-1)!.elements!.map((e) => e.action_id), ['t2v_reroll', 't2v_reproduce']);
    assert.equal(blocksOf(cancelledMessage(job, 'U0BOB')).at(-1)!.type, 'context', 'no buttons once cancelled');
    assert.equal(blocksOf(failedMessage(job, 'Rendering failed: out of memory.'))[1]!.text!.text, ':x: Failed: Rendering failed: out of memory.');
  });

  it('the upload comment names the requester, the prompt, every parameter and the durations', () => {
    assert.equal(
      resultComment({ ...job, params: { ...job.params, negativePrompt: 'blurry' } }),
      '<@U0ALICE> your video is ready: *a panda playing guitar on a boat*\nAvoiding: blurry\nseed 7 · 256x256 · 16 frames at 8 fps (2.0 s) · 25 steps · guidance 9 · 2.0 s long · rendered in 12.3 s',
    );
  });

  it('errors in plain words from the core table', () => {
    const refused = videoBotError(ErrorCode.PlatformError, { platform: 'slack', error: 'file_uploads_disabled' });
    assert.equal(uploadFailedMessage(job, refused, undefined).text, '<@U0ALICE> The chat platform refused the request (file_uploads_disabled).');
    assert.match(uploadFailedMessage(job, refused, 'https://t2v.example.com/v').text, /Download it here: <https:\/\/t2v\.example\.com\/v\|/);
    const banned = videoBotError(ErrorCode.PromptRejected, { reason: 'banned_word', word: 'gore' });
    assert.equal(requestErrorText(banned), 'That prompt contains a blocked word ("gore"). Please rephrase it.');
    const forbidden = videoBotError(ErrorCode.Forbidden, { action: "cancel another user's video" });
    assert.match(requestErrorText(forbidden, 'cancel'), /Only the person who asked for it or a t2v admin can cancel it\.$/);
    const notMember = videoBotError(ErrorCode.PlatformError, { platform: 'slack', error: 'not_in_channel' });
    assert.equal(requestErrorText(notMember), 'The chat platform refused the request (not_in_channel). Invite me to this channel first (/invite, then my name) and try again.');
    assert.equal(usageText('--x is not an option I know.', 'HELP'), '--x is not an option I know.\n\nHELP');
    assert.equal(usageText(undefined, 'HELP'), 'HELP');
  });
});
