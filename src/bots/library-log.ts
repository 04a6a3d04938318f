// Routes the chat libraries' own log output (discord.js debug/warn events, Bolt's and the Slack SDK's Logger) into our
// logger with secrets removed. Both libraries write tokens and capability URLs into their debug lines: discord.js its
// partly censored bot token and REST routes that embed interaction tokens (`/webhooks/{app}/{token}`), Bolt every
// incoming body (with the legacy verification `token` and `response_url`) and Socket Mode URLs (with a `ticket`).
// Redacting at this one choke point keeps them out of logs whatever level the operator picks; src/log.ts then also
// masks the configured secret values in every line, but it cannot know interaction tokens, tickets or response URLs.

const REDACTED = '[redacted]';

const SECRET_PATTERNS: readonly [RegExp, string][] = [
  // Slack tokens: bot (xoxb), user (xoxp), app-level (xapp), refresh/config ones.
  [/\bxox[a-z]-[A-Za-z0-9-]+/g, `xox-${REDACTED}`],
  [/\bxapp-[A-Za-z0-9-]+/g, `xapp-${REDACTED}`],
  // Discord bot tokens (base64 id . timestamp . hmac), including discord.js' censored `Provided token:` form.
  [/\b[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_*-]{20,}/g, REDACTED],
  // Interaction tokens inside REST routes and URLs.
  [/(\/(?:interactions|webhooks)\/\d+\/)[^/\s?"']+/g, `$1${REDACTED}`],
  // JSON fields and query/form parameters that carry credentials or capability URLs.
  [/("(?:token|response_url|ticket|authorization)"\s*:\s*")[^"]*"/gi, `$1${REDACTED}"`],
  [/([?&](?:token|ticket|response_url)=)[^&\s"']+/gi, `$1${REDACTED}`],
  [/(\b(?:Bot|Bearer)\s+)[^\s"',]+/g, `$1${REDACTED}`],
];

/** Returns a function that removes `secrets` (the configured tokens) and anything token-shaped from a log line. */
export function createRedactor(secrets: readonly (string | undefined)[]): (text: string) => string {
  const known = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 8);
  return (text) => {
    let result = text;
    for (const secret of known) result = result.replaceAll(secret, REDACTED);
    for (const [pattern, replacement] of SECRET_PATTERNS) result = result.replace(pattern, replacement);
    return result;
  };
}

/** Joins a library's variadic log arguments into one line; errors keep their message and stack. */
export function formatLogArgs(args: readonly unknown[]): string {
  return args
    .map((arg) => {
      if (typeof arg === 'string') return arg;
      if (arg instanceof Error) return arg.stack ?? `${arg.name}: ${arg.message}`;
      try {
        return JSON.stringify(arg);
      } catch {
        return String(arg);
      }
    })
    .join(' ');
}
