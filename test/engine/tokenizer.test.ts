import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CLIPTokenizer } from '../../src/engine/models/clip/tokenization_clip.js';

const TOKENIZER_DIR = 'test/fixtures/goldens/tokenizer';

interface GoldenCase {
  prompt: string;
  input_ids: number[];
  attention_mask: number[];
  tokens: string[];
  untruncated_length: number;
}
const golden = JSON.parse(readFileSync('test/fixtures/goldens/tokenizer_golden.json', 'utf8')) as {
  bos_token_id: number;
  eos_token_id: number;
  pad_token_id: number;
  cases: GoldenCase[];
};

const tokenizer = await CLIPTokenizer.fromPretrained(TOKENIZER_DIR);

test('loads the SD2-style tokenizer folder with its special ids', () => {
  assert.equal(tokenizer.bosTokenId, golden.bos_token_id);
  assert.equal(tokenizer.eosTokenId, golden.eos_token_id);
  assert.equal(tokenizer.padTokenId, golden.pad_token_id);
  assert.equal(tokenizer.modelMaxLength, 77);
});

test('matches the reference ids on every golden prompt', () => {
  assert.equal(golden.cases.length, 30);
  for (const c of golden.cases) {
    assert.deepEqual(tokenizer.tokenize(c.prompt), c.tokens, `tokens of ${JSON.stringify(c.prompt)}`);
    const out = tokenizer.call(c.prompt);
    assert.deepEqual(out.inputIds, c.input_ids, `ids of ${JSON.stringify(c.prompt)}`);
    assert.deepEqual(out.attentionMask, c.attention_mask, `mask of ${JSON.stringify(c.prompt)}`);
    assert.equal(out.untruncatedLength, c.untruncated_length, `untruncated length of ${JSON.stringify(c.prompt)}`);
  }
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
  await assert.rejects(CLIPTokenizer.fromPretrained('test/fixtures/goldens/scheduler'), /vocab\.json/);
});

test('upper-case special-token strings still map to the special ids, as in the slow tokenizer', () => {
  assert.deepEqual(tokenizer.encode('<|STARTOFTEXT|>'), [49406]);
});
