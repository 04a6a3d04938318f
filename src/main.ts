// The composition root: the only place that wires concrete parts together. `startService` is what `t2v serve`
// runs, and what tests run in-process with a test renderer.
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { adminDashboard } from './admin/plugin.js';
import { createChatAdapters, type ChatAdapterOptions } from './bots/chat-adapters.js';
import { httpApi } from './http/api/routes.js';
import { mediaLinkRoutes } from './http/media.js';
import { ConfigError, configSecrets, type Config } from './config.js';
import { setupAdminAuth, type AdminAuth } from './service/admin-auth.js';
import { EventBus, type EventListener } from './core/events.js';
import { setupMediaLinks } from './service/media-links.js';
import type { Renderer } from './core/ports.js';
import { VideoService } from './service/video-service.js';
import { AuditLog } from './db/audit-log.js';
import { parseDatabaseUrl } from './db/database-url.js';
import { connectDatabase, databaseTarget, type Database } from './db/database.js';
import { migrateDatabase } from './db/migrations.js';
import { notificationChannel } from './db/notifications.js';
import { SettingsStore } from './db/settings.js';
import { createMetrics } from './http/metrics.js';
import { buildServer, type HttpPlugin } from './http/server.js';
import { createLogger, type Logger } from './log.js';
import { CostModel } from './queue/cost-model.js';
import { JobStore, type Recovered } from './queue/job-store.js';
import { LocalMedia } from './queue/local-media.js';
import { MediaStore } from './queue/media-store.js';
import { QueueView } from './queue/queue-view.js';
import { loadFinishedRender } from './queue/render-result.js';
import { sweepOutputs } from './queue/retention.js';
import { S3Bucket } from './queue/s3-bucket.js';
import { Worker } from './queue/worker.js';
import { WorkerRegistry } from './queue/worker-registry.js';
import { Cluster } from './service/cluster.js';

/** A render interrupted by a crash is tried this many times in all before it fails. */
export const MAX_RENDER_ATTEMPTS = 2;
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
  const core = await openCore(config, { ...options, logger, clock, servesMedia: true });
  const { db, settings, store, events } = core;
  try {
    const audit = new AuditLog(db.prisma);
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
    const service = new VideoService({
      config,
      store,
      worker: core.worker,
      view: core.view,
      media: core.media,
      mediaStore: core.mediaStore,
      settings,
      audit,
      events,
      mediaLinks,
      logger,
      ...(core.cluster === undefined ? {} : { cluster: core.cluster }),
      clock,
    });
    // Subscribed before the queue is restored: threads of jobs that resume or finish at once still get their updates.
    const chat = createChatAdapters(config, service, logger, options.chat);
    await core.run();

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
          .then((s) => sweepOutputs(store, core.mediaStore, config.outputsDir, s.outputRetentionDays, clock(), logger))
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
        service.beginShutdown();
        logger.info({ drainTimeoutSeconds: config.drainTimeoutSeconds }, 'shutting down: draining running jobs');
        await core.drain();
        await chat.stop();
        metrics.close();
        await app.close();
        await core.close();
        logger.info('stopped');
      })());

    return { config, app, service, auth: admin.auth, db, logger, url, close };
  } catch (error) {
    await core.close().catch(() => undefined);
    throw error;
  }
}

export interface WorkerStartOptions {
  renderer?: Renderer;
  logger?: Logger;
  enginePollMs?: number;
  clock?: () => Date;
}

export interface RunningWorker {
  config: Config;
  worker: Worker;
  logger: Logger;
  /** Resolves with the reason when the worker refuses to work (a model that differs from the pool's). */
  refused: Promise<string>;
  /** Drains running jobs (up to DRAIN_TIMEOUT_SECONDS), then closes the engine and the database. */
  close(): Promise<void>;
}

/**
 * `t2v worker`: only an engine that takes jobs from the shared queue, for a GPU host joining a pool. Its job events
 * reach the fronts through Postgres; it serves no HTTP and runs no chat adapter. Postgres only: workers coordinate
 * through it.
 */
export async function startWorker(config: Config, options: WorkerStartOptions = {}): Promise<RunningWorker> {
  checkWorkerConfig(config);
  const logger = options.logger ?? createLogger({ level: config.logLevel, secrets: configSecrets(config) });
  let refuse!: (reason: string) => void;
  const refused = new Promise<string>((resolve) => (refuse = resolve));
  const core = await openCore(config, { ...options, logger, clock: options.clock ?? (() => new Date()), servesMedia: false, onModelMismatch: refuse });
  try {
    await core.run();
  } catch (error) {
    await core.close().catch(() => undefined);
    throw error;
  }
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      logger.info({ drainTimeoutSeconds: config.drainTimeoutSeconds }, 'shutting down: draining running jobs');
      await core.drain();
      await core.close();
      logger.info('stopped');
    })());
  return { config, worker: core.worker!, logger, refused, close };
}

/** Throws ConfigError when this configuration cannot run `t2v worker` (before the engine is loaded for nothing). */
export function checkWorkerConfig(config: Config): void {
  const problems: string[] = [];
  if (parseDatabaseUrl(config.databaseUrl).provider !== 'postgresql') {
    problems.push(
      'DATABASE_URL is a SQLite file, but `t2v worker` needs Postgres: workers on several hosts coordinate through one Postgres database. With SQLite, run one `t2v serve`, which renders too.',
    );
  }
  if (config.engine.slots === 0) problems.push('ENGINE_SLOTS is 0, but a worker exists to render: set ENGINE_SLOTS to 1 or more.');
  if (problems.length > 0) throw new ConfigError(problems);
}

/** MEDIA_STORE; a bucket is checked first, so that a wrong S3_* setting stops the start with what to fix. */
async function openMediaStore(config: Config, logger: Logger): Promise<MediaStore> {
  if (config.bucket === undefined) return config.workers.mediaStore === 'database' ? MediaStore.database() : MediaStore.files();
  const bucket = new S3Bucket(config.bucket);
  await bucket.check();
  logger.info({ store: bucket.where, prefix: config.bucket.prefix }, 'finished videos are kept in the S3 bucket');
  return MediaStore.bucket(bucket);
}

interface CoreOptions {
  renderer?: Renderer;
  logger: Logger;
  clock: () => Date;
  listeners?: EventListener[];
  enginePollMs?: number;
  /** This process serves the files it renders (HTTP, chat): its local copies are kept. */
  servesMedia: boolean;
  onModelMismatch?: (message: string) => void;
}

/** What every process sharing the database runs: its database, the job store, the event bus, the queue view, its engine's worker and, on Postgres, the relay to the other processes. */
interface Core {
  db: Database;
  settings: SettingsStore;
  store: JobStore;
  events: EventBus;
  view: QueueView;
  media: LocalMedia;
  mediaStore: MediaStore;
  worker: Worker | undefined;
  cluster: Cluster | undefined;
  /** Recovers this host's interrupted jobs, starts the view, the relay, the worker and the lease reaper. */
  run(): Promise<void>;
  /** Stops taking jobs and lets running renders finish (DRAIN_TIMEOUT_SECONDS). */
  drain(): Promise<void>;
  close(): Promise<void>;
}

async function openCore(config: Config, options: CoreOptions): Promise<Core> {
  const { logger, clock, renderer } = options;
  await mkdir(config.outputsDir, { recursive: true });
  const mediaStore = await openMediaStore(config, logger);
  const target = databaseTarget(config.databaseUrl);
  const applied = await migrateDatabase(target);
  logger.info({ database: target.displayUrl, provider: target.provider, applied }, applied.length > 0 ? 'database migrated' : 'database up to date');
  const db = await connectDatabase(target);
  try {
    const settings = new SettingsStore(db.prisma, config.settingDefaults);
    const store = new JobStore(db.prisma);
    await store.init();
    const speedKey = speedSettingKey(renderer);
    const storedSpeed = Number(await settings.readInternal(speedKey));
    const costModel = new CostModel(
      storedSpeed > 0 ? storedSpeed : config.engine.secondsPerUnit,
      (value) => {
        settings.writeInternal(speedKey, String(value)).catch((error: unknown) => logger.warn({ err: error }, 'could not save the render speed'));
      },
      storedSpeed > 0,
    );
    const events = new EventBus((error, event) => logger.error({ err: error, event: event.type }, 'event listener failed'));
    for (const listener of options.listeners ?? []) events.subscribe(listener);
    const registry = new WorkerRegistry(db.prisma);
    const media = new LocalMedia(store, mediaStore, config.outputsDir);
    const leaseMs = config.workers.leaseSeconds * 1000;
    const worker =
      config.engine.slots === 0
        ? undefined
        : new Worker({
            store,
            registry,
            renderer,
            events,
            costModel,
            logger: logger.child({ component: 'worker' }),
            outputsDir: config.outputsDir,
            identity: { id: randomUUID(), name: config.workers.name, host: hostname(), pid: process.pid, slots: config.engine.slots },
            halfLifeMinutes: config.fairShare.halfLifeMinutes,
            roleWeights: config.fairShare.roleWeights,
            leaseMs,
            mediaStore,
            keepLocalFiles: options.servesMedia,
            ...(options.onModelMismatch === undefined ? {} : { onModelMismatch: options.onModelMismatch }),
            ...(options.enginePollMs === undefined ? {} : { enginePollMs: options.enginePollMs }),
            clock,
          });
    const view = new QueueView({
      source: {
        listQueued: () => store.listQueued(),
        listRunning: () => store.listRunning(),
        usageHistory: (since) => store.usageHistory(since),
        listWorkers: (since) => registry.listLive(since),
      },
      events,
      costModel,
      halfLifeMinutes: config.fairShare.halfLifeMinutes,
      roleWeights: config.fairShare.roleWeights,
      workerTimeoutMs: leaseMs,
      logger,
      clock,
    });
    const cluster =
      target.provider === 'postgresql'
        ? new Cluster({
            prisma: db.prisma,
            connectionString: target.location.target,
            channel: notificationChannel(target.location.schema),
            store,
            events,
            view,
            media,
            worker,
            logger: logger.child({ component: 'cluster' }),
          })
        : undefined;

    const emitRecovered = (recovered: Recovered) => {
      for (const job of recovered.succeeded) events.emit({ type: 'succeeded', job });
      for (const job of recovered.requeued) events.emit({ type: 'requeued', job, reason: 'restart' });
      for (const job of recovered.failed) events.emit({ type: 'failed', job, error: job.error ?? { code: 'unknown', message: '' } });
    };
    let reaper: NodeJS.Timeout | undefined;
    return {
      db,
      settings,
      store,
      events,
      view,
      media,
      mediaStore,
      worker,
      cluster,
      async run() {
        const recovered = await store.recoverInterrupted(
          MAX_RENDER_ATTEMPTS,
          clock(),
          (jobId) => loadFinishedRender(config.outputsDir, jobId, mediaStore),
          (holder) => holder === null || (holder.host === hostname() && !workerIsAlive(holder)),
        );
        await cluster?.start();
        await view.start(worker === undefined ? undefined : () => worker.engineStatus);
        if (worker !== undefined) {
          workersHere.add(worker.id);
          await worker.start();
        }
        emitRecovered(recovered);
        logger.info(
          {
            queued: view.counts().queued,
            recordedAfterCrash: recovered.succeeded.map((j) => j.id),
            requeuedAfterCrash: recovered.requeued.map((j) => j.id),
            failedAfterCrash: recovered.failed.map((j) => j.id),
          },
          'queue restored',
        );
        // Jobs of workers that died or hung (on any host) come back when their lease has run out.
        reaper = setInterval(() => {
          store
            .reclaimExpired(MAX_RENDER_ATTEMPTS, clock())
            .then((expired) => {
              if (expired.requeued.length + expired.failed.length === 0) return;
              logger.warn({ requeued: expired.requeued.map((j) => j.id), failed: expired.failed.map((j) => j.id) }, 'took back the jobs of a worker whose lease ran out');
              emitRecovered(expired);
              worker?.wake();
            })
            .catch((error: unknown) => logger.warn({ err: error }, 'could not take back expired leases'));
        }, Math.max(250, leaseMs / 2));
        reaper.unref();
      },
      async drain() {
        clearInterval(reaper);
        await worker?.drain(config.drainTimeoutSeconds * 1000);
      },
      async close() {
        clearInterval(reaper);
        if (worker !== undefined) workersHere.delete(worker.id);
        view.stop();
        await cluster?.close().catch((error: unknown) => logger.warn({ err: error }, 'could not close the notification connection'));
        await renderer?.close().catch((error: unknown) => logger.error({ err: error }, 'engine close failed'));
        await db.close();
      },
    };
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
}

/** Workers running in this process (a process may stop a service and start another, as tests do). */
const workersHere = new Set<string>();

/**
 * Whether a worker of this host still runs: one of this process's, or a process with its pid (signal 0 only checks;
 * EPERM: it runs, as another user). A pid reused by an unrelated process reads as alive: its jobs then wait for
 * their lease to run out instead of being taken back at once.
 */
function workerIsAlive(worker: { id: string; pid: number }): boolean {
  if (worker.pid === process.pid) return workersHere.has(worker.id);
  try {
    process.kill(worker.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
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
