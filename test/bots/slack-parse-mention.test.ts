import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { optionRanges, resolveRenderParams } from '../../src/core/requests.js';
import { decodeSlackText, FLAGS, helpText, parseVideoRequest } from '../../src/bots/slack/parse-mention.js';

const BOT = 'U0T2VBOT';
const limits = { maxFrames: 32, maxSide: 512, maxSteps: 50, promptMaxLength: 500 };

describe('parseVideoRequest', () => {
  it('reads the prompt and flags of a mention, with quotes and --flag=value', () => {
    assert.deepEqual(parseVideoRequest(`<@${BOT}> a panda playing guitar --frames 16 --seed 7 --neg "blurry, low quality"`, BOT), {
      kind: 'request',
      options: { prompt: 'a panda playing guitar', frames: '16', seed: '7', negativePrompt: 'blurry, low quality' },
    });
    assert.deepEqual(parseVideoRequest(`<@${BOT}> --steps=20 a cat --guidance=7.5 surfing --size 320x192`, BOT), {
      kind: 'request',
      options: { prompt: 'a cat surfing', steps: '20', guidance: '7.5', width: '320', height: '192' },
    });
  });

  it('accepts aliases, curly quotes and the dashes Slack clients make of "--"', () => {
    assert.deepEqual(parseVideoRequest('a fox —negative “snow, fog” –cfg 12', BOT), {
      kind: 'request',
      options: { prompt: 'a fox', negativePrompt: 'snow, fog', guidance: '12' },
    });
    assert.deepEqual(parseVideoRequest('a fox — in the snow', BOT), { kind: 'request', options: { prompt: 'a fox — in the snow' } }, 'a dash in the prompt stays');
  });

  it('keeps quoted text and lone dashes in the prompt', () => {
    assert.deepEqual(parseVideoRequest(`"--frames is not a flag here" -- ok`, BOT), {
      kind: 'request',
      options: { prompt: '--frames is not a flag here -- ok' },
    });
  });

  it('decodes Slack escaping and mentions, removing only the bot', () => {
    assert.equal(decodeSlackText(`<@${BOT}> cats &amp; dogs &lt;3 <@U0ALICE> <#C0VIDEOS|videos> <https://example.com|site>`, BOT).trim(), 'cats & dogs <3 U0ALICE videos site');
    assert.deepEqual(parseVideoRequest(`<@${BOT}> cats &amp; dogs`, BOT), { kind: 'request', options: { prompt: 'cats & dogs' } });
  });

  it('rejects unknown, repeated, value-less and conflicting flags, and unclosed quotes', () => {
    assert.deepEqual(parseVideoRequest('a cat --fames 16', BOT), { kind: 'error', message: '--fames is not an option I know.' });
    assert.deepEqual(parseVideoRequest('a cat --seed 1 --seed 2', BOT), { kind: 'error', message: '--seed is given twice.' });
    assert.deepEqual(parseVideoRequest('a cat --neg --seed 2', BOT), { kind: 'error', message: '--neg needs a value ("text").' });
    assert.deepEqual(parseVideoRequest('a cat --frames', BOT), { kind: 'error', message: '--frames needs a value (N).' });
    assert.deepEqual(parseVideoRequest('a cat --size 64x64 --width 128', BOT), { kind: 'error', message: 'Give either --size or --width/--height, not both.' });
    assert.deepEqual(parseVideoRequest('a cat --size big', BOT), { kind: 'error', message: '--size must look like 256x256 (got "big").' });
    assert.deepEqual(parseVideoRequest('a cat --neg "blurry', BOT), { kind: 'error', message: 'A quote (") is not closed.' });
    assert.deepEqual(parseVideoRequest('--seed 3', BOT), { kind: 'error', message: 'Add a prompt: what the video should show.' });
  });

  it('asks for help on an empty mention or --help', () => {
    assert.deepEqual(parseVideoRequest(`<@${BOT}>`, BOT), { kind: 'help' });
    assert.deepEqual(parseVideoRequest('a cat --help', BOT), { kind: 'help' });
  });

  it('leaves range checks to the core, which names the allowed values', () => {
    const parsed = parseVideoRequest('a cat --frames 999 --size 100x64', BOT);
    assert.equal(parsed.kind, 'request');
    assert.throws(
      () => resolveRenderParams(parsed.kind === 'request' ? parsed.options : { prompt: '' }, limits),
      /frames must be a whole number from 1 to 32 \(got "999"\)\. width must be a whole number from 64 to 512, a multiple of 8 \(got "100"\)\./,
    );
  });
});

describe('helpText', () => {
  it('documents every flag with the ranges of the core', () => {
    const help = helpText(optionRanges(limits), '@t2v-bot');
    for (const flag of FLAGS) assert.match(help, new RegExp(`\`--${flag.name} `), flag.name);
    assert.match(help, /`--frames N`: 1 to 32, default 16; 1 gives a still image/);
    assert.match(help, /`--steps N`: 1 to 50, default 25/);
    assert.match(help, /`--seed N`: 0 to 4294967295, random by default/);
    assert.match(help, /`--size WxH`: width x height, each 64 to 512 in steps of 8 \(default 256x256\)/);
    assert.match(help, /`--guidance X` \(or `--cfg`\): 1 to 30, default 9/);
    assert.match(help, /up to 500 characters/);
  });
});
