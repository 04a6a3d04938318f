// Test renderers for the dashboard's browser tests.
// SteppedRenderer advances one denoising step per `step()` call, so a test can watch a progress bar move in the
// browser one known step at a time (no timing assumptions) and cancel a render that is certainly still running.
// PromptRouter sends prompts carrying STEPPED_MARKER there and every other prompt to the real engine (the demo
// model), whose MP4s the history page must play.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EngineStatus, RenderOptions, RenderOutput, RenderParams, Renderer } from '../../../src/core/ports.js';

export const STEPPED_MARKER = '[stepped]';

export class SteppedRenderer {
  #credits = 0;
  #wake: (() => void) | undefined;
  /** Steps completed by the current render, for assertions. */
  completedSteps = 0;

  /** Lets the running render finish `count` more steps. */
  step(count = 1): void {
    this.#credits += count;
    this.#wake?.();
  }

  async render(params: RenderParams, options: RenderOptions): Promise<RenderOutput> {
    const started = Date.now();
    this.completedSteps = 0;
    for (let step = 1; step <= params.steps; step++) {
      while (this.#credits === 0) {
        options.signal?.throwIfAborted();
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          options.signal?.addEventListener('abort', () => resolve(), { once: true });
        });
        this.#wake = undefined;
      }
      options.signal?.throwIfAborted();
      this.#credits -= 1;
      this.completedSteps = step;
      options.onProgress?.({ step, totalSteps: params.steps, elapsedMs: Date.now() - started, etaMs: (params.steps - step) * 1000 });
    }
    const mediaPath = join(options.outputDir, 'video.mp4');
    const posterPath = join(options.outputDir, 'poster.png');
    await writeFile(mediaPath, 'not a real video');
    await writeFile(posterPath, 'not a real poster');
    return { mediaPath, mediaType: 'video/mp4', bytes: 16, posterPath, gpuSeconds: (Date.now() - started) / 1000 };
  }
}

export class PromptRouter implements Renderer {
  constructor(
    private readonly engine: Renderer,
    readonly stepped: SteppedRenderer,
  ) {}

  status(): EngineStatus {
    return this.engine.status();
  }

  render(params: RenderParams, options: RenderOptions): Promise<RenderOutput> {
    return params.prompt.includes(STEPPED_MARKER) ? this.stepped.render(params, options) : this.engine.render(params, options);
  }

  close(): Promise<void> {
    return this.engine.close();
  }
}
