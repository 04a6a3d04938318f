import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRedactor, formatLogArgs } from '../../src/bots/library-log.js';

const discordToken = 'MTEyMzQ1Njc4OTAxMjM0NTY3OA.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB';

test('configured secrets and token-shaped text are removed from library log lines', () => {
  const redact = createRedactor(['s3cr3t-signing-value', undefined]);
  const cases: [string, string][] = [
    [`Provided token: ${discordToken.replace(/[^.]+$/, (h) => '*'.repeat(h.length))}`, 'Provided token: [redacted]'],
    [`login with ${discordToken} now`, 'login with [redacted] now'],
    [
      'PATCH /webhooks/1234/aW50ZXJhY3Rpb24.secret-token/messages/@original',
      'PATCH /webhooks/1234/[redacted]/messages/@original',
    ],
    [
      'POST /interactions/99/tok_en-1/callback?with_response=false',
      'POST /interactions/99/[redacted]/callback?with_response=false',
    ],
    [
      '{"token":"verif1cation","response_url":"https://hooks.slack.com/commands/T1/2/x"}',
      '{"token":"[redacted]","response_url":"[redacted]"}',
    ],
    [
      'Connecting to wss://wss-primary.slack.com/link/?ticket=abc-123&app_id=A1',
      'Connecting to wss://wss-primary.slack.com/link/?ticket=[redacted]&app_id=A1',
    ],
    ['token xoxb-1-2-abc and xapp-1-A1-2-def', 'token xox-[redacted] and xapp-[redacted]'],
    ['header Authorization: Bearer abc.def', 'header Authorization: Bearer [redacted]'],
    ['secret s3cr3t-signing-value here', 'secret [redacted] here'],
    [
      '[WS => Shard 0] Heartbeat acknowledged, latency of 3ms.',
      '[WS => Shard 0] Heartbeat acknowledged, latency of 3ms.',
    ],
  ];
  for (const [input, expected] of cases) assert.equal(redact(input), expected);
});

test('variadic library arguments become one line, errors with their stack', () => {
  const line = formatLogArgs(['Slack API error: not_in_channel', new Error('boom'), { a: 1 }]);
  assert.match(line, /^Slack API error: not_in_channel Error: boom\n\s+at /);
  assert.match(line, /\{"a":1\}$/);
});
