import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PermissionFlagsBits, PermissionsBitField } from 'discord.js';
import { DISCORD_BOT_PERMISSION_BITS, discordInviteUrl } from '../../src/bots/discord/invite.js';

test('the invite asks for bot + applications.commands and exactly the seven permissions the adapter uses', () => {
  const url = new URL(discordInviteUrl('1234567890123456789'));
  assert.equal(url.origin + url.pathname, 'https://discord.com/oauth2/authorize');
  assert.equal(url.searchParams.get('client_id'), '1234567890123456789');
  assert.equal(url.searchParams.get('scope'), 'bot applications.commands');
  assert.equal(url.searchParams.get('permissions'), '309237763072');
  assert.deepEqual(new PermissionsBitField(DISCORD_BOT_PERMISSION_BITS).toArray().sort(), [
    'AttachFiles',
    'CreatePublicThreads',
    'EmbedLinks',
    'ReadMessageHistory',
    'SendMessages',
    'SendMessagesInThreads',
    'ViewChannel',
  ]);
  assert.equal(DISCORD_BOT_PERMISSION_BITS & PermissionFlagsBits.Administrator, 0n);
});

test('a wrong application id is explained', () => {
  assert.throws(() => discordInviteUrl('my-bot'), /numeric id.*Application ID.*"my-bot"/);
});
