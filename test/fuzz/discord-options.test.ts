// /video's options under any value Discord could deliver, read the way the adapter reads them: the interaction is
// built by discord.js from wire data (as the gateway delivers it), its options read by readVideoOptions and submitted
// to the real service with the requester and reply context the adapter makes. Values of the declared types, in range
// and far out of it, give a job with in-range values or a refusal in a plain sentence, never a throw of anything
// else. The command definitions build for every configuration the service accepts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ChannelType,
  ChatInputCommandInteraction,
  Client,
  InteractionContextType,
  InteractionType,
  type APIApplicationCommandBasicOption,
  type APIApplicationCommandOptionChoice,
} from 'discord.js';
import fc from 'fast-check';
import { buildCommands, readVideoOptions } from '../../src/bots/discord/commands.js';
import { commandErrorMessage } from '../../src/bots/discord/render.js';
import { ErrorCode, VideoBotError } from '../../src/core/errors.js';
import type { Job } from '../../src/core/jobs.js';
import { inRange, optionRanges, type OptionRanges } from '../../src/core/requests.js';
import { startTestService, type TestService } from '../support/test-service.js';
import { anyNumber, anyText, assertPlainSentence, checkProperty, EDGE_NUMBERS } from './fuzz-support.js';

interface WireOption {
  name: string;
  type: ApplicationCommandOptionType;
  value: string | number;
}

type Definition = APIApplicationCommandBasicOption & {
  min_value?: number;
  max_value?: number;
  min_length?: number;
  max_length?: number;
  choices?: APIApplicationCommandOptionChoice[];
};

const NUMERIC = ['frames', 'width', 'height', 'steps', 'guidance', 'fps', 'seed'] as const;

/** A /video interaction in a DM as the gateway delivers it, turned into discord.js's object. */
function videoInteraction(client: Client, options: WireOption[]): ChatInputCommandInteraction {
  const wire = {
    id: '1300000000000000001',
    application_id: '1300000000000000002',
    type: InteractionType.ApplicationCommand,
    token: 'fuzz-interaction-token',
    version: 1,
    locale: 'en-US',
    app_permissions: '0',
    entitlements: [],
    attachment_size_limit: 10 * 1024 * 1024,
    channel: { id: '1300000000000000003', type: ChannelType.DM },
    channel_id: '1300000000000000003',
    context: InteractionContextType.BotDM,
    authorizing_integration_owners: { '1': '1300000000000000004' },
    user: { id: '1300000000000000004', username: 'fuzzer', discriminator: '0', global_name: null, avatar: null },
    data: { id: '1300000000000000005', name: 'video', type: ApplicationCommandType.ChatInput, options },
  };
  // The constructor is discord.js's own (private in its typings): the client builds interactions this way.
  return Reflect.construct(ChatInputCommandInteraction, [client, wire]) as ChatInputCommandInteraction;
}

/** Any value of the option's declared type, favouring its limits and what lies past them. */
function anyValueOf(definition: Definition): fc.Arbitrary<string | number> {
  if (definition.type === ApplicationCommandOptionType.String) {
    const choices = (definition.choices ?? []).map((c) => String(c.value));
    return fc.oneof(
      anyText,
      ...(choices.length > 0 ? [fc.constantFrom(...choices), fc.tuple(fc.constantFrom(...EDGE_NUMBERS), fc.constantFrom(...EDGE_NUMBERS)).map(([w, h]) => `${w}x${h}`)] : []),
      ...(definition.max_length === undefined ? [] : [fc.constantFrom(definition.max_length, definition.max_length + 1).map((n) => 'y'.repeat(n))]),
    );
  }
  const min = definition.min_value ?? -1e6;
  const max = definition.max_value ?? 1e6;
  if (definition.type === ApplicationCommandOptionType.Integer) {
    return fc.oneof(fc.integer({ min, max }), fc.constantFrom(...EDGE_NUMBERS.filter(Number.isInteger), min - 1, max + 1), fc.maxSafeInteger());
  }
  return fc.oneof(fc.double({ min, max, noNaN: true }), anyNumber, fc.constantFrom(min - Number.EPSILON * 4, max + 1e-9));
}

/** A value Discord's client lets through: the declared type within the definition's limits. */
function allowedValueOf(definition: Definition): fc.Arbitrary<string | number> {
  if (definition.type === ApplicationCommandOptionType.String) {
    if (definition.choices !== undefined) return fc.constantFrom(...definition.choices.map((c) => String(c.value)));
    return fc.string({ minLength: Math.max(1, definition.min_length ?? 0), maxLength: Math.min(definition.max_length ?? 100, 200) }).filter((s) => s.trim() !== '');
  }
  const min = definition.min_value!;
  const max = definition.max_value!;
  return definition.type === ApplicationCommandOptionType.Integer ? fc.integer({ min, max }) : fc.double({ min, max, noNaN: true });
}

/** Some of the options (the prompt always, as Discord requires it), each with a value from `valueOf`. */
function wireOptions(definitions: Definition[], valueOf: (d: Definition) => fc.Arbitrary<string | number>): fc.Arbitrary<WireOption[]> {
  const model = Object.fromEntries(definitions.map((d) => [d.name, valueOf(d)]));
  return fc.record(model, { requiredKeys: ['prompt'] }).map((values) =>
    Object.entries(values).map(([name, value]) => ({ name, type: definitions.find((d) => d.name === name)!.type, value: value as string | number })),
  );
}

/** Inputs fuzzing found wrong once, kept as fixed first examples. */
const LIMIT_REGRESSIONS = {
  /** "Invalid number value" from discord.js: a prompt cap over Discord's 6000 made the whole command list invalid. */
  promptCapOverDiscordsMaximum: { maxFrames: 1, maxSide: 64, maxSteps: 1, promptMaxLength: 6001 },
};

describe('Discord /video options under any value', () => {
  let t: TestService;
  let client: Client;
  let definitions: Definition[];
  let ranges: OptionRanges;

  /** What the adapter does with the interaction: read the options, submit them; a rejection becomes its reply. */
  async function submitAsTheAdapter(options: WireOption[]): Promise<{ job: Job } | { refusal: string }> {
    const interaction = videoInteraction(client, options);
    const read = readVideoOptions(interaction.options);
    try {
      const { job } = await t.service.submit({
        requester: { platform: 'discord', platformUserId: interaction.user.id, displayName: interaction.user.username },
        options: read,
        reply: { platform: 'discord', channelId: interaction.channelId, messageId: '1300000000000000006', extra: { uploadLimit: interaction.attachmentSizeLimit } },
      });
      for (const name of NUMERIC) assert.ok(inRange(job.params[name], ranges[name]), `${name} ${job.params[name]} within its range`);
      return { job };
    } catch (error) {
      assert.ok(error instanceof VideoBotError && error.code !== ErrorCode.Internal, `a refusal, not ${String(error)}`);
      const reply = commandErrorMessage(error).content;
      assertPlainSentence(reply, JSON.stringify(options), 'the reply');
      return { refusal: reply };
    }
  }

  before(async () => {
    t = await startTestService({ renderer: null, env: { QUOTA_VIDEOS_PER_DAY: '1000000', QUOTA_GPU_SECONDS_PER_DAY: '100000000', MAX_QUEUED_PER_USER: '10000', QUEUE_CAP: '1000000' } });
    client = new Client({ intents: [] });
    ranges = await t.service.optionRanges();
    definitions = buildCommands(ranges).find((c) => c.name === 'video')!.options as Definition[];
  });
  after(async () => {
    await client?.destroy();
    await t?.destroy();
  });

  it('gives a job within the ranges or a plain refusal for any values of the declared types', async () => {
    await checkProperty(fc.asyncProperty(fc.constant(null).chain(() => wireOptions(definitions, anyValueOf)), async (options) => void (await submitAsTheAdapter(options))), 300);
  });

  it('accepts every value Discord lets through, with the values given', async () => {
    await checkProperty(
      fc.asyncProperty(fc.constant(null).chain(() => wireOptions(definitions, allowedValueOf)), async (options) => {
        const result = await submitAsTheAdapter(options);
        if (!('job' in result)) assert.fail(`refused ${JSON.stringify(options)}: ${result.refusal}`);
        const given = Object.fromEntries(options.map((o) => [o.name, o.value]));
        for (const name of ['frames', 'steps', 'seed', 'guidance', 'fps'] as const) if (given[name] !== undefined) assert.equal(result.job.params[name], given[name], name);
        if (given.size !== undefined) assert.equal(`${result.job.params.width}x${result.job.params.height}`, given.size);
        assert.equal(result.job.params.prompt, String(given.prompt).trim());
      }),
      200,
    );
  });

  it('builds the commands for every configuration the service accepts', async () => {
    const limits = fc.record({
      maxFrames: fc.integer({ min: 1, max: 256 }),
      maxSide: fc.integer({ min: 64, max: 2048 }),
      maxSteps: fc.integer({ min: 1, max: 100 }),
      promptMaxLength: fc.integer({ min: 1, max: 10_000 }),
    });
    await checkProperty(
      fc.property(limits, (l) => {
        const video = buildCommands(optionRanges(l)).find((c) => c.name === 'video')!;
        assert.ok(video.options!.some((o) => o.name === 'prompt'));
      }),
      300,
      Object.values(LIMIT_REGRESSIONS).map((l) => [l]),
    );
  });
});
