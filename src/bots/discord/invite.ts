// The invite URL an admin opens to add the bot to a server: exactly the scopes and permissions the Discord adapter
// uses, nothing more (no Administrator, no privileged intents). Printed at start and documented in the README.
// @see https://discord.com/developers/docs/topics/oauth2#bot-authorization-flow
// @see https://discord.com/developers/docs/topics/permissions#permissions-bitwise-permission-flags
import { OAuth2Scopes, PermissionFlagsBits } from 'discord.js';

/** `bot` adds the bot user; `applications.commands` lets it register /video and friends in the server. */
export const DISCORD_INVITE_SCOPES: readonly OAuth2Scopes[] = [OAuth2Scopes.Bot, OAuth2Scopes.ApplicationsCommands];

export interface DiscordPermission {
  /** As shown in Discord's settings. */
  name: string;
  flag: bigint;
  why: string;
}

export const DISCORD_BOT_PERMISSIONS: readonly DiscordPermission[] = [
  { name: 'View Channel', flag: PermissionFlagsBits.ViewChannel, why: 'see the channels where /video is used' },
  {
    name: 'Send Messages',
    flag: PermissionFlagsBits.SendMessages,
    why: 'answer in the channel when a thread cannot be made',
  },
  {
    name: 'Send Messages in Threads',
    flag: PermissionFlagsBits.SendMessagesInThreads,
    why: 'post progress and the video in the thread',
  },
  {
    name: 'Create Public Threads',
    flag: PermissionFlagsBits.CreatePublicThreads,
    why: 'open one thread per video request',
  },
  { name: 'Attach Files', flag: PermissionFlagsBits.AttachFiles, why: 'upload the MP4' },
  {
    name: 'Embed Links',
    flag: PermissionFlagsBits.EmbedLinks,
    why: 'show prompt, seed and settings as an embed, and links when a video is too large',
  },
  {
    name: 'Read Message History',
    flag: PermissionFlagsBits.ReadMessageHistory,
    why: 'find its own messages again, for example after a restart',
  },
];

/** The permission integer of the invite (309237763072). */
export const DISCORD_BOT_PERMISSION_BITS: bigint = DISCORD_BOT_PERMISSIONS.reduce((bits, p) => bits | p.flag, 0n);

/** The OAuth2 URL that adds the bot with `DISCORD_INVITE_SCOPES` and `DISCORD_BOT_PERMISSION_BITS`. */
export function discordInviteUrl(applicationId: string): string {
  if (!/^\d{17,20}$/.test(applicationId)) {
    throw new Error(
      `The Discord application id must be a numeric id such as 1234567890123456789 (Developer Portal → General Information → Application ID); got "${applicationId}".`,
    );
  }
  const url = new URL('https://discord.com/oauth2/authorize');
  url.searchParams.set('client_id', applicationId);
  url.searchParams.set('scope', DISCORD_INVITE_SCOPES.join(' '));
  url.searchParams.set('permissions', DISCORD_BOT_PERMISSION_BITS.toString());
  return url.toString();
}
