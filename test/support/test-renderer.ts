// A deterministic stand-in for the engine (the real one lives in src/engine): writes a small MP4-named file and a
// PNG poster, reports progress after every step, stops at the next step when aborted, and can be held, failed or
// made unavailable on demand. Every render is recorded.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EngineStatus, RenderOptions, RenderOutput, RenderParams, Renderer } from '../../src/core/ports.js';

export interface TestRendererOptions {
  /** Milliseconds per denoising step (default 1). */
  stepMs?: number;
  /** Start as not ready (jobs must stay queued). */
  ready?: boolean;
  /** Fail renders whose prompt contains this text, with this message. */
  failOn?: { promptIncludes: string; message: string };
  /** GPU-seconds reported per render; default the wall-clock time. */
  gpuSeconds?: number;
}

export class TestRenderer implements Renderer {
  readonly renders: RenderParams[] = [];
  ready: boolean;
  #held: Promise<void> | undefined;
  #release: (() => void) | undefined;
  readonly #options: TestRendererOptions;

  constructor(options: TestRendererOptions = {}) {
    this.#options = options;
    this.ready = options.ready ?? true;
  }

  status(): EngineStatus {
    return {
      ready: this.ready,
      model: 'test-renderer',
      demo: true,
      device: 'cpu',
      executionProvider: 'test',
      ...(this.ready ? {} : { message: 'test renderer not ready' }),
    };
  }

  /** Renders stop before their next step until release() (a running job stays running). */
  hold(): void {
    this.#held ??= new Promise((resolve) => (this.#release = resolve));
  }

  release(): void {
    this.#release?.();
    this.#held = undefined;
    this.#release = undefined;
  }

  async render(params: RenderParams, options: RenderOptions): Promise<RenderOutput> {
    this.renders.push(params);
    const started = Date.now();
    for (let step = 1; step <= params.steps; step++) {
      while (this.#held !== undefined) {
        options.signal?.throwIfAborted();
        await Promise.race([this.#held, aborted(options.signal)]);
      }
      options.signal?.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, this.#options.stepMs ?? 1));
      options.signal?.throwIfAborted();
      const elapsedMs = Date.now() - started;
      options.onProgress?.({ step, totalSteps: params.steps, elapsedMs, etaMs: (elapsedMs / step) * (params.steps - step) });
    }
    const failOn = this.#options.failOn;
    if (failOn !== undefined && params.prompt.includes(failOn.promptIncludes)) throw new Error(failOn.message);
    const still = params.frames === 1;
    const mediaPath = join(options.outputDir, still ? 'image.png' : 'video.mp4');
    const posterPath = join(options.outputDir, 'poster.png');
    const content = Buffer.from(`${still ? 'PNG' : 'MP4'} ${JSON.stringify(params)}\n`.repeat(20));
    await writeFile(mediaPath, content);
    await writeFile(posterPath, Buffer.from('PNG poster'));
    return {
      mediaPath,
      mediaType: still ? 'image/png' : 'video/mp4',
      bytes: content.length,
      posterPath,
      gpuSeconds: this.#options.gpuSeconds ?? (Date.now() - started) / 1000,
    };
  }

  async close(): Promise<void> {
    this.release();
  }
}

function aborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal === undefined) return;
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
