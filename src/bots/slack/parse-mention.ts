// Parses what people type to the bot in Slack, as an app mention or after /video:
//   @t2v-bot a panda playing guitar on a boat --frames 16 --seed 7 --neg "blurry, text"
// Words that are not flags make the prompt. Flags take one value, as `--flag value` or `--flag=value`; values with
// spaces go in quotes ("…", '…', or the curly quotes Slack's clients type). Unknown or repeated flags are rejected,
// so a typo never silently turns into part of the prompt or a default. Numbers are passed on as text: the core checks
// them against the one set of ranges (core/requests.ts) and names the allowed values; the help text shows the same
// ranges. Slack escapes &, < and > in message text and wraps mentions and links in <…>; those are decoded first.
// Hand-written rather than a CLI parser (commander, yargs): those read process argv arrays, reject nothing useful
// for chat text, and know neither Slack's escaping nor curly quotes.
// @see https://docs.slack.dev/messaging/formatting-message-text#escaping
import type { OptionRanges, VideoOptions } from '../../core/requests.js';

export interface FlagSpec {
  /** Canonical name, shown in help. */
  name: string;
  aliases: readonly string[];
  /** The VideoOptions fields it sets (size sets width and height). */
  sets: 'negativePrompt' | 'frames' | 'steps' | 'seed' | 'guidance' | 'fps' | 'width' | 'height' | 'size';
  value: string;
  help: (ranges: OptionRanges) => string;
}

export const FLAGS: readonly FlagSpec[] = [
  { name: 'neg', aliases: ['negative'], sets: 'negativePrompt', value: '"text"', help: () => 'what the video should avoid' },
  { name: 'frames', aliases: [], sets: 'frames', value: 'N', help: (r) => `${rangeHelp(r.frames)}; 1 gives a still image` },
  { name: 'steps', aliases: [], sets: 'steps', value: 'N', help: (r) => `${rangeHelp(r.steps)}; more is slower and finer` },
  { name: 'seed', aliases: [], sets: 'seed', value: 'N', help: (r) => `${rangeHelp(r.seed)}; the same seed and options give the same video` },
  { name: 'guidance', aliases: ['cfg'], sets: 'guidance', value: 'X', help: (r) => `${rangeHelp(r.guidance)}; how closely to follow the prompt` },
  { name: 'fps', aliases: [], sets: 'fps', value: 'N', help: (r) => rangeHelp(r.fps) },
  { name: 'size', aliases: [], sets: 'size', value: 'WxH', help: (r) => `width x height, each ${sideHelp(r)} (default ${r.width.default}x${r.height.default})` },
  { name: 'width', aliases: [], sets: 'width', value: 'N', help: (r) => sideHelp(r) },
  { name: 'height', aliases: [], sets: 'height', value: 'N', help: (r) => sideHelp(r) },
];

function rangeHelp(range: { min: number; max: number; default: number | undefined }): string {
  return `${range.min} to ${range.max}${range.default === undefined ? ', random by default' : `, default ${range.default}`}`;
}

function sideHelp(ranges: OptionRanges): string {
  return `${ranges.width.min} to ${ranges.width.max} in steps of ${ranges.width.multipleOf ?? 1}`;
}

export type ParsedRequest =
  | { kind: 'request'; options: VideoOptions }
  /** Nothing but the mention (or --help): show how to use the bot. */
  | { kind: 'help' }
  /** What is wrong, in one sentence; show it with the help text. */
  | { kind: 'error'; message: string };

interface Token {
  text: string;
  /** Quoted text is never a flag. */
  quoted: boolean;
}

const QUOTES: Record<string, string> = { '"': '"', "'": "'", '“': '”', '„': '“', '‘': '’', '«': '»' };

/** Undoes Slack's escaping: mentions of the bot removed, other mentions and links reduced to their label or text. */
export function decodeSlackText(text: string, botUserId?: string): string {
  return text
    .replace(/<([^<>]*)>/g, (_match, inner: string) => {
      const [target = '', label] = inner.split('|', 2);
      if (botUserId !== undefined && target === `@${botUserId}`) return ' ';
      if (label !== undefined && label !== '') return label;
      return target.replace(/^[@#!]/, '');
    })
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

function tokenize(text: string): Token[] | string {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const close = QUOTES[c];
    if (close !== undefined) {
      const end = text.indexOf(close, i + 1);
      if (end < 0) return `A quote (${c}) is not closed.`;
      tokens.push({ text: text.slice(i + 1, end), quoted: true });
      i = end + 1;
      continue;
    }
    let end = i;
    while (end < text.length && !/\s/.test(text[end]!)) end++;
    tokens.push({ text: text.slice(i, end), quoted: false });
    i = end;
  }
  return tokens;
}

// Slack's clients (like macOS) turn a typed "--" into an en or em dash: read "—frames" as "--frames". Only unquoted
// tokens are flags, so quoted text keeps its dashes as typed.
const FLAG_TOKEN = /^(?:--|[\u2013\u2014])([a-z][\w-]*)(?:=(.*))?$/i;
const FLAG_START = /^(?:--|[\u2013\u2014])[a-z]/i;

function findFlag(name: string): FlagSpec | undefined {
  const lower = name.toLowerCase();
  return FLAGS.find((f) => f.name === lower || f.aliases.includes(lower));
}

/** Parses mention or slash-command text into VideoOptions; `botUserId` is removed where the bot is mentioned. */
export function parseVideoRequest(text: string, botUserId?: string): ParsedRequest {
  const tokens = tokenize(decodeSlackText(text, botUserId));
  if (typeof tokens === 'string') return { kind: 'error', message: tokens };
  const words: string[] = [];
  const options: Record<string, unknown> = {};
  const given = new Set<string>();
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const flag = token.quoted ? null : FLAG_TOKEN.exec(token.text);
    if (flag === null) {
      words.push(token.text);
      continue;
    }
    const [, name = '', inline] = flag;
    if (name.toLowerCase() === 'help') return { kind: 'help' };
    const spec = findFlag(name);
    if (spec === undefined) return { kind: 'error', message: `--${name} is not an option I know.` };
    if (given.has(spec.name)) return { kind: 'error', message: `--${spec.name} is given twice.` };
    given.add(spec.name);
    let value = inline;
    if (value === undefined) {
      const next = tokens[i + 1];
      if (next === undefined || (!next.quoted && FLAG_START.test(next.text))) {
        return { kind: 'error', message: `--${spec.name} needs a value (${spec.value}).` };
      }
      value = next.text;
      i++;
    }
    if (spec.sets === 'size') {
      const size = /^(\d+)\s*[x×*]\s*(\d+)$/i.exec(value.trim());
      if (size === null) return { kind: 'error', message: `--size must look like 256x256 (got "${value}").` };
      if (given.has('width') || given.has('height')) return { kind: 'error', message: 'Give either --size or --width/--height, not both.' };
      options.width = size[1];
      options.height = size[2];
    } else {
      if ((spec.sets === 'width' || spec.sets === 'height') && given.has('size')) {
        return { kind: 'error', message: 'Give either --size or --width/--height, not both.' };
      }
      options[spec.sets] = value;
    }
  }
  const prompt = words.join(' ').trim();
  if (prompt === '') return given.size === 0 ? { kind: 'help' } : { kind: 'error', message: 'Add a prompt: what the video should show.' };
  return { kind: 'request', options: { ...options, prompt } };
}

/** How to ask, with every flag and its allowed values (Slack mrkdwn). */
export function helpText(ranges: OptionRanges, invocation = '@t2v-bot'): string {
  const lines = FLAGS.map((f) => {
    const aliases = f.aliases.map((a) => ` (or \`--${a}\`)`).join('');
    return `• \`--${f.name} ${f.value}\`${aliases}: ${f.help(ranges)}`;
  });
  return [
    `Tell me what to show, with options after it, for example:`,
    `\`${invocation} a panda playing guitar on a boat --frames 16 --seed 7 --neg "blurry"\``,
    ...lines,
    `The prompt can be up to ${ranges.prompt.maxLength} characters.`,
  ].join('\n');
}
