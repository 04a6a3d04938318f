// Runtime-editable settings. Defaults come from the environment (config.settingDefaults); an admin's overrides
// are rows of the Setting table (JSON text per key) and win. Read on every submit, so a change takes effect on
// the next one, in every process sharing the database. The same table keeps a few internal values (the admin
// token's hash, the learned render speed, the media link key) under `internal.` keys, which the settings API never
// shows.
import { z } from 'zod';
import type { SettingDefaults } from '../config.js';
import { ErrorCode, type OptionIssue } from '../core/errors.js';
import { videoBotError } from '../core/messages.js';
import type { PrismaClient } from './database.js';

export type RuntimeSettings = SettingDefaults;
export type SettingKey = keyof RuntimeSettings;

const wholeNumber = (min: number, max: number) => z.number().int().min(min).max(max);

/** Allowed values of each setting; the error messages name the range. */
export const SETTING_SCHEMAS: { [K in SettingKey]: z.ZodType<RuntimeSettings[K]> } = {
  videosPerDay: wholeNumber(0, 1_000_000),
  gpuSecondsPerDay: wholeNumber(0, 100_000_000),
  maxQueuedPerUser: wholeNumber(1, 10_000),
  queueCap: wholeNumber(1, 1_000_000),
  promptMaxLength: wholeNumber(1, 10_000),
  bannedWords: z
    .array(z.string().trim().min(1).max(200))
    .max(10_000)
    .transform((words) => [...new Set(words.map((w) => w.toLowerCase()))]),
  outputRetentionDays: wholeNumber(0, 36_500),
};

export const SETTING_KEYS = Object.keys(SETTING_SCHEMAS) as SettingKey[];

export const SETTING_DESCRIPTIONS: Record<SettingKey, string> = {
  videosPerDay: 'a whole number from 0 to 1000000',
  gpuSecondsPerDay: 'a whole number from 0 to 100000000',
  maxQueuedPerUser: 'a whole number from 1 to 10000',
  queueCap: 'a whole number from 1 to 1000000',
  promptMaxLength: 'a whole number from 1 to 10000',
  bannedWords: 'a list of up to 10000 words or phrases (each 1 to 200 characters)',
  outputRetentionDays: 'a whole number of days from 0 (keep forever) to 36500',
};

/** A change: a value sets the override, null removes it (back to the environment default). */
export type SettingsPatch = { [K in SettingKey]?: RuntimeSettings[K] | null };

export interface SettingsView {
  values: RuntimeSettings;
  /** Keys whose value comes from the database rather than the environment. */
  overridden: SettingKey[];
}

export class SettingsStore {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly defaults: SettingDefaults,
  ) {}

  async get(): Promise<RuntimeSettings> {
    return (await this.view()).values;
  }

  async view(): Promise<SettingsView> {
    const rows = await this.prisma.setting.findMany({ where: { key: { in: SETTING_KEYS } } });
    const values = { ...this.defaults, bannedWords: [...this.defaults.bannedWords] };
    const overridden: SettingKey[] = [];
    for (const row of rows) {
      const key = row.key as SettingKey;
      const parsed = SETTING_SCHEMAS[key].safeParse(parseJson(row.value));
      // A row edited by hand into something invalid is ignored rather than breaking every submit.
      if (!parsed.success) continue;
      (values as Record<SettingKey, unknown>)[key] = parsed.data;
      overridden.push(key);
    }
    return { values, overridden };
  }

  /** Validates the whole patch first (InvalidRequest naming every wrong key), then writes it. */
  async update(patch: Record<string, unknown>, updatedBy: string): Promise<SettingsView> {
    const issues: OptionIssue[] = [];
    const writes: { key: SettingKey; value: unknown }[] = [];
    for (const [key, value] of Object.entries(patch)) {
      if (!(SETTING_KEYS as string[]).includes(key)) {
        issues.push({ field: key, message: `${key} is not a setting (settings: ${SETTING_KEYS.join(', ')}).` });
        continue;
      }
      const settingKey = key as SettingKey;
      if (value === null) {
        writes.push({ key: settingKey, value: null });
        continue;
      }
      const parsed = SETTING_SCHEMAS[settingKey].safeParse(value);
      if (parsed.success) writes.push({ key: settingKey, value: parsed.data });
      else issues.push({ field: key, message: `${key} must be ${SETTING_DESCRIPTIONS[settingKey]} (got ${JSON.stringify(value)}).` });
    }
    if (issues.length > 0) throw videoBotError(ErrorCode.InvalidRequest, { issues });
    await this.prisma.$transaction(async (tx) => {
      for (const { key, value } of writes) {
        if (value === null) await tx.setting.deleteMany({ where: { key } });
        else {
          await tx.setting.upsert({
            where: { key },
            create: { key, value: JSON.stringify(value), updatedBy },
            update: { value: JSON.stringify(value), updatedBy },
          });
        }
      }
    });
    return this.view();
  }

  async readInternal(key: string): Promise<string | undefined> {
    const row = await this.prisma.setting.findUnique({ where: { key: `internal.${key}` } });
    return row?.value;
  }

  /**
   * Stores `value` unless the key already has one (then nothing changes). One INSERT … ON CONFLICT DO NOTHING, so
   * that processes starting together on one database keep the first value without a read-then-write race.
   */
  async createInternal(key: string, value: string): Promise<void> {
    const fullKey = `internal.${key}`;
    await this.prisma.$executeRaw`INSERT INTO "Setting" ("key", "value", "updatedBy", "updatedAt") VALUES (${fullKey}, ${value}, 'service', ${new Date()}) ON CONFLICT ("key") DO NOTHING`;
  }

  async writeInternal(key: string, value: string): Promise<void> {
    const fullKey = `internal.${key}`;
    await this.prisma.setting.upsert({
      where: { key: fullKey },
      create: { key: fullKey, value, updatedBy: 'service' },
      update: { value, updatedBy: 'service' },
    });
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
