// What every fuzz test shares: one seed (FUZZ_SEED overrides it, so a failure can be replayed exactly), bounded run
// counts (FUZZ_RUNS overrides them, for a longer hunt by hand), the checks for "a plain sentence", a watch for
// unhandled rejections, and hostile values that generators mix into otherwise ordinary input.
import assert from 'node:assert/strict';
import fc from 'fast-check';

const DEFAULT_SEED = 1_207_2024;

function seedFromEnvironment(): number {
  const raw = process.env.FUZZ_SEED;
  if (raw === undefined || raw.trim() === '') return DEFAULT_SEED;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be a whole number (got "${raw}")`);
  return seed;
}

export const FUZZ_SEED = seedFromEnvironment();

function runsFromEnvironment(): number | undefined {
  const raw = process.env.FUZZ_RUNS;
  if (raw === undefined || raw.trim() === '') return undefined;
  const runs = Number(raw);
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`FUZZ_RUNS must be a whole number from 1 (got "${raw}")`);
  return runs;
}

const RUNS_OVERRIDE = runsFromEnvironment();

/**
 * Runs a property with the shared seed and a bounded number of runs. On failure the error names the seed and how to
 * replay it; fast-check's own report (counterexample, shrink path) follows.
 */
export async function checkProperty<Ts extends [unknown, ...unknown[]]>(
  property: fc.IProperty<Ts> | fc.IAsyncProperty<Ts>,
  numRuns: number,
  examples: Ts[] = [],
): Promise<void> {
  try {
    await fc.assert(property as fc.IAsyncProperty<Ts>, { seed: FUZZ_SEED, numRuns: RUNS_OVERRIDE ?? numRuns, examples, includeErrorInReport: true });
  } catch (error) {
    const report = error instanceof Error ? error.message : String(error);
    throw new Error(`Fuzz property failed with FUZZ_SEED=${FUZZ_SEED} (replay: FUZZ_SEED=${FUZZ_SEED} node scripts/test.mjs fuzz/)\n${report}`, { cause: error });
  }
}

/**
 * Unhandled rejections and uncaught exceptions while the watch is on, so that a property fails on the input that
 * left one behind (node:test would only blame the file). `events` is the process, or a stand-in in the harness's test.
 */
export class CrashWatch {
  readonly #seen: unknown[] = [];
  readonly #events: Pick<NodeJS.EventEmitter, 'on' | 'off'>;
  readonly #onRejection = (reason: unknown) => void this.#seen.push(reason);
  readonly #onException = (error: unknown) => void this.#seen.push(error);

  constructor(events: Pick<NodeJS.EventEmitter, 'on' | 'off'> = process) {
    this.#events = events;
    events.on('unhandledRejection', this.#onRejection);
    events.on('uncaughtException', this.#onException);
  }

  /** Waits a turn of the event loop, so a rejection left behind by the last request has been reported. */
  async assertNone(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    const seen = this.#seen.splice(0);
    assert.deepEqual(seen.map(String), [], 'no unhandled rejection or uncaught exception');
  }

  stop(): void {
    this.#events.off('unhandledRejection', this.#onRejection);
    this.#events.off('uncaughtException', this.#onException);
  }
}

const STACK_TRACE = /\n\s+at \S|\bat .+\.(ts|js|mjs|cjs):\d+/;

/**
 * A message a person can read: non-empty text, no stack trace, no leaked object, no "undefined" or "NaN" the
 * sender did not type. `sent` is the input the message may quote.
 */
export function assertPlainText(message: unknown, sent = '', context = ''): asserts message is string {
  const where = context === '' ? '' : ` (${context})`;
  assert.equal(typeof message, 'string', `the message is text${where}`);
  const text = message as string;
  assert.ok(text.trim().length > 0, `the message is not empty${where}`);
  assert.doesNotMatch(text, STACK_TRACE, `no stack trace in ${JSON.stringify(text)}${where}`);
  assert.ok(!text.includes('[object Object]') || sent.includes('[object Object]'), `no [object Object] in ${JSON.stringify(text)}${where}`);
  for (const word of ['undefined', 'NaN']) {
    assert.ok(!new RegExp(`\\b${word}\\b`).test(text) || sent.includes(word), `no stray "${word}" in ${JSON.stringify(text)}${where}`);
  }
}

/** A plain sentence: plain text that ends like a sentence. */
export function assertPlainSentence(message: unknown, sent = '', context = ''): asserts message is string {
  assertPlainText(message, sent, context);
  assert.match((message as string).trimEnd(), /[.!?]$/, `${JSON.stringify(message)} ends like a sentence${context === '' ? '' : ` (${context})`}`);
}

/** Keys that trip code which treats objects as maps. */
export const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'isPrototypeOf'] as const;

/** Texts that look like numbers to some readers and not to others, plus whitespace, control and odd unicode. */
export const ODD_TEXTS = [
  '',
  ' ',
  '\t\n',
  'NaN',
  'nan',
  'Infinity',
  '-Infinity',
  'undefined',
  'null',
  'true',
  '-0',
  '0x10',
  '0b11',
  '0o7',
  '1e3',
  '1e309',
  '16.0',
  ' 16 ',
  '16abc',
  '١٦',
  '１６',
  '1_000',
  '\u0000',
  '\u202e16',
  '\ud800',
  '😀',
  'e\u0301',
  '<script>alert(1)</script>',
  '{"a":1}',
  '[object Object]',
  '%s%n',
  '../../etc/passwd',
  ...PROTOTYPE_KEYS,
] as const;

/** Numbers at and around the limits of every option and setting, and past what JSON numbers and int32 hold. */
export const EDGE_NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.5,
  7,
  8,
  9.5,
  16,
  25,
  30,
  31,
  32,
  33,
  50,
  63,
  64,
  100,
  101,
  256,
  500,
  501,
  512,
  513,
  1_000_000,
  100_000_000,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 2,
  1e21,
  1e308,
  -1e308,
  Number.MIN_VALUE,
  Number.EPSILON,
] as const;

/** Any text: short odd strings, unicode, numbers as text, and now and then one past every length limit. */
export const anyText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...ODD_TEXTS) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 2, arbitrary: fc.constantFrom(...EDGE_NUMBERS).map(String) },
  { weight: 1, arbitrary: fc.constantFrom(129, 201, 257, 501, 2_000, 10_001).map((n) => 'x'.repeat(n)) },
);

/** Any number JSON can carry, favouring the edges. */
export const anyNumber: fc.Arbitrary<number> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...EDGE_NUMBERS) },
  { weight: 2, arbitrary: fc.integer({ min: -1_000, max: 5_000 }) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
);

/** Any JSON value, with hostile texts, edge numbers and prototype keys mixed in, nested a few levels. */
export const anyJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    anyText,
    anyNumber,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS), fc.string({ maxLength: 8 })), tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** JSON nested `depth` levels deep, as text (JSON.stringify would recurse as deep). */
export function deeplyNested(depth: number, open: '[' | '{"a":'): string {
  const close = open === '[' ? ']' : '}';
  return `${open.repeat(depth)}1${close.repeat(depth)}`;
}
