// The slash commands: /video (with every generation option typed, so Discord's client shows the allowed ranges and
// refuses values outside them before they are sent), /quota and /queue. The ranges come from the core's
// optionRanges(), the one place limits are defined; the core validates again on submit.
// @see https://discord.com/developers/docs/interactions/application-commands#application-command-object
import {
  ApplicationIntegrationType,
  InteractionContextType,
  SlashCommandBuilder,
  type ChatInputCommandInteraction,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { OptionRanges, VideoOptions } from '../../core/requests.js';

export const COMMAND_NAMES = { video: 'video', quota: 'quota', queue: 'queue' } as const;

/** Discord allows at most 25 choices per option. */
const MAX_CHOICES = 25;
/**
 * Discord's longest string option. A longer prompt cap (the setting goes to 10000) would make Discord refuse the
 * whole command list; Discord's client then caps the prompt here, and the core checks the setting as always.
 */
const MAX_STRING_OPTION_LENGTH = 6_000;

/** Frame sizes offered by /video: common square, landscape and portrait shapes, all multiples of 8. */
const SIZE_CANDIDATES: readonly [number, number][] = [
  [64, 64],
  [128, 128],
  [256, 256],
  [320, 192],
  [192, 320],
  [384, 256],
  [256, 384],
  [448, 256],
  [256, 448],
  [384, 384],
  [512, 512],
  [512, 288],
  [288, 512],
  [576, 320],
  [320, 576],
  [640, 360],
  [360, 640],
  [768, 432],
  [432, 768],
  [768, 768],
  [1024, 576],
  [576, 1024],
  [1024, 1024],
];

export interface SizeChoice {
  name: string;
  /** "WxH" */
  value: string;
}

/** The sizes within the configured limits, the default one marked. */
export function sizeChoices(ranges: Pick<OptionRanges, 'width' | 'height'>): SizeChoice[] {
  const fits = (side: number, range: OptionRanges['width']) =>
    side >= range.min && side <= range.max && side % (range.multipleOf ?? 1) === 0;
  return SIZE_CANDIDATES.filter(([w, h]) => fits(w, ranges.width) && fits(h, ranges.height))
    .slice(0, MAX_CHOICES)
    .map(([w, h]) => {
      const shape = w === h ? 'square' : w > h ? 'landscape' : 'portrait';
      const isDefault = w === ranges.width.default && h === ranges.height.default;
      return { name: `${w}x${h} (${shape}${isDefault ? ', default' : ''})`, value: `${w}x${h}` };
    });
}

function rangeText(range: { min: number; max: number; default: number | undefined }): string {
  return `${range.min}-${range.max}${range.default === undefined ? '' : `, default ${range.default}`}`;
}

/** The command definitions for a bulk overwrite (PUT), which is idempotent: the same list leaves Discord unchanged. */
export function buildCommands(ranges: OptionRanges): RESTPostAPIChatInputApplicationCommandsJSONBody[] {
  const contexts = [InteractionContextType.Guild, InteractionContextType.BotDM];
  const video = new SlashCommandBuilder()
    .setName(COMMAND_NAMES.video)
    .setDescription('Make a short video from a text prompt')
    .setContexts(contexts)
    .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
    .addStringOption((o) =>
      o
        .setName('prompt')
        .setDescription('What the video shows, e.g. "a panda playing guitar on a boat"')
        .setRequired(true)
        .setMinLength(ranges.prompt.minLength)
        .setMaxLength(Math.min(ranges.prompt.maxLength, MAX_STRING_OPTION_LENGTH)),
    )
    .addStringOption((o) =>
      o
        .setName('negative')
        .setDescription('What to avoid, e.g. "blurry, text"')
        .setMaxLength(Math.min(Math.max(1, ranges.negativePrompt.maxLength), MAX_STRING_OPTION_LENGTH)),
    )
    .addIntegerOption((o) =>
      o
        .setName('frames')
        .setDescription(`Number of frames (${rangeText(ranges.frames)}; 1 gives a still image)`)
        .setMinValue(ranges.frames.min)
        .setMaxValue(ranges.frames.max),
    )
    .addIntegerOption((o) =>
      o
        .setName('steps')
        .setDescription(`Denoising steps: more is slower and finer (${rangeText(ranges.steps)})`)
        .setMinValue(ranges.steps.min)
        .setMaxValue(ranges.steps.max),
    )
    .addIntegerOption((o) =>
      o
        .setName('seed')
        .setDescription(`Random seed; the same seed and options give the same video (${rangeText(ranges.seed)})`)
        .setMinValue(ranges.seed.min)
        .setMaxValue(ranges.seed.max),
    )
    .addNumberOption((o) =>
      o
        .setName('guidance')
        .setDescription(`How closely to follow the prompt (${rangeText(ranges.guidance)})`)
        .setMinValue(ranges.guidance.min)
        .setMaxValue(ranges.guidance.max),
    )
    .addIntegerOption((o) =>
      o
        .setName('fps')
        .setDescription(`Frames per second of the MP4 (${rangeText(ranges.fps)})`)
        .setMinValue(ranges.fps.min)
        .setMaxValue(ranges.fps.max),
    );
  const sizes = sizeChoices(ranges);
  if (sizes.length > 0) {
    video.addStringOption((o) =>
      o
        .setName('size')
        .setDescription('Width x height in pixels')
        .addChoices(...sizes),
    );
  }
  const quota = new SlashCommandBuilder()
    .setName(COMMAND_NAMES.quota)
    .setDescription('How many videos you have left today, and when the quota resets')
    .setContexts(contexts)
    .setIntegrationTypes(ApplicationIntegrationType.GuildInstall);
  const queue = new SlashCommandBuilder()
    .setName(COMMAND_NAMES.queue)
    .setDescription('Your videos in the queue and their places in line')
    .setContexts(contexts)
    .setIntegrationTypes(ApplicationIntegrationType.GuildInstall);
  return [video.toJSON(), quota.toJSON(), queue.toJSON()];
}

type OptionReader = Pick<ChatInputCommandInteraction['options'], 'getString' | 'getInteger' | 'getNumber'>;

/** /video's options as the core's VideoOptions; unset options stay undefined so the core applies its defaults. */
export function readVideoOptions(options: OptionReader): VideoOptions {
  const size = options.getString('size');
  const [width, height] = size === null ? [undefined, undefined] : parseSize(size);
  const pick = <T>(value: T | null) => (value === null ? undefined : value);
  return {
    prompt: options.getString('prompt', true),
    negativePrompt: pick(options.getString('negative')),
    frames: pick(options.getInteger('frames')),
    steps: pick(options.getInteger('steps')),
    seed: pick(options.getInteger('seed')),
    guidance: pick(options.getNumber('guidance')),
    fps: pick(options.getInteger('fps')),
    width,
    height,
  };
}

/** "320x192" -> [320, 192]; anything else goes to the core as is, which names the allowed values. */
function parseSize(size: string): [unknown, unknown] {
  const match = /^(\d+)x(\d+)$/.exec(size.trim());
  return match === null ? [size, size] : [Number(match[1]), Number(match[2])];
}
