// The engine's entry point for the composition root (src/main.ts `loadEngine`) and the CLI.
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { Engine, type EngineOptions } from './engine.js';

/**
 * The process's engine for the service settings: returns at once and loads in the background (the service
 * starts immediately; EngineStatus reports loading, ready or why it failed).
 */
export function createEngine(config: Config, logger: Logger, extra: Pick<EngineOptions, 'onLoadProgress'> = {}): Engine {
  return Engine.start({
    modelDir: config.engine.modelDir,
    dataDir: config.dataDir,
    device: config.engine.device,
    deviceId: config.engine.deviceId,
    threads: config.engine.threads,
    ffmpegPath: config.engine.ffmpegPath,
    logger,
    ...extra,
  });
}
