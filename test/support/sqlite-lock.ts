// Another process holding a SQLite file's write lock (test/support/sqlite-lock-holder.cjs), as a backup tool or a
// second service on the same file would.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestDatabase } from './test-databases.js';

/** A child process holding the SQLite file's write lock until `release()` (which may be called again). */
export async function lockSqlite(database: TestDatabase): Promise<{ release(): Promise<void> }> {
  const holder = fork(fileURLToPath(new URL('./sqlite-lock-holder.cjs', import.meta.url)), [database.url.slice('file:'.length)]);
  const exited = new Promise((resolve) => holder.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    holder.once('message', () => resolve());
    holder.once('exit', (code) => reject(new Error(`the lock holder exited (${code}) before locking`)));
  });
  return {
    release: async () => {
      if (holder.connected) holder.send('release');
      await exited;
    },
  };
}
