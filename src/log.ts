// Structured logs (pino, JSON lines). Secrets are kept out in three layers, because one alone misses cases:
// 1. pino `redact` removes fields that hold credentials (authorization headers, token/password keys);
// 2. every finished line is scrubbed of the configured secret values, wherever they ended up (an error
//    message, a URL, a stack);
// 3. the same pass masks passwords in any `scheme://user:password@host` URL, `Bearer` credentials and the signature
//    of media links (`?sig=`: the request log shows their URLs, and a signature opens a video without a token).
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger } from 'pino';

const REDACTED = '[redacted]';

const REDACT_PATHS = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.cookie',
  '*.authorization',
  'token',
  '*.token',
  'password',
  '*.password',
  'adminToken',
  '*.adminToken',
  'secret',
  '*.secret',
];

export interface LoggerOptions {
  level?: LogLevel;
  /**
   * Values to mask wherever they appear (tokens, database password); see configSecrets(). The array is kept by
   * reference, so a secret learned later (a generated admin token) can be pushed onto it.
   */
  secrets?: string[];
  /** Where JSON lines go; stdout by default. Tests pass a collector. */
  destination?: DestinationStream;
}

/** Masks known secret values, URL passwords, bearer credentials and link signatures in one serialized log line. */
export function scrubSecrets(line: string, secrets: readonly string[]): string {
  let out = line;
  for (const secret of secrets) {
    // Secrets shorter than 4 characters would mask ordinary text; config requires longer ones anyway.
    if (secret.length < 4) continue;
    out = out.split(secret).join(REDACTED);
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret) out = out.split(escaped).join(REDACTED);
  }
  return out
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^:/\s"@]+:)[^@\s"/]+@/gi, `$1${REDACTED}@`)
    .replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]+/g, `$1${REDACTED}`)
    .replace(/([?&]sig=)[A-Za-z0-9_%-]+/g, `$1${REDACTED}`);
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const secrets = options.secrets ?? [];
  const target = options.destination ?? pino.destination({ dest: 1, sync: true });
  const scrubbing: DestinationStream = {
    write: (line: string) => target.write(scrubSecrets(line, secrets)),
  };
  return pino(
    {
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
    },
    scrubbing,
  );
}
