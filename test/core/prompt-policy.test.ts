import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findBannedWord } from '../../src/core/prompt-policy.js';

describe('findBannedWord', () => {
  it('matches whole words and phrases, case-insensitively and after NFKC normalization', () => {
    assert.equal(findBannedWord('A GORE scene', ['gore']), 'gore');
    assert.equal(findBannedWord('a gory scene', ['gore']), undefined);
    assert.equal(findBannedWord('a classy cat', ['ass']), undefined);
    assert.equal(findBannedWord('ｇｏｒｅ!', ['gore']), 'gore');
    assert.equal(findBannedWord('the  red   room at night', ['red room']), 'red room');
    assert.equal(findBannedWord('credit room', ['red room']), undefined);
    assert.equal(findBannedWord('anything', []), undefined);
    assert.equal(findBannedWord('a (c++) logo', ['c++']), 'c++');
  });
});
