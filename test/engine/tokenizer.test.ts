import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CLIPTokenizer } from '../../src/engine/models/clip/tokenization_clip.js';
import { FIXTURE_GOLDENS_DIR, goldensPath, readTokenizerGolden } from './goldens.js';

// Parity: the tokenizer folder and tokenizer_golden.json of the goldens folder (T2V_GOLDENS_DIR).
const golden = await readTokenizerGolden();
const goldenTokenizer = await CLIPTokenizer.fromPretrained(goldensPath('tokenizer'));

test('loads the goldens tokenizer folder with its special ids', () => {
  assert.equal(goldenTokenizer.bosTokenId, golden.bos_token_id);
  assert.equal(goldenTokenizer.eosTokenId, golden.eos_token_id);
  assert.equal(goldenTokenizer.padTokenId, golden.pad_token_id);
});

test('matches the reference ids on every golden prompt', () => {
  for (const c of golden.cases) {
    const what = JSON.stringify(c.prompt);
    // The pipeline tokenizes to model_max_length, as the goldens were made.
    assert.equal(c.input_ids.length, goldenTokenizer.modelMaxLength, `length of the ids of ${what}`);
    const out = goldenTokenizer.call(c.prompt);
    assert.deepEqual(out.inputIds, c.input_ids, `ids of ${what}`);
    if (c.tokens !== undefined) assert.deepEqual(goldenTokenizer.tokenize(c.prompt), c.tokens, `tokens of ${what}`);
    if (c.attention_mask !== undefined) assert.deepEqual(out.attentionMask, c.attention_mask, `mask of ${what}`);
    if (c.untruncated_length !== undefined) assert.equal(out.untruncatedLength, c.untruncated_length, `untruncated length of ${what}`);
  }
});

// Behaviours of the SD2-style tokenizer in this repository's fixtures (pad token "!", 77 tokens).
const TOKENIZER_DIR = `${FIXTURE_GOLDENS_DIR}/tokenizer`;
const tokenizer = await CLIPTokenizer.fromPretrained(TOKENIZER_DIR);

test('the fixture tokenizer has the SD2 special ids and length', () => {
  assert.deepEqual([tokenizer.bosTokenId, tokenizer.eosTokenId, tokenizer.padTokenId, tokenizer.modelMaxLength], [49406, 49407, 0, 77]);
});

test('the pad token "!" is split out as a special token', () => {
  assert.deepEqual(tokenizer.encode('wow!!'), [...tokenizer.encode('wow'), 0, 0]);
});

test('truncation keeps bos and eos at any maxLength', () => {
  const ids = tokenizer.call('a a a a a a a a', { maxLength: 5 }).inputIds;
  assert.deepEqual(ids, [49406, 320, 320, 320, 49407]);
  assert.throws(() => tokenizer.call('a', { maxLength: 1 }), /maxLength must be an integer >= 2/);
});

test('other CLIP configs pad with <|endoftext|>', () => {
  const vocab = JSON.parse(readFileSync(`${TOKENIZER_DIR}/vocab.json`, 'utf8')) as Record<string, number>;
  const merges = readFileSync(`${TOKENIZER_DIR}/merges.txt`, 'utf8').trim().split('\n').slice(1);
  const clip = new CLIPTokenizer(vocab, merges);
  const out = clip.call('wow!!', { maxLength: 8 });
  assert.equal(clip.padTokenId, 49407);
  // Without "!" as the pad token, "!!" is ordinary text and goes through BPE.
  assert.notDeepEqual(out.inputIds.slice(2, 4), [0, 0]);
  assert.deepEqual(out.inputIds.slice(-2), [49407, 49407]);
  assert.deepEqual(out.attentionMask.slice(-2), [0, 0]);
});

test('a folder without vocab.json fails with a message naming the file', async () => {
  await assert.rejects(CLIPTokenizer.fromPretrained(`${FIXTURE_GOLDENS_DIR}/scheduler`), /vocab\.json/);
});

test('upper-case special-token strings still map to the special ids, as in the slow tokenizer', () => {
  assert.deepEqual(tokenizer.encode('<|STARTOFTEXT|>'), [49406]);
});
