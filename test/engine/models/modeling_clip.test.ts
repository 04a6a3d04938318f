// CLIPTextModel against the transformers goldens (the goldens folder's text_encoder/, README section 2): every
// case the folder has, with its own config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listReferenceCases, readReferenceCase } from '../../../src/engine/reference_cases.js';
import { assertGoldenCases, GOLDENS_DIR, openGoldenNetwork } from '../goldens.js';
import { i64, maxAbsDiff } from '../graph-helpers.js';

for (const dtype of ['float32', 'float16'] as const) {
  test(`CLIPTextModel ${dtype} last_hidden_state matches transformers on every golden case (causal mask only)`, (t) => assertGoldenCases(t, 'text_encoder', dtype));
}

test('CLIPTextModel accepts sequences shorter than max_position_embeddings', async () => {
  // The causal mask makes the first k positions independent of later tokens: encoding the first k ids of a
  // golden row alone must give the first k rows of the full row's encoding (checked against the reference above).
  const [first] = await listReferenceCases(GOLDENS_DIR, 'text_encoder');
  assert.ok(first !== undefined, 'the goldens have a text encoder case');
  const c = await readReferenceCase(first);
  const ids = c.feeds.input_ids!.data as BigInt64Array;
  const length = c.feeds.input_ids!.dims[1]!;
  const hidden = c.expectedDims.at(-1)!;
  const k = Math.min(10, length - 1);
  const { session, dispose } = await openGoldenNetwork('text_encoder', 'float32');
  try {
    const full = (await session.run({ input_ids: i64(ids.slice(0, length), [1, length]) })).last_hidden_state!.data as Float32Array;
    const out = (await session.run({ input_ids: i64(ids.slice(0, k), [1, k]) })).last_hidden_state!;
    assert.deepEqual(out.dims, [1, k, hidden]);
    const err = maxAbsDiff(out.data as Float32Array, full.subarray(0, k * hidden));
    assert.ok(err <= 1e-5, `max abs error ${err}`);
  } finally {
    await dispose();
  }
});
