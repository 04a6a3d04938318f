import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationCommandOptionType, ButtonStyle, InteractionContextType } from 'discord.js';
import { buildCommands, readVideoOptions, sizeChoices } from '../../src/bots/discord/commands.js';
import {
  cancelledMessage,
  commandErrorMessage,
  customId,
  doneMessage,
  parseCustomId,
  queuedMessage,
  queueMessage,
  quotaMessage,
  resultMessage,
  runningMessage,
  threadName,
  tooLargeMessage,
} from '../../src/bots/discord/render.js';
import { ErrorCode } from '../../src/core/errors.js';
import { videoBotError } from '../../src/core/messages.js';
import { optionRanges } from '../../src/core/requests.js';
import type { UserQuotaStatus } from '../../src/service/video-service.js';
import { jobFixture } from './job-fixture.js';

const ranges = optionRanges({ maxFrames: 32, maxSide: 512, maxSteps: 50, promptMaxLength: 500 });

describe('Discord commands', () => {
  it('types every /video option with the core ranges', () => {
    const [video, quota, queue] = buildCommands(ranges);
    assert.deepEqual([video!.name, quota!.name, queue!.name], ['video', 'quota', 'queue']);
    assert.deepEqual(video!.contexts, [InteractionContextType.Guild, InteractionContextType.BotDM]);
    const options = Object.fromEntries((video!.options ?? []).map((o) => [o.name, o as unknown as Record<string, unknown>]));
    assert.deepEqual(Object.keys(options), ['prompt', 'negative', 'frames', 'steps', 'seed', 'guidance', 'fps', 'size']);
    assert.deepEqual([options.prompt!.type, options.prompt!.required, options.prompt!.min_length, options.prompt!.max_length], [ApplicationCommandOptionType.String, true, 1, 500]);
    assert.deepEqual([options.frames!.type, options.frames!.min_value, options.frames!.max_value], [ApplicationCommandOptionType.Integer, 1, 32]);
    assert.deepEqual([options.steps!.min_value, options.steps!.max_value], [1, 50]);
    assert.deepEqual([options.seed!.min_value, options.seed!.max_value], [0, 4_294_967_295]);
    assert.deepEqual([options.guidance!.type, options.guidance!.min_value, options.guidance!.max_value], [ApplicationCommandOptionType.Number, 1, 30]);
    assert.deepEqual([options.fps!.min_value, options.fps!.max_value], [1, 30]);
    assert.match(String(options.frames!.description), /^Number of frames \(1-32, default 16; 1 gives a still image\)$/);
    for (const option of video!.options ?? []) assert.ok(option.description.length <= 100, option.name);
  });

  it('offers only sizes within the limits, marks the default, at most 25', () => {
    const small = sizeChoices(optionRanges({ maxFrames: 32, maxSide: 256, maxSteps: 50, promptMaxLength: 500 }));
    assert.deepEqual(small.map((c) => c.value), ['64x64', '128x128', '256x256']);
    assert.equal(small.find((c) => c.value === '256x256')?.name, '256x256 (square, default)');
    assert.equal(sizeChoices(ranges).find((c) => c.value === '320x192')?.name, '320x192 (landscape)');
    assert.ok(sizeChoices(optionRanges({ maxFrames: 32, maxSide: 2048, maxSteps: 50, promptMaxLength: 500 })).length <= 25);
  });

  it('reads the options of an interaction into VideoOptions, unset ones left to the core defaults', () => {
    const values: Record<string, string | number> = { prompt: 'a cat', size: '320x192', frames: 8, guidance: 7.5 };
    const reader = {
      getString: (name: string) => (typeof values[name] === 'string' ? values[name] : null),
      getInteger: (name: string) => (typeof values[name] === 'number' ? values[name] : null),
      getNumber: (name: string) => (typeof values[name] === 'number' ? values[name] : null),
    } as unknown as Parameters<typeof readVideoOptions>[0];
    assert.deepEqual(readVideoOptions(reader), {
      prompt: 'a cat',
      negativePrompt: undefined,
      frames: 8,
      steps: undefined,
      seed: undefined,
      guidance: 7.5,
      fps: undefined,
      width: 320,
      height: 192,
    });
  });
});

describe('Discord render', () => {
  const job = jobFixture();

  it('round-trips button ids and ignores foreign ones', () => {
    assert.equal(customId('cancel', job.id), `t2v:cancel:${job.id}`);
    assert.deepEqual(parseCustomId(customId('reroll', job.id)), { action: 'reroll', jobId: job.id });
    for (const id of ['other:cancel:x', 't2v:delete:x', 't2v:cancel:', 't2v:cancel:x:y', 'x']) assert.equal(parseCustomId(id), null, id);
    assert.ok(customId('reproduce', job.id).length <= 100);
  });

  it('names threads from the prompt within 100 characters', () => {
    assert.equal(threadName('a cat surfing'), '🎬 a cat surfing');
    assert.ok(threadName('word '.repeat(60)).length <= 100);
  });

  it('shows place and ETA with Cancel while waiting, progress while rendering, no buttons when done', () => {
    const queued = queuedMessage(job, 2, 90);
    assert.equal(queued.embeds?.[0]?.description, '#2 in line, ready in about 2 min\nAsked by <@111>');
    assert.deepEqual(queued.components?.[0]?.components.map((b) => [b.label, b.style, b.custom_id]), [['Cancel', ButtonStyle.Danger, `t2v:cancel:${job.id}`]]);
    assert.deepEqual(queued.allowedMentions, { parse: [] }, 'status messages ping nobody');
    assert.equal(runningMessage(job, 5, 25, 40_000).embeds?.[0]?.description?.split('\n')[0], 'Rendering: ▰▰▱▱▱▱▱▱▱▱ step 5/25, 40 s left');
    const done = doneMessage(job, 'thread');
    assert.equal(done.embeds?.[0]?.description?.split('\n')[0], 'Done. Rendered in 12.3 s; the video is in the thread.');
    assert.deepEqual(done.components, []);
    assert.equal(cancelledMessage(job, '222').embeds?.[0]?.description?.split('\n')[0], 'Cancelled by <@222>.');
    assert.equal(cancelledMessage(job, undefined).embeds?.[0]?.description?.split('\n')[0], 'Cancelled by an admin.');
  });

  it('puts prompt, seed, every parameter, duration and render time on the result, pinging only the requester', () => {
    const result = resultMessage({ ...job, params: { ...job.params, negativePrompt: 'blurry' } });
    assert.equal(result.content, '<@111> your video is ready.');
    assert.deepEqual(result.allowedMentions, { users: ['111'] });
    const embed = result.embeds![0]!;
    assert.equal(embed.title, 'a panda playing guitar on a boat');
    assert.deepEqual(embed.fields?.map((f) => `${f.name}=${f.value}`), [
      'Seed=7',
      'Size=256x256',
      'Frames=16 at 8 fps (2.0 s)',
      'Steps=25',
      'Guidance=9',
      'Negative=blurry',
      'Duration=2.0 s',
      'Render time=12.3 s',
    ]);
    assert.deepEqual(result.components?.[0]?.components.map((b) => b.label), ['Re-roll', 'Same seed again']);
    const still = resultMessage({ ...job, params: { ...job.params, frames: 1 } });
    assert.equal(still.content, '<@111> your image is ready.');
    assert.ok(!still.embeds![0]!.fields!.some((f) => f.name === 'Duration'));
  });

  it('explains a video over the upload limit, with a link when there is one', () => {
    const error = videoBotError(ErrorCode.UploadTooLarge, { bytes: 12_582_912, limit: 10_485_760 });
    assert.equal(tooLargeMessage(job, error, undefined).content, '<@111> The video (12.0 MB) is too large to upload here.');
    assert.equal(tooLargeMessage(job, error, 'https://t2v.example.com/v').content, '<@111> The video (12.0 MB) is too large to upload here. Download it here: https://t2v.example.com/v');
  });

  it('words command-time errors from the core table, naming who may cancel', () => {
    const forbidden = videoBotError(ErrorCode.Forbidden, { action: "cancel another user's video" });
    assert.equal(
      commandErrorMessage(forbidden, 'cancel').content,
      "You are not allowed to cancel another user's video. Only the person who asked for it, a member with the Manage Server permission, or a t2v admin can cancel it.",
    );
    const full = videoBotError(ErrorCode.QueueFull, { queued: 100, limit: 100 });
    assert.equal(commandErrorMessage(full).content, 'The queue is full (100 of 100 videos waiting). Please try again later.');
  });

  it('/quota: used and left today, queued, reset time', () => {
    const status = {
      limits: { videosPerDay: 20, gpuSecondsPerDay: 3600, maxQueued: 3 },
      used: { videos: 3, gpuSeconds: 120.4 },
      left: { videos: 17, gpuSeconds: 3479.6 },
      queued: 1,
      resetAt: '2026-11-23T00:00:00.000Z',
      user: { banned: false },
    } as unknown as UserQuotaStatus;
    assert.equal(
      quotaMessage(status, new Date('2026-11-22T20:40:00Z')).content,
      '**Videos today:** 3 of 20 used, 17 left\n**GPU time today:** 120 of 3600 GPU-seconds used, 3479 left\n**Waiting now:** 1 of at most 3\nResets in 3 h 20 min (00:00 UTC).',
    );
  });

  it('/queue: only the asker\'s jobs, with places, and the size of the queue', () => {
    const mine = jobFixture({ id: 'a', status: 'queued' });
    const running = jobFixture({ id: 'b', status: 'running', progress: { step: 5, totalSteps: 25, etaMs: null } });
    const theirs = jobFixture({ id: 'c', status: 'queued', user: { ...mine.user, platformUserId: '999' } });
    const engine = { ready: true, model: 'demo', demo: true, device: 'cpu' as const, executionProvider: 'cpu' };
    const text = queueMessage('111', {
      running: [{ job: running, etaSeconds: 30 }],
      queued: [
        { job: theirs, position: 1, etaSeconds: 60 },
        { job: mine, position: 2, etaSeconds: 90 },
      ],
      engine,
      workers: [],
    }).content;
    assert.equal(
      text,
      'Your videos:\n• Rendering (step 5/25, ready in 30 s): a panda playing guitar on a boat\n• #2 in line, ready in about 2 min: a panda playing guitar on a boat\nThe queue has 1 rendering and 2 waiting.',
    );
  });
});
