// A real logger from src/log.ts at debug level (secrets masked as in production) whose JSON lines are kept, for tests
// that check what the chat libraries and adapters log and wait on it.
import { createLogger, type Logger } from '../../src/log.js';
import { Recorder } from '../fakes/recorder.js';

export function captureLogs(secrets: string[] = []): { logger: Logger; lines: Recorder<string> } {
  const lines = new Recorder<string>((line) => line.slice(0, 200));
  const logger = createLogger({ level: 'debug', secrets, destination: { write: (line: string) => lines.push(line) } });
  return { logger, lines };
}
