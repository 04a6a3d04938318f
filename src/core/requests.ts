// Generation options: defaults, allowed ranges and validation, in one place. The HTTP API, Discord option
// builders, Slack flag parsing and the dashboard all read `optionRanges()` and call `resolveRenderParams()`,
// so a limit changes everywhere at once. Errors name the allowed range and the rejected value.
import { randomInt } from 'node:crypto';
import type { ServiceLimits } from '../config.js';
import { ErrorCode, type OptionIssue } from './errors.js';
import { videoBotError } from './messages.js';
import type { RenderParams } from './ports.js';

/** What the engine itself accepts, whatever the service configuration says. */
export const ENGINE_LIMITS = {
  minFrames: 1,
  /** The VAE downsamples by 8: pixel sides must be multiples of 8. */
  sideMultiple: 8,
  minSteps: 1,
  maxSteps: 100,
  /** Guidance 1 disables classifier-free guidance; below 1 it would push away from the prompt. */
  minGuidance: 1,
} as const;

/** Service-wide bounds that are not configurable. */
export const FIXED_LIMITS = {
  minSide: 64,
  maxGuidance: 30,
  minFps: 1,
  maxFps: 30,
  maxSeed: 2 ** 32 - 1,
} as const;

export const PARAM_DEFAULTS = {
  negativePrompt: '',
  frames: 16,
  width: 256,
  height: 256,
  steps: 25,
  guidance: 9,
  fps: 8,
} as const;

/** Service limits plus the prompt length cap, which is a runtime setting. */
export interface RequestLimits extends ServiceLimits {
  promptMaxLength: number;
}

export interface NumberRange {
  min: number;
  max: number;
  /** Whole numbers only. */
  integer: boolean;
  /** Values must be multiples of this (pixel sides). */
  multipleOf?: number;
  /** Undefined for the seed: a random one is drawn. */
  default: number | undefined;
}

export interface OptionRanges {
  prompt: { minLength: number; maxLength: number };
  negativePrompt: { maxLength: number; default: string };
  frames: NumberRange;
  width: NumberRange;
  height: NumberRange;
  steps: NumberRange;
  guidance: NumberRange;
  fps: NumberRange;
  seed: NumberRange;
}

export type NumericOption = 'frames' | 'width' | 'height' | 'steps' | 'guidance' | 'fps' | 'seed';
export const NUMERIC_OPTIONS: readonly NumericOption[] = ['frames', 'width', 'height', 'steps', 'guidance', 'fps', 'seed'];

/** The allowed values of every option under these limits (for option builders, help texts and validation). */
export function optionRanges(limits: RequestLimits): OptionRanges {
  const maxSide = Math.max(FIXED_LIMITS.minSide, limits.maxSide - (limits.maxSide % ENGINE_LIMITS.sideMultiple));
  const side = (fallback: number): NumberRange => ({
    min: FIXED_LIMITS.minSide,
    max: maxSide,
    integer: true,
    multipleOf: ENGINE_LIMITS.sideMultiple,
    default: Math.min(fallback, maxSide),
  });
  const maxFrames = Math.max(ENGINE_LIMITS.minFrames, limits.maxFrames);
  const maxSteps = Math.min(ENGINE_LIMITS.maxSteps, Math.max(ENGINE_LIMITS.minSteps, limits.maxSteps));
  return {
    prompt: { minLength: 1, maxLength: limits.promptMaxLength },
    negativePrompt: { maxLength: limits.promptMaxLength, default: PARAM_DEFAULTS.negativePrompt },
    frames: { min: ENGINE_LIMITS.minFrames, max: maxFrames, integer: true, default: Math.min(PARAM_DEFAULTS.frames, maxFrames) },
    width: side(PARAM_DEFAULTS.width),
    height: side(PARAM_DEFAULTS.height),
    steps: { min: ENGINE_LIMITS.minSteps, max: maxSteps, integer: true, default: Math.min(PARAM_DEFAULTS.steps, maxSteps) },
    guidance: { min: ENGINE_LIMITS.minGuidance, max: FIXED_LIMITS.maxGuidance, integer: false, default: PARAM_DEFAULTS.guidance },
    fps: { min: FIXED_LIMITS.minFps, max: FIXED_LIMITS.maxFps, integer: true, default: PARAM_DEFAULTS.fps },
    seed: { min: 0, max: FIXED_LIMITS.maxSeed, integer: true, default: undefined },
  };
}

/**
 * What a requester may send. Numbers may arrive as numbers (JSON, Discord options) or as text (Slack flags);
 * `null`/`undefined` means "use the default".
 */
export interface VideoOptions {
  prompt: unknown;
  negativePrompt?: unknown;
  frames?: unknown;
  width?: unknown;
  height?: unknown;
  steps?: unknown;
  guidance?: unknown;
  seed?: unknown;
  fps?: unknown;
}

/** The allowed values of a number, without a default (the CLI, the pipeline and the engine check theirs too). */
export type NumberBounds = Pick<NumberRange, 'min' | 'max' | 'integer' | 'multipleOf'>;

export function inRange(value: number, range: NumberBounds): boolean {
  return (
    Number.isFinite(value) &&
    value >= range.min &&
    value <= range.max &&
    (!range.integer || Number.isInteger(value)) &&
    (range.multipleOf === undefined || value % range.multipleOf === 0)
  );
}

export function describeRange(name: string, range: NumberBounds): string {
  const kind = range.integer ? 'a whole number' : 'a number';
  const multiple = range.multipleOf === undefined ? '' : `, a multiple of ${range.multipleOf}`;
  return `${name} must be ${kind} from ${range.min} to ${range.max}${multiple}`;
}

function shown(value: unknown): string {
  const text = typeof value === 'string' ? `"${value}"` : JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function readNumber(name: NumericOption, raw: unknown, range: NumberRange, issues: OptionIssue[]): number | undefined {
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) return range.default;
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw.trim()) : Number.NaN;
  if (!inRange(value, range)) {
    issues.push({ field: name, message: `${describeRange(name, range)} (got ${shown(raw)}).` });
    return undefined;
  }
  return value;
}

function readText(name: string, raw: unknown, min: number, max: number, issues: OptionIssue[]): string {
  if (raw !== undefined && raw !== null && typeof raw !== 'string') {
    issues.push({ field: name, message: `${name} must be text (got ${shown(raw)}).` });
    return '';
  }
  const value = (raw ?? '').trim();
  if (value.length < min || value.length > max) {
    const what = min > 0 ? `from ${min} to ${max} characters` : `at most ${max} characters`;
    issues.push({ field: name, message: `${name} must be ${what} long (got ${value.length}).` });
  }
  return value;
}

/**
 * Resolves requested options into concrete render parameters: defaults filled in, a random seed drawn when none
 * was given, every value checked. Throws InvalidOptions listing every wrong option at once.
 */
export function resolveRenderParams(
  options: VideoOptions,
  limits: RequestLimits,
  drawSeed: () => number = () => randomInt(0, FIXED_LIMITS.maxSeed + 1),
): RenderParams {
  const ranges = optionRanges(limits);
  const issues: OptionIssue[] = [];
  const prompt = readText('prompt', options.prompt, ranges.prompt.minLength, ranges.prompt.maxLength, issues);
  const negativePrompt = readText('negativePrompt', options.negativePrompt, 0, ranges.negativePrompt.maxLength, issues);
  const numbers = {} as Record<NumericOption, number | undefined>;
  for (const name of NUMERIC_OPTIONS) numbers[name] = readNumber(name, options[name], ranges[name], issues);
  if (issues.length > 0) throw videoBotError(ErrorCode.InvalidOptions, { issues });
  return {
    prompt,
    negativePrompt,
    frames: numbers.frames!,
    width: numbers.width!,
    height: numbers.height!,
    steps: numbers.steps!,
    guidance: numbers.guidance!,
    seed: numbers.seed ?? drawSeed(),
    fps: numbers.fps!,
  };
}
