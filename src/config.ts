// Every environment variable the service reads, parsed and validated in one place. Each wrong value gets one
// message naming the variable and what is allowed; secret values are never echoed (not even in errors).
// `.env` in the working directory is read when present; real environment variables win over it.
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { z } from 'zod';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const ENGINE_DEVICES = ['auto', 'cuda', 'cpu'] as const;
export const MEDIA_STORES = ['auto', 'files', 'database', 'bucket'] as const;

export type LogLevel = (typeof LOG_LEVELS)[number];
export type EngineDevice = (typeof ENGINE_DEVICES)[number];
export type MediaStoreKind = Exclude<(typeof MEDIA_STORES)[number], 'auto'>;

export interface BucketConfig {
  /** `https://s3.amazonaws.com` (AWS, any region) or an S3-compatible service's URL (MinIO, R2, B2, ...). */
  endpoint: string;
  region: string;
  name: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Prepended to every object key (`t2v/` by default), so one bucket can hold other things too. */
  prefix: string;
}

/** Upper bounds for request parameters; the engine's hard limits are in core/requests.ts. */
export interface ServiceLimits {
  maxFrames: number;
  maxSide: number;
  maxSteps: number;
}

/** Defaults of the settings an admin can change at runtime (stored in the database, see queue/settings.ts). */
export interface SettingDefaults {
  videosPerDay: number;
  gpuSecondsPerDay: number;
  maxQueuedPerUser: number;
  queueCap: number;
  promptMaxLength: number;
  bannedWords: string[];
  outputRetentionDays: number;
}

export interface Config {
  host: string;
  port: number;
  publicUrl: string;
  dataDir: string;
  /** DATA_DIR/outputs: one folder per job. */
  outputsDir: string;
  databaseUrl: string;
  /** Unset: the service generates one on first start and keeps only its hash in the database. */
  adminToken: string | undefined;
  logLevel: LogLevel;
  engine: {
    /** '' selects the built-in demo model. */
    modelDir: string;
    device: EngineDevice;
    deviceId: number;
    /** 0 = all cores. */
    threads: number;
    /** Jobs this process renders at once; 0: it renders none (a front: API, chat, dashboard). */
    slots: number;
    /** '' = search ffmpeg-static, @ffmpeg-installer/ffmpeg, then `ffmpeg` on PATH. */
    ffmpegPath: string;
    /** Cost-model speed used until the first job has been measured (seconds per 256x256 frame-step). */
    secondsPerUnit: number;
  };
  hub: { endpoint: string; token: string | undefined };
  discord: {
    token: string | undefined;
    applicationId: string | undefined;
    guildId: string | undefined;
    apiUrl: string;
    gatewayUrl: string | undefined;
  };
  slack: {
    botToken: string | undefined;
    signingSecret: string | undefined;
    appToken: string | undefined;
    apiUrl: string;
  };
  limits: ServiceLimits;
  settingDefaults: SettingDefaults;
  fairShare: {
    halfLifeMinutes: number;
    /** Usage is divided by the weight: a weight-2 user is served about twice as often under contention. */
    roleWeights: { user: number; trusted: number; admin: number };
  };
  workers: {
    /** WORKER_NAME: how this process appears among the workers (dashboard, API, metrics). */
    name: string;
    /** How long a worker's claim on a running job holds without a heartbeat; then any process takes the job back. */
    leaseSeconds: number;
    /**
     * Where finished videos are kept for the process that serves and posts them: `files` under DATA_DIR/outputs
     * (one host, or a shared DATA_DIR), `database` (workers on other hosts; Postgres), `bucket` (an S3-compatible
     * bucket shared by every process).
     */
    mediaStore: MediaStoreKind;
  };
  /** The S3-compatible bucket (S3_*); set when MEDIA_STORE is `bucket`. */
  bucket: BucketConfig | undefined;
  /** How long SIGTERM waits for running jobs before putting them back in the queue. */
  drainTimeoutSeconds: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Empty values count as unset, as `KEY=` lines in .env files are meant. */
const optionalText = z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), z.string().optional());

/**
 * A rejected value as a problem shows it: quoted with JSON's escapes and cut short, so that each problem stays one
 * line (a newline in a value would otherwise start what reads as another problem) of readable length.
 */
function shown(raw: string): string {
  const cut = raw.length > 60 ? `${raw.slice(0, 60)}…` : raw;
  return JSON.stringify(cut).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function text(fallback: string) {
  return optionalText.transform((v) => v?.trim() ?? fallback);
}

function secret(minLength = 1) {
  return optionalText.transform((v, ctx) => {
    if (v !== undefined && v.length < minLength) {
      ctx.addIssue({ code: 'custom', message: `must be at least ${minLength} characters (got ${v.length})` });
      return z.NEVER;
    }
    return v;
  });
}

function integer(min: number, max: number, fallback: number) {
  return optionalText.transform((raw, ctx) => {
    if (raw === undefined) return fallback;
    const value = Number(raw.trim());
    if (!/^-?\d+$/.test(raw.trim()) || value < min || value > max) {
      ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max} (got ${shown(raw)})` });
      return z.NEVER;
    }
    return value;
  });
}

function decimal(min: number, max: number, fallback: number) {
  return optionalText.transform((raw, ctx) => {
    if (raw === undefined) return fallback;
    const value = Number(raw.trim());
    if (!Number.isFinite(value) || value < min || value > max) {
      ctx.addIssue({ code: 'custom', message: `must be a number from ${min} to ${max} (got ${shown(raw)})` });
      return z.NEVER;
    }
    return value;
  });
}

function oneOf<const T extends readonly string[]>(values: T, fallback: T[number]) {
  return optionalText.transform((raw, ctx) => {
    if (raw === undefined) return fallback;
    const value = raw.trim().toLowerCase();
    if (!values.includes(value)) {
      ctx.addIssue({ code: 'custom', message: `must be one of ${values.join(', ')} (got ${shown(raw)})` });
      return z.NEVER;
    }
    return value as T[number];
  });
}

// Generic so that a variable with a string fallback parses to a string, not string | undefined.
function httpUrl<Fallback extends string | undefined>(fallback: Fallback, protocols = ['http:', 'https:']) {
  return optionalText.transform((raw, ctx) => {
    if (raw === undefined) return fallback;
    try {
      const url = new URL(raw.trim());
      if (!protocols.includes(url.protocol)) throw new Error('protocol');
      return raw.trim();
    } catch {
      ctx.addIssue({ code: 'custom', message: `must be a ${protocols.join(' or ')} URL (got ${shown(raw)})` });
      return z.NEVER;
    }
  });
}

const databaseUrl = optionalText.transform((raw, ctx) => {
  if (raw === undefined) return undefined;
  const value = raw.trim();
  if (/^file:.+/.test(value) || /^postgres(ql)?:\/\/.+/.test(value)) return value;
  // Only a scheme is echoed: the rest may hold a password, and so may a value with no scheme (a paste cut short).
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(value)?.[0];
  ctx.addIssue({
    code: 'custom',
    message: `must start with file: (SQLite) or postgresql:// (got ${scheme === undefined ? 'a value without a scheme' : shown(`${scheme}...`)})`,
  });
  return z.NEVER;
});

/**
 * A host name: dot-separated labels of letters, digits, hyphens and underscores, the last not a number (URLs read
 * 4294967296 or 0x10 as IPv4 addresses).
 */
function isHostName(value: string): boolean {
  const labels = value.replace(/\.$/, '').split('.');
  const last = labels.at(-1) ?? '';
  return labels.every((label) => /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$/i.test(label)) && !/^(\d+|0x[0-9a-f]*)$/i.test(last);
}

/**
 * The interface to listen on: an IP address or a host name. Anything else would fail only when the server starts
 * listening, and would make a PUBLIC_URL default (http://HOST:PORT) that is not a URL.
 */
const host = optionalText.transform((raw, ctx) => {
  if (raw === undefined) return '127.0.0.1';
  const value = raw.trim();
  if (isIP(value) !== 0 || isHostName(value)) return value;
  ctx.addIssue({ code: 'custom', message: `must be an IP address or a host name, such as 127.0.0.1, 0.0.0.0 or localhost (got ${shown(raw)})` });
  return z.NEVER;
});

/** S3's bucket naming rules, which every S3-compatible service accepts. */
const bucketName = optionalText.transform((raw, ctx) => {
  if (raw === undefined) return undefined;
  const value = raw.trim();
  if (/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(value) && !value.includes('..') && isIP(value) === 0) return value;
  ctx.addIssue({ code: 'custom', message: `must be a bucket name: 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit (got ${shown(raw)})` });
  return z.NEVER;
});

/** Folder names ending in `/` (the default `t2v/`): keys are `<prefix><jobId>/...`. */
const objectKeyPrefix = optionalText.transform((raw, ctx) => {
  if (raw === undefined) return 't2v/';
  const value = raw.trim();
  const folders = value.replace(/\/$/, '').split('/');
  if (folders.every((folder) => /^[A-Za-z0-9!_.*'()-]+$/.test(folder) && folder !== '.' && folder !== '..')) return `${folders.join('/')}/`;
  ctx.addIssue({ code: 'custom', message: `must be folder names of letters, digits and !_.*'()- separated by / (got ${shown(raw)})` });
  return z.NEVER;
});

const wordList = optionalText.transform((raw) =>
  (raw ?? '')
    .split(',')
    .map((w) => w.trim().toLowerCase())
    .filter((w) => w.length > 0),
);

const envSchema = z.object({
  PORT: integer(0, 65535, 8080),
  HOST: host,
  PUBLIC_URL: httpUrl(undefined),
  DATA_DIR: text('./data'),
  DATABASE_URL: databaseUrl,
  ADMIN_TOKEN: secret(16),
  LOG_LEVEL: oneOf(LOG_LEVELS, 'info'),
  MODEL_DIR: text(''),
  ENGINE_DEVICE: oneOf(ENGINE_DEVICES, 'auto'),
  ENGINE_DEVICE_ID: integer(0, 64, 0),
  ENGINE_THREADS: integer(0, 1024, 0),
  ENGINE_SLOTS: integer(0, 16, 1),
  ENGINE_SECONDS_PER_UNIT: decimal(0.0001, 3600, 0.1),
  FFMPEG_PATH: text(''),
  HF_ENDPOINT: httpUrl('https://huggingface.co'),
  HF_TOKEN: secret(),
  DISCORD_TOKEN: secret(),
  DISCORD_APPLICATION_ID: optionalText,
  DISCORD_GUILD_ID: optionalText,
  DISCORD_API_URL: httpUrl('https://discord.com/api'),
  DISCORD_GATEWAY_URL: httpUrl(undefined, ['ws:', 'wss:']),
  SLACK_BOT_TOKEN: secret(),
  SLACK_SIGNING_SECRET: secret(),
  SLACK_APP_TOKEN: secret(),
  SLACK_API_URL: httpUrl('https://slack.com/api/'),
  MAX_FRAMES: integer(1, 256, 32),
  MAX_SIDE: integer(64, 2048, 512),
  MAX_STEPS: integer(1, 100, 50),
  QUOTA_VIDEOS_PER_DAY: integer(0, 1_000_000, 20),
  QUOTA_GPU_SECONDS_PER_DAY: integer(0, 100_000_000, 3600),
  MAX_QUEUED_PER_USER: integer(1, 10_000, 3),
  QUEUE_CAP: integer(1, 1_000_000, 100),
  PROMPT_MAX_LENGTH: integer(1, 10_000, 500),
  BANNED_WORDS: wordList,
  OUTPUT_RETENTION_DAYS: integer(0, 36_500, 7),
  FAIR_SHARE_HALF_LIFE_MINUTES: decimal(0.01, 525_600, 60),
  TRUSTED_WEIGHT: decimal(0.01, 1000, 2),
  ADMIN_WEIGHT: decimal(0.01, 1000, 4),
  DRAIN_TIMEOUT_SECONDS: integer(0, 86_400, 30),
  WORKER_NAME: optionalText,
  LEASE_TIMEOUT_SECONDS: integer(3, 3_600, 30),
  MEDIA_STORE: oneOf(MEDIA_STORES, 'auto'),
  S3_BUCKET: bucketName,
  S3_ENDPOINT: httpUrl('https://s3.amazonaws.com'),
  S3_REGION: text('us-east-1'),
  S3_ACCESS_KEY_ID: optionalText,
  S3_SECRET_ACCESS_KEY: secret(),
  S3_PREFIX: objectKeyPrefix,
});

/** Names of every variable the service reads (the README table and .env.example list the same). */
export const CONFIG_KEYS = Object.keys(envSchema.shape) as (keyof typeof envSchema.shape)[];

/** Reads `.env` from `cwd` if present; values already in `env` take precedence. */
export function withDotEnv(env: Env, cwd = process.cwd()): Env {
  const path = resolve(cwd, '.env');
  if (!existsSync(path)) return env;
  return { ...parseEnv(readFileSync(path, 'utf8')), ...env };
}

/** Parses the environment; throws ConfigError listing every wrong value. */
export function loadConfig(env: Env = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`));
  }
  const e = parsed.data;
  const mediaStore: MediaStoreKind =
    e.MEDIA_STORE !== 'auto' ? e.MEDIA_STORE : e.S3_BUCKET !== undefined ? 'bucket' : (e.DATABASE_URL ?? 'file:').startsWith('file:') ? 'files' : 'database';
  const bucket = mediaStore === 'bucket' ? bucketConfig(e) : undefined;
  const dataDir = resolve(e.DATA_DIR);
  const databaseUrl = e.DATABASE_URL ?? `file:${resolve(dataDir, 't2v.db')}`;
  const browsableHost = e.HOST === '0.0.0.0' || e.HOST === '::' ? '127.0.0.1' : e.HOST;
  return {
    host: e.HOST,
    port: e.PORT,
    publicUrl: (e.PUBLIC_URL ?? `http://${browsableHost.includes(':') ? `[${browsableHost}]` : browsableHost}:${e.PORT}`).replace(/\/+$/, ''),
    dataDir,
    outputsDir: resolve(dataDir, 'outputs'),
    databaseUrl,
    adminToken: e.ADMIN_TOKEN,
    logLevel: e.LOG_LEVEL,
    engine: {
      modelDir: e.MODEL_DIR,
      device: e.ENGINE_DEVICE,
      deviceId: e.ENGINE_DEVICE_ID,
      threads: e.ENGINE_THREADS,
      slots: e.ENGINE_SLOTS,
      ffmpegPath: e.FFMPEG_PATH,
      secondsPerUnit: e.ENGINE_SECONDS_PER_UNIT,
    },
    hub: { endpoint: e.HF_ENDPOINT, token: e.HF_TOKEN },
    discord: {
      token: e.DISCORD_TOKEN,
      applicationId: e.DISCORD_APPLICATION_ID,
      guildId: e.DISCORD_GUILD_ID,
      apiUrl: e.DISCORD_API_URL,
      gatewayUrl: e.DISCORD_GATEWAY_URL,
    },
    slack: {
      botToken: e.SLACK_BOT_TOKEN,
      signingSecret: e.SLACK_SIGNING_SECRET,
      appToken: e.SLACK_APP_TOKEN,
      apiUrl: e.SLACK_API_URL,
    },
    limits: { maxFrames: e.MAX_FRAMES, maxSide: e.MAX_SIDE, maxSteps: e.MAX_STEPS },
    settingDefaults: {
      videosPerDay: e.QUOTA_VIDEOS_PER_DAY,
      gpuSecondsPerDay: e.QUOTA_GPU_SECONDS_PER_DAY,
      maxQueuedPerUser: e.MAX_QUEUED_PER_USER,
      queueCap: e.QUEUE_CAP,
      promptMaxLength: e.PROMPT_MAX_LENGTH,
      bannedWords: e.BANNED_WORDS,
      outputRetentionDays: e.OUTPUT_RETENTION_DAYS,
    },
    fairShare: {
      halfLifeMinutes: e.FAIR_SHARE_HALF_LIFE_MINUTES,
      roleWeights: { user: 1, trusted: e.TRUSTED_WEIGHT, admin: e.ADMIN_WEIGHT },
    },
    workers: {
      name: e.WORKER_NAME?.trim() || `${hostname()}:${process.pid}`,
      leaseSeconds: e.LEASE_TIMEOUT_SECONDS,
      mediaStore,
    },
    bucket,
    drainTimeoutSeconds: e.DRAIN_TIMEOUT_SECONDS,
  };
}

/** The bucket settings MEDIA_STORE=bucket needs, or a ConfigError naming what is missing and why it is needed. */
function bucketConfig(e: z.infer<typeof envSchema>): BucketConfig {
  const missing = (['S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'] as const).filter((key) => e[key] === undefined);
  if (missing.length > 0) {
    const needed = missing.join(' and ');
    throw new ConfigError([
      e.MEDIA_STORE === 'bucket'
        ? `MEDIA_STORE is bucket, which needs ${needed} set too (the bucket and an access key that may use it)`
        : `S3_BUCKET is set, so videos are kept in that bucket, which needs ${needed} set too (or set MEDIA_STORE to files or database)`,
    ]);
  }
  return {
    endpoint: e.S3_ENDPOINT,
    region: e.S3_REGION,
    name: e.S3_BUCKET!,
    accessKeyId: e.S3_ACCESS_KEY_ID!.trim(),
    secretAccessKey: e.S3_SECRET_ACCESS_KEY!,
    prefix: e.S3_PREFIX,
  };
}

/** Values that must never reach a log line or a page. */
export function configSecrets(config: Config): string[] {
  const secrets = [
    config.adminToken,
    config.hub.token,
    config.discord.token,
    config.slack.botToken,
    config.slack.signingSecret,
    config.slack.appToken,
    config.bucket?.secretAccessKey,
  ];
  const dbPassword = databasePassword(config.databaseUrl);
  return [...secrets, dbPassword].filter((s): s is string => s !== undefined && s.length > 0);
}

function databasePassword(url: string): string | undefined {
  if (!/^postgres(ql)?:/.test(url)) return undefined;
  try {
    const password = new URL(url).password;
    return password === '' ? undefined : decodeURIComponent(password);
  } catch {
    return undefined;
  }
}
