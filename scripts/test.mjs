#!/usr/bin/env node
// Runs every test/**/*.test.ts with node:test through tsx. Node 20 has no glob support in `node --test`,
// hence this finder. Extra arguments filter files by substring: `npm test -- engine/unet`.
// test/loopback-guard.cjs is preloaded into every test process: connections beyond loopback throw.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const nodeFlags = process.argv.slice(2).filter((a) => a.startsWith('--'));
const files = readdirSync('test', { recursive: true })
  .map((f) => `test/${f}`)
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`No test files match ${filters.join(', ')}`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--require', './test/loopback-guard.cjs', '--import', 'tsx', '--test', '--test-concurrency=1', ...nodeFlags, ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
