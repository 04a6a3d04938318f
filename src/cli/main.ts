#!/usr/bin/env node
// The `t2v` command. Each subcommand lives in commands/<name>.ts and is registered here with one line.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config.js';
import { registerGenerate } from './commands/generate.js';
import { registerModel } from './commands/model.js';
import { registerServe } from './commands/serve.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('t2v')
  .description('t2v-bot: self-hosted text-to-video for Discord and Slack')
  .version(pkg.version)
  .showHelpAfterError()
  .exitOverride();

registerServe(program);
registerGenerate(program);
registerModel(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  console.error(`t2v: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
