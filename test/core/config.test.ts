import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, configSecrets, loadConfig, withDotEnv } from '../../src/config.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('config', () => {
  it('runs on embedded defaults', () => {
    const config = loadConfig({});
    assert.equal(config.port, 8080);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.dataDir, resolve('./data'));
    assert.equal(config.databaseUrl, `file:${resolve('./data/t2v.db')}`);
    assert.equal(config.publicUrl, 'http://127.0.0.1:8080');
    assert.equal(config.adminToken, undefined);
    assert.deepEqual(config.limits, { maxFrames: 32, maxSide: 512, maxSteps: 50 });
    assert.deepEqual(config.engine, { modelDir: '', device: 'auto', deviceId: 0, threads: 0, slots: 1, ffmpegPath: '', secondsPerUnit: 0.1 });
    assert.equal(config.settingDefaults.maxQueuedPerUser, 3);
    assert.deepEqual(config.fairShare.roleWeights, { user: 1, trusted: 2, admin: 4 });
  });

  it('reads values, treating empty ones as unset', () => {
    const config = loadConfig({ PORT: '9000', HOST: '0.0.0.0', ENGINE_DEVICE: 'CUDA', BANNED_WORDS: 'Gore, ,blood ', ADMIN_TOKEN: '', DATABASE_URL: 'postgresql://u:p@db:5432/t2v' });
    assert.equal(config.port, 9000);
    assert.equal(config.publicUrl, 'http://127.0.0.1:9000');
    assert.equal(config.engine.device, 'cuda');
    assert.deepEqual(config.settingDefaults.bannedWords, ['gore', 'blood']);
    assert.equal(config.adminToken, undefined);
    assert.equal(config.databaseUrl, 'postgresql://u:p@db:5432/t2v');
  });

  it('gives one clear message per wrong value, naming what is allowed', () => {
    assert.deepEqual(
      problems({ PORT: 'abc', LOG_LEVEL: 'loud', ENGINE_SLOTS: '17', MAX_FRAMES: '2.5', ENGINE_DEVICE: 'tpu', HF_ENDPOINT: 'ftp://x', DATABASE_URL: 'mysql://u:secretpw@h/db' }),
      [
        'PORT must be a whole number from 0 to 65535 (got "abc")',
        'DATABASE_URL must start with file: (SQLite) or postgresql:// (got "mysql:...")',
        'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
        'ENGINE_DEVICE must be one of auto, cuda, cpu (got "tpu")',
        'ENGINE_SLOTS must be a whole number from 0 to 16 (got "17")',
        'HF_ENDPOINT must be a http: or https: URL (got "ftp://x")',
        'MAX_FRAMES must be a whole number from 1 to 256 (got "2.5")',
      ],
    );
  });

  it('never echoes a secret, even a wrong one', () => {
    const [problem] = problems({ ADMIN_TOKEN: 'short-secret' });
    assert.equal(problem, 'ADMIN_TOKEN must be at least 16 characters (got 12)');
    assert.throws(
      () => loadConfig({ DATABASE_URL: 'mysql://user:hunter22@host/db' }),
      (e: Error) => (assert.doesNotMatch(e.message, /hunter22/), true),
    );
  });

  it('reads .env, with real environment variables taking precedence', () => {
    const dir = mkdtempSync(join(tmpdir(), 't2v-env-'));
    try {
      writeFileSync(join(dir, '.env'), 'PORT=7000\nHOST=0.0.0.0\n# comment\nLOG_LEVEL=debug\n');
      const config = loadConfig(withDotEnv({ HOST: '127.0.0.2' }, dir));
      assert.equal(config.port, 7000);
      assert.equal(config.host, '127.0.0.2');
      assert.equal(config.logLevel, 'debug');
      assert.deepEqual(withDotEnv({ A: '1' }, join(dir, 'missing')), { A: '1' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps videos in an S3-compatible bucket when one is configured, with every setting it needs', () => {
    const s3 = { S3_BUCKET: 'team-videos', S3_ACCESS_KEY_ID: 'AKIDEXAMPLE', S3_SECRET_ACCESS_KEY: 'bucket-secret-key' };
    assert.equal(loadConfig({}).workers.mediaStore, 'files');
    assert.equal(loadConfig({ DATABASE_URL: 'postgresql://db/t2v' }).workers.mediaStore, 'database');
    const config = loadConfig({ ...s3, DATABASE_URL: 'postgresql://db/t2v', S3_ENDPOINT: 'http://minio:9000', S3_PREFIX: 'bots/t2v' });
    assert.equal(config.workers.mediaStore, 'bucket', 'auto picks the bucket when S3_BUCKET is set');
    assert.deepEqual(config.bucket, {
      endpoint: 'http://minio:9000',
      region: 'us-east-1',
      name: 'team-videos',
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'bucket-secret-key',
      prefix: 'bots/t2v/',
    });
    assert.equal(loadConfig(s3).bucket?.endpoint, 'https://s3.amazonaws.com');
    assert.equal(loadConfig({ ...s3, MEDIA_STORE: 'database', DATABASE_URL: 'postgresql://db/t2v' }).bucket, undefined, 'an explicit MEDIA_STORE wins');
    assert.ok(configSecrets(loadConfig(s3)).includes('bucket-secret-key'));

    assert.deepEqual(problems({ MEDIA_STORE: 'bucket', S3_SECRET_ACCESS_KEY: 'bucket-secret-key' }), [
      'MEDIA_STORE is bucket, which needs S3_BUCKET and S3_ACCESS_KEY_ID set too (the bucket and an access key that may use it)',
    ]);
    assert.deepEqual(problems({ S3_BUCKET: 'team-videos' }), [
      'S3_BUCKET is set, so videos are kept in that bucket, which needs S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY set too (or set MEDIA_STORE to files or database)',
    ]);
    assert.deepEqual(problems({ ...s3, S3_BUCKET: 'Team_Videos', S3_PREFIX: '../up', S3_ENDPOINT: 'minio:9000' }), [
      'S3_BUCKET must be a bucket name: 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit (got "Team_Videos")',
      'S3_ENDPOINT must be a http: or https: URL (got "minio:9000")',
      'S3_PREFIX must be folder names of letters, digits and !_.*\'()- separated by / (got "../up")',
    ]);
  });

  it('lists every secret, including the database password', () => {
    const config = loadConfig({
      ADMIN_TOKEN: 'a'.repeat(20),
      DISCORD_TOKEN: 'discord-token',
      SLACK_BOT_TOKEN: 'xoxb-1',
      SLACK_SIGNING_SECRET: 'signing',
      SLACK_APP_TOKEN: 'xapp-1',
      HF_TOKEN: 'hf_abc',
      DATABASE_URL: 'postgresql://t2v:p%40ss@db/t2v',
    });
    assert.deepEqual(configSecrets(config).sort(), ['a'.repeat(20), 'discord-token', 'hf_abc', 'p@ss', 'signing', 'xapp-1', 'xoxb-1'].sort());
  });
});
