// The README and .env.example document every variable the service reads and every error code the API returns.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CONFIG_KEYS } from '../../src/config.js';
import { ErrorCode } from '../../src/core/errors.js';
import { HTTP_STATUS } from '../../src/http/errors.js';

const readme = readFileSync('README.md', 'utf8');
const envExample = readFileSync('.env.example', 'utf8');

describe('documentation', () => {
  it('lists every configuration variable in the README table and in .env.example', () => {
    for (const key of CONFIG_KEYS) {
      assert.match(readme, new RegExp(`^\\| \`${key}\` \\|`, 'm'), `README lacks ${key}`);
      assert.match(envExample, new RegExp(`^# ${key}=`, 'm'), `.env.example lacks ${key}`);
    }
  });

  it('starts the README with the two commands', () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    assert.match(firstBlock, /^npm install && npm start\b/m);
    assert.match(firstBlock, /^npm test\b/m);
  });

  it('documents the HTTP status of every error code the API can return', () => {
    const statusRows = new Map(
      readme
        .split('\n')
        .filter((line) => /^\| \d{3} \|/.test(line))
        .map((line) => [Number(line.slice(2, 5)), line]),
    );
    for (const code of Object.values(ErrorCode)) {
      // Platform and upload errors come from chat adapters, engine errors are job outcomes, not API responses.
      if ([ErrorCode.PlatformError, ErrorCode.UploadTooLarge, ErrorCode.EngineFailed, ErrorCode.JobInterrupted].includes(code)) continue;
      assert.ok(statusRows.get(HTTP_STATUS[code])?.includes(`\`${code}\``), `README does not list ${code} under ${HTTP_STATUS[code]}`);
    }
  });
});
