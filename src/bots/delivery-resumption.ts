// Chat requests are acknowledged before they are handled (Bolt acknowledges a Slack event before its listener runs,
// and commands and buttons with ack() first; a Discord interaction is acknowledged by its deferral), and neither
// platform sends an acknowledged request again. So an adapter claims a delivery together with what it needs to handle
// it (VideoService.claimDelivery with a request), records its progress (the status message, the job), and records
// when it was handled; a process that starts after a crash resumes here the deliveries that an earlier process
// claimed and never handled, with the adapter's own handling, once for both platforms.
import type { Logger } from '../log.js';
import type { ChatPlatform, ClaimedDelivery, VideoService } from '../service/video-service.js';

export interface DeliveryResumption {
  service: VideoService;
  logger: Logger;
  platform: ChatPlatform;
  /** Deliveries claimed since this process took requests are its own, being handled now; only older ones are resumed. */
  claimedBefore: Date;
  /** How long after its claim a delivery can still be answered on this platform. */
  maxAgeMs: number;
  /** Why an older one cannot, for the log line that leaves it. */
  tooOldReason: string;
  /** Handles the delivery from its stored request and progress, as the adapter handles a live one. */
  resume(delivery: ClaimedDelivery): Promise<void>;
  /** An error as it may be logged: library errors can carry tokens (a Discord interaction token in a request URL). */
  describeError(error: unknown): unknown;
}

/**
 * Resumes, oldest first and one at a time (so that jobs queue in the order they were asked for), the deliveries a
 * stopped process claimed and did not handle; each is recorded as handled afterwards, whatever became of it, and one
 * too old to answer is left with a log line. Failures are logged: they never stop the adapter.
 */
export async function resumeDeliveries(options: DeliveryResumption): Promise<void> {
  const { service, logger, platform } = options;
  const name = platform === 'discord' ? 'Discord' : 'Slack';
  let deliveries: ClaimedDelivery[];
  try {
    deliveries = await service.unhandledDeliveries(platform, options.claimedBefore);
  } catch (error) {
    logger.error({ err: error }, `could not look for ${name} requests that a stopped process had accepted but not handled`);
    return;
  }
  for (const delivery of deliveries) {
    const context = { delivery: delivery.key, claimedAt: delivery.claimedAt.toISOString() };
    try {
      if (Date.now() - delivery.claimedAt.getTime() > options.maxAgeMs) {
        logger.warn(context, `left a ${name} request that a stopped process had accepted but not handled: ${options.tooOldReason}`);
      } else {
        logger.info(context, `resuming a ${name} request that a stopped process had accepted but not handled`);
        await options.resume(delivery);
      }
    } catch (error) {
      logger.error({ ...context, err: options.describeError(error) }, `a resumed ${name} request failed`);
    } finally {
      await service.deliveryHandled(delivery.key).catch((error: unknown) => logger.warn({ ...context, err: error }, `could not record that a ${name} request was handled`));
    }
  }
}
