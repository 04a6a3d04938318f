// Mirrors transformers src/transformers/models/clip/tokenization_clip.py (the slow `CLIPTokenizer`,
// transformers 4.37, the version diffusers 0.26.3 pipelines were published with), on the path taken
// when ftfy is not installed (text cleanup by transformers' `BasicTokenizer`).
//
// Why hand-written rather than @huggingface/tokenizers: that library only loads a tokenizer.json,
// which diffusers model folders do not ship, and its CLIP normaliser is the *fast* tokenizer's. The
// reference ids come from the slow tokenizer, which differs on inputs users type: it puts spaces
// around CJK ideographs before BPE (so 一只熊猫 is four words, not one), drops control and unassigned
// characters, and splits every special token, including the SD2 pad token `!`, out of the text
// before any cleanup (`!!!` is three ids 0, not the BPE of `!!!`). Reproducing that on top of a
// synthesised tokenizer.json would still need most of this file; the BPE itself is 40 lines.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What `tokenizer(prompt, padding="max_length", max_length, truncation=True)` returns. */
export interface CLIPTokenizerOutput {
  /** bos + up to maxLength-2 tokens + eos, then pad ids up to maxLength. */
  inputIds: number[];
  /** 1 for bos, tokens and eos; 0 for padding. */
  attentionMask: number[];
  /** Length with bos and eos before truncation; more than maxLength means the prompt was cut. */
  untruncatedLength: number;
}

export interface CLIPTokenizerCallOptions {
  /** Defaults to the tokenizer's model_max_length (77 for CLIP). */
  maxLength?: number;
}

/** The tokenizer_config.json / special_tokens_map.json keys this tokenizer reads. */
export interface CLIPTokenizerConfig {
  bos_token: string;
  eos_token: string;
  unk_token: string;
  /** SD2 and text-to-video-ms-1.7b use "!" (id 0); CLIP's own default is <|endoftext|>. */
  pad_token: string;
  model_max_length: number;
  /** Extra tokens that are split out of the text verbatim, like the special tokens. */
  additional_special_tokens: string[];
}

/** CLIPTokenizer's constructor defaults (transformers), used for keys a config leaves out. */
const DEFAULT_CONFIG: CLIPTokenizerConfig = {
  bos_token: '<|startoftext|>',
  eos_token: '<|endoftext|>',
  unk_token: '<|endoftext|>',
  pad_token: '<|endoftext|>',
  model_max_length: 77,
  additional_special_tokens: [],
};

// transformers writes model_max_length = int(1e30) when a config has no limit; CLIP's position
// embeddings stop at 77, which is the value transformers itself falls back to for CLIP checkpoints.
const NO_LIMIT_SENTINEL = 1e29;

// The slow tokenizer keeps only the first 49152 - 256 - 2 merges of merges.txt (OpenCLIP's vocabulary
// size minus the byte symbols and the two special tokens); extra lines in a file are ignored.
const MAX_MERGES = 49152 - 256 - 2;

// A long-running bot sees an open-ended stream of words; past this many cached BPE results the cache
// starts over rather than growing without bound (about 100 bytes per entry).
const MAX_CACHED_WORDS = 100_000;

// CLIP's pre-tokenisation pattern, run on already lower-cased text.
const CLIP_PATTERN =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

export class CLIPTokenizer {
  readonly bosTokenId: number;
  readonly eosTokenId: number;
  readonly padTokenId: number;
  readonly modelMaxLength: number;

  private readonly encoder: Map<string, number>;
  private readonly bpeRanks: Map<string, number>;
  private readonly unkTokenId: number;
  /** Special-token strings, longest first, with their ids: split out of the text before cleanup. */
  private readonly specialTokens: Array<[string, number]>;
  /** BPE results per byte-encoded word; pre-seeded like the slow tokenizer's cache. */
  private readonly cache = new Map<string, string[]>();

  constructor(vocab: Record<string, number>, merges: string[], config: Partial<CLIPTokenizerConfig> = {}) {
    const cfg = { ...DEFAULT_CONFIG, ...config };
    this.encoder = new Map(Object.entries(vocab));
    this.bpeRanks = new Map();
    merges.slice(0, MAX_MERGES).forEach((merge, rank) => {
      const parts = merge.split(' ');
      if (parts.length !== 2) throw new Error(`merges.txt line ${rank + 2} is not "left right": ${JSON.stringify(merge)}`);
      this.bpeRanks.set(merge, rank);
    });
    this.unkTokenId = this.requireId(cfg.unk_token, 'unk_token');
    this.bosTokenId = this.requireId(cfg.bos_token, 'bos_token');
    this.eosTokenId = this.requireId(cfg.eos_token, 'eos_token');
    this.padTokenId = this.requireId(cfg.pad_token, 'pad_token');
    this.modelMaxLength = cfg.model_max_length > NO_LIMIT_SENTINEL ? DEFAULT_CONFIG.model_max_length : cfg.model_max_length;
    if (!Number.isInteger(this.modelMaxLength) || this.modelMaxLength < 2) {
      throw new Error(`tokenizer model_max_length must be an integer >= 2, got ${cfg.model_max_length}`);
    }
    const specials = new Set([cfg.bos_token, cfg.eos_token, cfg.unk_token, cfg.pad_token, ...cfg.additional_special_tokens]);
    this.specialTokens = [...specials]
      .map((token): [string, number] => [token, this.encoder.get(token) ?? this.unkTokenId])
      .sort((a, b) => b[0].length - a[0].length);
    this.seedCache();
  }

  // The slow tokenizer maps the special-token strings to themselves, reached when an upper-case
  // <|STARTOFTEXT|> escapes the special-token split and is lower-cased into one.
  private seedCache(): void {
    this.cache.clear();
    this.cache.set('<|startoftext|>', ['<|startoftext|>']);
    this.cache.set('<|endoftext|>', ['<|endoftext|>']);
  }

  /**
   * Loads a diffusers `tokenizer/` folder: vocab.json, merges.txt and, when present,
   * tokenizer_config.json and special_tokens_map.json (the latter wins, as in transformers).
   */
  static async fromPretrained(dir: string): Promise<CLIPTokenizer> {
    const [vocabText, mergesText, tokenizerConfig, specialTokensMap] = await Promise.all([
      readRequired(join(dir, 'vocab.json')),
      readRequired(join(dir, 'merges.txt')),
      readOptionalJson(join(dir, 'tokenizer_config.json')),
      readOptionalJson(join(dir, 'special_tokens_map.json')),
    ]);
    const vocab = parseJson(vocabText, join(dir, 'vocab.json'));
    if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab)) {
      throw new Error(`${join(dir, 'vocab.json')} must be a JSON object of token -> id`);
    }
    // First line is the "#version: 0.2" header, as the slow tokenizer assumes.
    const merges = mergesText.trim().split('\n').slice(1).map((line) => line.replace(/\r$/, ''));
    const fromConfig = readTokenizerConfig(tokenizerConfig);
    const fromMap = readTokenizerConfig(specialTokensMap);
    const config: Partial<CLIPTokenizerConfig> = {
      ...fromConfig,
      ...fromMap,
      additional_special_tokens: [...(fromConfig.additional_special_tokens ?? []), ...(fromMap.additional_special_tokens ?? [])],
    };
    return new CLIPTokenizer(vocab as Record<string, number>, merges, config);
  }

  /** Mirrors `tokenizer(text, padding="max_length", max_length=maxLength, truncation=True)`. */
  call(text: string, options: CLIPTokenizerCallOptions = {}): CLIPTokenizerOutput {
    const maxLength = options.maxLength ?? this.modelMaxLength;
    if (!Number.isInteger(maxLength) || maxLength < 2) throw new Error(`maxLength must be an integer >= 2, got ${maxLength}`);
    const ids = this.encode(text);
    const kept = ids.slice(0, maxLength - 2);
    const inputIds = [this.bosTokenId, ...kept, this.eosTokenId];
    const attentionMask = inputIds.map(() => 1);
    while (inputIds.length < maxLength) {
      inputIds.push(this.padTokenId);
      attentionMask.push(0);
    }
    return { inputIds, attentionMask, untruncatedLength: ids.length + 2 };
  }

  /** Token ids of `text` without bos/eos, truncation or padding. */
  encode(text: string): number[] {
    return this.tokenize(text).map((token) => this.encoder.get(token) ?? this.unkTokenId);
  }

  /** BPE tokens (vocabulary strings) of `text`, special tokens included verbatim. */
  tokenize(text: string): string[] {
    const tokens: string[] = [];
    for (const piece of this.splitOnSpecialTokens(text)) {
      if (piece.special) tokens.push(piece.text);
      else for (const word of preTokenize(piece.text)) tokens.push(...this.bpe(byteEncode(word)));
    }
    return tokens;
  }

  /** Leftmost-longest split on special-token strings (transformers' added-tokens Trie). */
  private splitOnSpecialTokens(text: string): Array<{ text: string; special: boolean }> {
    const pieces: Array<{ text: string; special: boolean }> = [];
    let start = 0;
    let i = 0;
    while (i < text.length) {
      const match = this.specialTokens.find(([token]) => text.startsWith(token, i));
      if (match === undefined) {
        i += 1;
        continue;
      }
      if (i > start) pieces.push({ text: text.slice(start, i), special: false });
      pieces.push({ text: match[0], special: true });
      i += match[0].length;
      start = i;
    }
    if (start < text.length) pieces.push({ text: text.slice(start), special: false });
    return pieces;
  }

  /** Byte-pair merging of one byte-encoded word, `</w>` marking its last symbol. */
  private bpe(word: string): string[] {
    const cached = this.cache.get(word);
    if (cached !== undefined) return cached;
    const chars = [...word];
    let symbols = [...chars.slice(0, -1), `${chars[chars.length - 1]}</w>`];
    while (symbols.length > 1) {
      let bestRank = Infinity;
      let bestPair = '';
      for (let i = 0; i < symbols.length - 1; i++) {
        const pair = `${symbols[i]} ${symbols[i + 1]}`;
        const rank = this.bpeRanks.get(pair);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          bestPair = pair;
        }
      }
      if (bestRank === Infinity) break;
      const [first, second] = bestPair.split(' ') as [string, string];
      const merged: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (symbols[i] === first && symbols[i + 1] === second) {
          merged.push(first + second);
          i += 1;
        } else {
          merged.push(symbols[i] as string);
        }
      }
      symbols = merged;
    }
    if (this.cache.size >= MAX_CACHED_WORDS) this.seedCache();
    this.cache.set(word, symbols);
    return symbols;
  }

  private requireId(token: string, key: string): number {
    const id = this.encoder.get(token);
    if (id === undefined) throw new Error(`tokenizer ${key} ${JSON.stringify(token)} is not in vocab.json`);
    return id;
  }
}

/**
 * BasicTokenizer(do_lower_case=True, strip_accents=False, do_split_on_punc=False) followed by the
 * CLIP pattern: the words that go into BPE.
 */
function preTokenize(text: string): string[] {
  const cleaned = [...text]
    .filter((ch) => ch !== '\0' && ch !== '\uFFFD' && !isControl(ch))
    .map((ch) => (isWhitespace(ch) ? ' ' : isChineseChar(ch.codePointAt(0) as number) ? ` ${ch} ` : ch))
    .join('')
    .normalize('NFC');
  const words = splitPythonWhitespace(cleaned).map((word) => word.toLowerCase());
  return words.join(' ').toLowerCase().match(CLIP_PATTERN) ?? [];
}

// BasicTokenizer._is_whitespace: these four plus category Zs.
function isWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || /\p{Zs}/u.test(ch);
}

// BasicTokenizer._is_control: any category C* (control, format, surrogate, private use, unassigned)
// except the three whitespace controls, which became spaces.
function isControl(ch: string): boolean {
  return ch !== '\t' && ch !== '\n' && ch !== '\r' && /\p{C}/u.test(ch);
}

// BasicTokenizer._is_chinese_char: the CJK Unified Ideographs blocks (not Hiragana, Katakana or Hangul).
function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

// Python's str.split() with no argument. After cleanup the only whitespace left is the space and the
// line/paragraph separators U+2028/U+2029 (categories Zl/Zp, which are neither Zs nor C*).
function splitPythonWhitespace(text: string): string[] {
  return text.split(/[ \u2028\u2029]+/u).filter((word) => word.length > 0);
}

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes map to themselves, the rest to U+0100 onwards,
// so that BPE never sees whitespace or control characters.
const BYTE_ENCODER: string[] = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable(b) ? b : next++);
  return table;
})();

function byteEncode(word: string): string {
  let out = '';
  for (const b of Buffer.from(word, 'utf8')) out += BYTE_ENCODER[b];
  return out;
}

/** Special-token keys of tokenizer_config.json / special_tokens_map.json (strings or AddedToken objects). */
function readTokenizerConfig(json: unknown): Partial<CLIPTokenizerConfig> {
  if (typeof json !== 'object' || json === null) return {};
  const record = json as Record<string, unknown>;
  const config: Partial<CLIPTokenizerConfig> = {};
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token'] as const) {
    const token = tokenContent(record[key]);
    if (token !== undefined) config[key] = token;
  }
  if (typeof record.model_max_length === 'number') config.model_max_length = record.model_max_length;
  const additional = [
    ...(Array.isArray(record.additional_special_tokens) ? record.additional_special_tokens : []),
    // Newer configs list every added token (id -> AddedToken) here.
    ...(typeof record.added_tokens_decoder === 'object' && record.added_tokens_decoder !== null
      ? Object.values(record.added_tokens_decoder as Record<string, unknown>)
      : []),
  ]
    .map(tokenContent)
    .filter((token): token is string => token !== undefined);
  if (additional.length > 0) config.additional_special_tokens = additional;
  return config;
}

function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

async function readRequired(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read tokenizer file ${path}: the model folder needs tokenizer/vocab.json and tokenizer/merges.txt`, {
      cause: error,
    });
  }
}

async function readOptionalJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return parseJson(text, path);
}

function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}
