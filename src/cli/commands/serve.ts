// `t2v serve`: runs the service (HTTP API, queue, engine) until SIGTERM/SIGINT, then drains gracefully.
import type { Command } from 'commander';
import { configSecrets, loadConfig, withDotEnv } from '../../config.js';
import { parseDatabaseUrl } from '../../db/database-url.js';
import { checkDatabaseInstall } from '../../db/install-check.js';
import { createLogger } from '../../log.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('start the service: HTTP API on HOST:PORT, fair-share queue, engine (settings from the environment and .env)')
    .option('--rotate-admin-token', 'replace the stored admin token with a new one and show it once')
    .action(async (options: { rotateAdminToken?: boolean }) => {
      const config = loadConfig(withDotEnv(process.env));
      await checkDatabaseInstall(parseDatabaseUrl(config.databaseUrl).provider);
      // Loaded after the check: the service's modules import the database driver and the generated client.
      const { loadEngine, startService } = await import('../../main.js');
      const logger = createLogger({ level: config.logLevel, secrets: configSecrets(config) });
      const renderer = await loadEngine(config, logger);
      const running = await startService(config, { renderer, logger, rotateAdminToken: options.rotateAdminToken === true });

      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) {
          logger.warn({ signal }, 'second signal: exiting without waiting for running jobs');
          process.exit(1);
        }
        stopping = true;
        logger.info({ signal }, 'signal received');
        running.close().then(
          () => process.exit(0),
          (error: unknown) => {
            logger.error({ err: error }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
}
