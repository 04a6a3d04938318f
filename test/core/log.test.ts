// Secrets (tokens, the database password) must never reach a log line, whatever path they take.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger, scrubSecrets } from '../../src/log.js';
import { jobEvent } from '../support/events.js';
import { createTestDatabase } from '../support/test-databases.js';
import { startTestService, TEST_ADMIN_TOKEN } from '../support/test-service.js';

describe('log redaction', () => {
  it('removes credential fields, configured secrets, URL passwords and bearer tokens', () => {
    const lines: string[] = [];
    const logger = createLogger({ secrets: ['xoxb-slack-secret', 'quote"secret'], destination: { write: (line) => void lines.push(line) } });
    logger.info({ req: { headers: { authorization: 'Bearer abc.def' } }, token: 'field-token-1', nested: { password: 'pw-1' } }, 'request');
    logger.error({ err: new Error('Slack refused xoxb-slack-secret at https://u:pw-2@example.com/x') }, 'failed with quote"secret');
    logger.warn('header was Authorization: Bearer live-token-3');
    const output = lines.join('');
    for (const secret of ['abc.def', 'field-token-1', 'pw-1', 'xoxb-slack-secret', 'pw-2', 'quote"secret', 'quote\\"secret', 'live-token-3']) {
      assert.ok(!output.includes(secret), `${secret} leaked: ${output}`);
    }
    assert.ok(output.includes('[redacted]'));
    assert.ok(output.includes('https://u:[redacted]@example.com/x'));
    assert.equal(scrubSecrets('postgresql://t2v:s3cr3t@db:5432/t2v', []), 'postgresql://t2v:[redacted]@db:5432/t2v');
  });

  it('keeps tokens and the database password out of the service logs', async () => {
    const postgres = await createTestDatabase('postgresql');
    const dbPassword = 'SuperSecretDbPassword42';
    // The local server trusts loopback connections, so the password is accepted and ignored, like a real one.
    const withPassword = { ...postgres, url: postgres.url.replace('postgresql://postgres@', `postgresql://postgres:${dbPassword}@`) };
    const hubToken = 'hf_secret_token_xyz_123456';
    const t = await startTestService({ database: withPassword, env: { HF_TOKEN: hubToken, LOG_LEVEL: 'trace' } });
    try {
      t.service.subscribe(() => {
        throw new Error(`adapter failed with ${hubToken} and ${TEST_ADMIN_TOKEN} against ${withPassword.url}`);
      });
      await t.request('GET', '/api/v1/queue');
      await t.request('GET', '/api/v1/queue', undefined, 'wrong-token-value-987');
      const submitted = await t.request('POST', '/api/v1/jobs', { user: { platform: 'api', id: 'u' }, prompt: `use ${TEST_ADMIN_TOKEN}`, frames: 2, steps: 2, width: 64, height: 64 });
      await t.events.waitFor(jobEvent('succeeded', (submitted.json() as { id: string }).id));
    } finally {
      await t.destroy();
      await postgres.drop();
    }
    const output = t.logLines.join('');
    assert.ok(t.logLines.length > 5);
    assert.ok(output.includes('adapter failed with'), 'the error itself is logged');
    for (const secret of [TEST_ADMIN_TOKEN, hubToken, dbPassword]) {
      assert.ok(!output.includes(secret), `${secret} reached the log`);
    }
    assert.match(output, /"database":"postgresql:\/\/postgres:(\*\*\*|\[redacted\])@127\.0\.0\.1/);
  });
});
