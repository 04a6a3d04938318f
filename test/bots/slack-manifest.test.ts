// The manifest an admin pastes must match what the Slack adapter listens on and calls.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { SLACK_EVENTS_PATH } from '../../src/bots/slack/app.js';

interface Manifest {
  features: {
    slash_commands: { command: string; url: string; should_escape: boolean }[];
    bot_user: { display_name: string };
  };
  oauth_config: { scopes: { bot: string[]; user?: string[] } };
  settings: {
    event_subscriptions: { request_url: string; bot_events: string[] };
    interactivity: { is_enabled: boolean; request_url: string };
    socket_mode_enabled: boolean;
  };
}

const manifest = parse(readFileSync(new URL('../../slack-app-manifest.yaml', import.meta.url), 'utf8')) as Manifest;

test('the manifest declares /video, app_mention, interactivity and only the scopes the bot uses', () => {
  assert.deepEqual(
    manifest.features.slash_commands.map((c) => c.command),
    ['/video'],
  );
  assert.equal(manifest.features.slash_commands[0]?.should_escape, false);
  assert.deepEqual(manifest.settings.event_subscriptions.bot_events, ['app_mention']);
  assert.equal(manifest.settings.interactivity.is_enabled, true);
  assert.deepEqual([...manifest.oauth_config.scopes.bot].sort(), [
    'app_mentions:read',
    'chat:write',
    'commands',
    'files:write',
  ]);
  assert.equal(manifest.oauth_config.scopes.user, undefined, 'no user scopes');
  assert.equal(
    manifest.settings.socket_mode_enabled,
    false,
    'HTTP mode is the pasted default; the comments explain Socket Mode',
  );
});

test("every request URL placeholder points at Bolt's receiver path", () => {
  const urls = [
    manifest.features.slash_commands[0]?.url,
    manifest.settings.event_subscriptions.request_url,
    manifest.settings.interactivity.request_url,
  ];
  for (const url of urls) assert.equal(url, `https://YOUR-HOST${SLACK_EVENTS_PATH}`);
});
