// loadConfig under any environment: every variable it reads set to anything, valid or not. The answer is a Config
// or a ConfigError whose problems are one-line sentences, each naming a variable that was set wrong; nothing else is
// thrown, and no secret (admin, Hub, Discord and Slack tokens, the bucket's secret key, the database password) appears in
// the error text.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CONFIG_KEYS, ConfigError, configSecrets, loadConfig, type Config } from '../../src/config.js';
import { anyText, assertPlainText, checkProperty, EDGE_NUMBERS } from './fuzz-support.js';

type Key = (typeof CONFIG_KEYS)[number];
type Env = Partial<Record<Key, string>>;

const TOKEN_KEYS = ['ADMIN_TOKEN', 'HF_TOKEN', 'DISCORD_TOKEN', 'SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_APP_TOKEN', 'S3_SECRET_ACCESS_KEY'] as const satisfies readonly Key[];

/** A secret nobody could mistake for another value: a marker and random letters, long or short. */
const secretText = fc.tuple(fc.stringMatching(/^[A-Za-z0-9]{4,40}$/), fc.constantFrom('', '-', '_')).map(([body, sep]) => `sekrit${sep}${body}`);

/** A Postgres URL with a secret password, sometimes cut short at the front as a bad paste would. */
const databaseUrl = fc.oneof(
  fc.tuple(secretText, fc.nat(60), fc.boolean()).map(([password, cut, truncate]) => {
    const url = `postgresql://t2v:${password}@db.example:5432/t2v`;
    return { url: truncate ? url.slice(cut % url.length) : url, password };
  }),
  fc.constantFrom('file:./data/t2v.db', 'file:', 'postgres://', 'mysql://u@h/db', 'sqlite:x.db').map((url) => ({ url, password: undefined })),
);

/** Plausible and implausible values per kind of variable. */
const numberText = fc.oneof(fc.constantFrom(...EDGE_NUMBERS).map(String), fc.integer({ min: -10, max: 100_000 }).map(String), fc.constantFrom('1.5', '0x10', '1e3', ' 7 ', '07', '+3', '-0', '1_000', '٣', ''));
const urlText = fc.oneof(fc.webUrl(), fc.constantFrom('ftp://x', 'ws://localhost:1', 'wss://gateway.example', 'http://', 'https://[::1]:8080/', 'localhost:8080', 'javascript:alert(1)'));
const hostText = fc.oneof(fc.constantFrom('127.0.0.1', '0.0.0.0', '::', '::1', 'localhost', 'example.com', '[::1]', 'a b', 'host:1', 'h/x', ''), fc.domain(), fc.ipV4(), fc.ipV6());
const valueFor: Record<Key, fc.Arbitrary<string>> = Object.fromEntries(
  CONFIG_KEYS.map((key) => {
    const plausible =
      key === 'HOST'
        ? hostText
        : key.endsWith('_URL') || key.endsWith('_ENDPOINT')
          ? urlText
          : key === 'LOG_LEVEL'
            ? fc.constantFrom('info', 'DEBUG', 'silent', 'loud', ' warn ')
            : key === 'ENGINE_DEVICE'
              ? fc.constantFrom('auto', 'cuda', 'CPU', 'tpu')
              : key === 'BANNED_WORDS'
                ? fc.array(anyText, { maxLength: 4 }).map((w) => w.join(','))
                : key === 'MEDIA_STORE'
                  ? fc.constantFrom('auto', 'files', 'database', 'bucket', 'Bucket', 's3')
                  : key === 'S3_BUCKET' || key === 'S3_PREFIX'
                    ? fc.oneof(fc.domain(), fc.constantFrom('t2v-videos', 'a/b/', '/x', '..', 'a..b', 'A_B', 'ab'))
                    : numberText;
    return [key, fc.oneof({ weight: 3, arbitrary: plausible }, { weight: 1, arbitrary: anyText })];
  }),
) as Record<Key, fc.Arbitrary<string>>;

interface FuzzEnv {
  env: Env;
  /** The secrets set in it, which no error text may show. */
  secrets: string[];
}

const anyEnv: fc.Arbitrary<FuzzEnv> = fc
  .tuple(
    fc.record(Object.fromEntries(CONFIG_KEYS.filter((k) => !(TOKEN_KEYS as readonly string[]).includes(k) && k !== 'DATABASE_URL').map((k) => [k, valueFor[k]])) as Record<Key, fc.Arbitrary<string>>, { requiredKeys: [] }),
    fc.record(Object.fromEntries(TOKEN_KEYS.map((k) => [k, secretText])) as Record<(typeof TOKEN_KEYS)[number], fc.Arbitrary<string>>, { requiredKeys: [] }),
    fc.option(databaseUrl, { nil: undefined }),
  )
  .map(([plain, tokens, database]) => ({
    env: { ...plain, ...tokens, ...(database === undefined ? {} : { DATABASE_URL: database.url }) },
    secrets: [...Object.values(tokens), ...(database?.password === undefined ? [] : [database.password])],
  }));

/** A Config, or the problems of a ConfigError; anything else thrown fails the property. */
function load(env: Env): Config | string[] {
  try {
    return loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `a ConfigError, not ${String(error)}`);
    for (const secret of [error.message, ...error.problems]) assert.equal(typeof secret, 'string');
    return error.problems;
  }
}

/** Inputs fuzzing found wrong once, kept as fixed first examples. */
const REGRESSIONS: Record<string, FuzzEnv> = {
  /** The raw value went into the problem: a control character (or a newline, starting a fake problem) in the text. */
  controlCharacter: { env: { ENGINE_THREADS: '\u0000' }, secrets: [] },
  /** "got \"sekrit000A@db.example:...\"": a URL pasted without its scheme showed the password. */
  databaseUrlWithoutScheme: { env: { DATABASE_URL: 'sekrit000A@db.example:5432/t2v' }, secrets: ['sekrit000A'] },
};
const ADDRESS_REGRESSIONS: Record<string, Env> = {
  /** Accepted, then a public URL "http://\u0000:8080" (and a listen error at start). */
  controlCharacterHost: { HOST: '\u0000' },
  /** Accepted as a host name, but a URL reads it as an IPv4 address out of range. */
  numericHost: { HOST: '4294967296' },
};

describe('loadConfig under any environment', () => {
  it('gives a Config, or problems that are one-line sentences naming a variable that was set, with no secret in them', async () => {
    await checkProperty(
      fc.property(anyEnv, ({ env, secrets }) => {
        const result = load(env);
        if (!Array.isArray(result)) {
          // The bucket's secret is a secret of the service once a bucket is used; otherwise it is never read.
          const used = secrets.filter((secret) => result.bucket !== undefined || secret !== env.S3_SECRET_ACCESS_KEY);
          for (const secret of used) assert.ok(configSecrets(result).includes(secret), 'every secret set is known as one, so logs mask it');
          return;
        }
        assert.ok(result.length > 0, 'a ConfigError names at least one problem');
        const text = new ConfigError(result).message;
        for (const secret of secrets) assert.ok(!text.includes(secret), `the secret ${secret} is not in ${JSON.stringify(text)}`);
        for (const problem of result) {
          const key = CONFIG_KEYS.find((k) => problem.startsWith(`${k} `));
          assert.ok(key !== undefined, `${JSON.stringify(problem)} starts with the variable's name`);
          assert.ok(env[key] !== undefined, `${key} was set (defaults are valid)`);
          assertPlainText(problem, JSON.stringify(env), key);
          assert.doesNotMatch(problem, /[\u0000-\u001f\u007f\u2028\u2029]/, `${JSON.stringify(problem)} is one line of plain text`);
          assert.ok(problem.length <= 200, `${JSON.stringify(problem)} is short`);
        }
      }),
      2_000,
      Object.values(REGRESSIONS).map((r) => [r]),
    );
  });

  it('gives a public URL that is a URL, for any HOST, PORT and PUBLIC_URL it accepts', async () => {
    const address = fc.record({ HOST: valueFor.HOST, PORT: valueFor.PORT, PUBLIC_URL: valueFor.PUBLIC_URL }, { requiredKeys: [] });
    await checkProperty(
      fc.property(address, (env) => {
        const result = load(env);
        if (Array.isArray(result)) return;
        assert.doesNotThrow(() => new URL(result.publicUrl), `public URL ${result.publicUrl} from ${JSON.stringify(env)}`);
      }),
      1_000,
      Object.values(ADDRESS_REGRESSIONS).map((r) => [r]),
    );
  });
});
