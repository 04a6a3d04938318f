// Deletes job output folders older than the retention setting (OUTPUT_RETENTION_DAYS; 0 keeps them forever).
// The jobs stay in the history; their video URL then answers 404 and `reproduce` can render them again.
import type { Logger } from '../log.js';
import { removeJobOutput } from './job-outputs.js';
import type { JobStore } from './job-store.js';
import type { MediaStore } from './media-store.js';

const DAY_MS = 86_400_000;

export async function sweepOutputs(
  store: JobStore,
  media: MediaStore,
  outputsDir: string,
  retentionDays: number,
  now: Date,
  logger: Logger,
): Promise<number> {
  if (retentionDays <= 0) return 0;
  const expired = await store.expiredOutputs(new Date(now.getTime() - retentionDays * DAY_MS));
  for (const id of expired) await removeJobOutput(store, media, outputsDir, id);
  if (expired.length > 0) logger.info({ count: expired.length, retentionDays }, 'deleted expired job outputs');
  return expired.length;
}
