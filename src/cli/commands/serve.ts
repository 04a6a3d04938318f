// `t2v serve`: runs the service (HTTP API, chat adapters, dashboard, queue and, unless --no-engine, an engine) until
// SIGTERM/SIGINT, then drains gracefully. `t2v worker`: only an engine that takes jobs from a Postgres-shared queue.
import type { Command } from 'commander';
import { configSecrets, loadConfig, withDotEnv, type Config } from '../../config.js';
import { parseDatabaseUrl } from '../../db/database-url.js';
import { checkDatabaseInstall } from '../../db/install-check.js';
import { createLogger, type Logger } from '../../log.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('start the service: HTTP API on HOST:PORT, chat adapters, dashboard, fair-share queue and an engine (settings from the environment and .env)')
    .option('--rotate-admin-token', 'replace the stored admin token with a new one and show it once')
    .option('--no-engine', 'render nothing here (ENGINE_SLOTS=0): a front for `t2v worker` processes on one Postgres')
    .action(async (options: { rotateAdminToken?: boolean; engine: boolean }) => {
      const { config, logger } = await prepare(options.engine ? {} : { ENGINE_SLOTS: '0' });
      const { loadEngine, startService } = await import('../../main.js');
      const renderer = config.engine.slots === 0 ? undefined : await loadEngine(config, logger);
      const running = await startService(config, { ...(renderer === undefined ? {} : { renderer }), logger, rotateAdminToken: options.rotateAdminToken === true });
      stopOnSignals(logger, running.close);
    });

  program
    .command('worker')
    .description('render jobs from the queue of a service on the same Postgres database (DATABASE_URL), on this host\'s engine; no HTTP, no chat')
    .action(async () => {
      const { config, logger } = await prepare({});
      const { checkWorkerConfig, loadEngine, startWorker } = await import('../../main.js');
      checkWorkerConfig(config);
      const running = await startWorker(config, { renderer: await loadEngine(config, logger), logger });
      logger.info({ worker: config.workers.name, slots: config.engine.slots }, 'worker started; taking jobs from the shared queue');
      stopOnSignals(logger, running.close);
      void running.refused.then((reason) => {
        process.stderr.write(`t2v worker: ${reason}\n`);
        running.close().finally(() => process.exit(1));
      });
    });
}

/** The configuration (with `overrides` over the environment and .env), checked install, and the logger. */
async function prepare(overrides: Record<string, string>): Promise<{ config: Config; logger: Logger }> {
  const config = loadConfig({ ...withDotEnv(process.env), ...overrides });
  await checkDatabaseInstall(parseDatabaseUrl(config.databaseUrl).provider);
  // The service's modules (loaded by the caller after this) import the database driver and the generated client.
  return { config, logger: createLogger({ level: config.logLevel, secrets: configSecrets(config) }) };
}

function stopOnSignals(logger: Logger, close: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting for running jobs');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'signal received');
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
