// The composition root: the only place that wires concrete parts together. `startService` is what `t2v serve`
// runs, and what tests run in-process with a test renderer.
import { mkdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { adminDashboard } from './admin/plugin.js';
import { createChatAdapters, type ChatAdapterOptions } from './bots/chat-adapters.js';
import { httpApi } from './http/api/routes.js';
import { mediaLinkRoutes } from './http/media.js';
import { configSecrets, type Config } from './config.js';
import { setupAdminAuth, type AdminAuth } from './service/admin-auth.js';
import { EventBus, type EventListener } from './core/events.js';
import { setupMediaLinks } from './service/media-links.js';
import type { Renderer } from './core/ports.js';
import { VideoService } from './service/video-service.js';
import { AuditLog } from './db/audit-log.js';
import { connectDatabase, databaseTarget, type Database } from './db/database.js';
import { migrateDatabase } from './db/migrations.js';
import { SettingsStore } from './db/settings.js';
import { createMetrics } from './http/metrics.js';
import { buildServer, type HttpPlugin } from './http/server.js';
import { createLogger, type Logger } from './log.js';
import { CostModel } from './queue/cost-model.js';
import { JobStore } from './queue/job-store.js';
import { loadRenderResult } from './queue/render-result.js';
import { sweepOutputs } from './queue/retention.js';
import { Worker } from './queue/worker.js';

/** A render interrupted by a crash is tried this many times in all before it fails. */
export const MAX_RENDER_ATTEMPTS = 2;
/** Fair-share history older than this many half-lives weighs under 0.1 % and is not loaded. */
const HISTORY_HALF_LIVES = 10;
const RETENTION_SWEEP_MS = 3_600_000;

export interface StartOptions {
  /** The engine; without one the service runs, reports the engine unavailable and keeps jobs queued. */
  renderer?: Renderer;
  logger?: Logger;
  /** More route plugins for the same server (the dashboard), registered after the HTTP API. */
  plugins?: HttpPlugin[];
  /** Default true; false builds everything without opening the port (tests use app.inject). */
  listen?: boolean;
  /** Replace the stored admin token with a new one (ignored when ADMIN_TOKEN is set). */
  rotateAdminToken?: boolean;
  /** Shows a newly generated admin token; default prints a banner to stdout (never to the log). */
  showAdminToken?: (token: string) => void;
  /**
   * Event listeners attached before the queue is restored, so they see everything from the first event on
   * (including jobs requeued after a crash and jobs that start at once). Later ones use service.subscribe().
   */
  listeners?: EventListener[];
  /** Engine readiness poll interval (ms). */
  enginePollMs?: number;
  clock?: () => Date;
  /** Tuning of the Discord and Slack adapters, which the configuration's tokens turn on. */
  chat?: ChatAdapterOptions;
}

export interface RunningService {
  config: Config;
  app: FastifyInstance;
  service: VideoService;
  auth: AdminAuth;
  db: Database;
  logger: Logger;
  /** Where the server listens (empty when `listen` was false). */
  url: string;
  /** Drains running jobs (up to DRAIN_TIMEOUT_SECONDS), closes the server, the engine and the database. */
  close(): Promise<void>;
}

function printAdminTokenBanner(token: string): void {
  process.stdout.write(
    '\n' +
      '  No ADMIN_TOKEN was set, so one was generated. It is shown only this once; the database keeps a hash.\n' +
      `  Admin token: ${token}\n` +
      '  Use it as "Authorization: Bearer <token>" for /api/v1 and to sign in to the dashboard.\n' +
      '  Lost it? Run `./t2v serve --rotate-admin-token` or set ADMIN_TOKEN.\n\n',
  );
}

export async function startService(config: Config, options: StartOptions = {}): Promise<RunningService> {
  const secrets = configSecrets(config);
  const logger = options.logger ?? createLogger({ level: config.logLevel, secrets });
  const clock = options.clock ?? (() => new Date());
  await mkdir(config.outputsDir, { recursive: true });

  const target = databaseTarget(config.databaseUrl);
  const applied = await migrateDatabase(target);
  logger.info({ database: target.displayUrl, provider: target.provider, applied }, applied.length > 0 ? 'database migrated' : 'database up to date');
  const db = await connectDatabase(target);
  try {

    const settings = new SettingsStore(db.prisma, config.settingDefaults);
    const store = new JobStore(db.prisma);
    const audit = new AuditLog(db.prisma);
    await store.init();

    if (options.rotateAdminToken === true && config.adminToken !== undefined) {
      logger.warn('--rotate-admin-token has no effect while ADMIN_TOKEN is set');
    }
    const admin = await setupAdminAuth(settings, config.adminToken, { rotate: options.rotateAdminToken === true });
    if (admin.generated !== undefined) {
      secrets.push(admin.generated);
      (options.showAdminToken ?? printAdminTokenBanner)(admin.generated);
      logger.warn('generated a new admin token (shown once on stdout; only its hash is stored)');
    }

    const mediaLinks = await setupMediaLinks(settings, config.publicUrl);

    const renderer = options.renderer;
    const speedKey = speedSettingKey(renderer);
    const storedSpeed = Number(await settings.readInternal(speedKey));
    const costModel = new CostModel(storedSpeed > 0 ? storedSpeed : config.engine.secondsPerUnit, (value) => {
      settings.writeInternal(speedKey, String(value)).catch((error: unknown) => logger.warn({ err: error }, 'could not save the render speed'));
    });

    const events = new EventBus((error, event) => logger.error({ err: error, event: event.type }, 'event listener failed'));
    for (const listener of options.listeners ?? []) events.subscribe(listener);
    const worker = new Worker({
      store,
      renderer,
      events,
      costModel,
      logger: logger.child({ component: 'worker' }),
      outputsDir: config.outputsDir,
      slots: config.engine.slots,
      halfLifeMinutes: config.fairShare.halfLifeMinutes,
      roleWeights: config.fairShare.roleWeights,
      ...(options.enginePollMs === undefined ? {} : { enginePollMs: options.enginePollMs }),
      clock,
    });

    const now = clock();
    const recovered = await store.recoverInterrupted(MAX_RENDER_ATTEMPTS, now, (jobId) => loadRenderResult(config.outputsDir, jobId));
    const historySince = new Date(now.getTime() - HISTORY_HALF_LIVES * config.fairShare.halfLifeMinutes * 60_000);
    const queued = await store.listQueued();
    const service = new VideoService({ config, store, worker, settings, audit, costModel, events, mediaLinks, logger, clock });
    // Subscribed before the queue is restored: threads of jobs that resume or finish at once still get their updates.
    const chat = createChatAdapters(config, service, logger, options.chat);
    worker.start(await store.usageHistory(historySince), queued);
    for (const job of recovered.succeeded) events.emit({ type: 'succeeded', job });
    for (const job of recovered.requeued) events.emit({ type: 'requeued', job, reason: 'restart' });
    for (const job of recovered.failed) events.emit({ type: 'failed', job, error: job.error ?? { code: 'unknown', message: '' } });
    logger.info(
      {
        queued: queued.length,
        recordedAfterCrash: recovered.succeeded.map((j) => j.id),
        requeuedAfterCrash: recovered.requeued.map((j) => j.id),
        failedAfterCrash: recovered.failed.map((j) => j.id),
      },
      'queue restored',
    );

    const metrics = createMetrics(service);
    const app = await buildServer({
      logger,
      service,
      metrics,
      plugins: [
        { plugin: httpApi, options: { service, auth: admin.auth, publicUrl: config.publicUrl }, prefix: '/api/v1' },
        { plugin: mediaLinkRoutes, options: { service } },
        { plugin: adminDashboard, options: { service, auth: admin.auth, db, config, clock }, prefix: '/admin' },
        ...chat.plugins,
        ...(options.plugins ?? []),
      ],
    });

    const sweep = () =>
      Promise.all([
        settings
          .get()
          .then((s) => sweepOutputs(store, config.outputsDir, s.outputRetentionDays, clock(), logger))
          .catch((error: unknown) => logger.error({ err: error }, 'output retention sweep failed')),
        service.forgetExpiredDeliveries().catch((error: unknown) => logger.error({ err: error }, 'could not delete expired delivery records')),
      ]);
    void sweep();
    const sweepTimer = setInterval(sweep, RETENTION_SWEEP_MS).unref();

    let url = '';
    if (options.listen !== false) {
      url = await app.listen({ host: config.host, port: config.port });
      logger.info({ url, publicUrl: config.publicUrl }, 'listening');
    }
    await chat.start();

    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        clearInterval(sweepTimer);
        logger.info({ drainTimeoutSeconds: config.drainTimeoutSeconds }, 'shutting down: draining running jobs');
        await worker.drain(config.drainTimeoutSeconds * 1000);
        await chat.stop();
        metrics.close();
        await app.close();
        await renderer?.close().catch((error: unknown) => logger.error({ err: error }, 'engine close failed'));
        await db.close();
        logger.info('stopped');
      })());

    return { config, app, service, auth: admin.auth, db, logger, url, close };
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
}

/**
 * Loads the engine through src/engine's `createEngine(config, logger)`. The import is dynamic so that processes that
 * bring their own renderer (tests) never load ONNX Runtime. A failure to load or start is logged and the service
 * runs with the engine unavailable (jobs stay queued) instead of exiting.
 */
export async function loadEngine(config: Config, logger: Logger): Promise<Renderer | undefined> {
  try {
    const { createEngine } = await import('./engine/index.js');
    return createEngine(config, logger.child({ component: 'engine' }));
  } catch (error) {
    logger.error({ err: error }, 'the engine could not be loaded; jobs stay queued');
    return undefined;
  }
}

/** The learned render speed is kept per model and device: switching either starts from its own measurements. */
function speedSettingKey(renderer: Renderer | undefined): string {
  if (renderer === undefined) return 'secondsPerUnit';
  try {
    const status = renderer.status();
    return `secondsPerUnit:${status.model}@${status.device}`;
  } catch {
    return 'secondsPerUnit';
  }
}
