// The seams between the platform-agnostic core and what plugs into it. The engine implements `Renderer`;
// the queue calls it. Nothing here imports from bots/, engine/ or queue/.

/** A fully resolved generation request: every value concrete and already validated against the limits. */
export interface RenderParams {
  prompt: string;
  /** '' means no negative prompt (the pipeline then encodes the empty string for classifier-free guidance). */
  negativePrompt: string;
  /** 1 gives a still image (PNG) instead of a video. */
  frames: number;
  width: number;
  height: number;
  steps: number;
  guidance: number;
  /** Unsigned 32-bit seed; the core picks one when the requester did not. */
  seed: number;
  fps: number;
}

export interface RenderProgress {
  /** Denoising steps finished so far (0..totalSteps). */
  step: number;
  totalSteps: number;
  elapsedMs: number;
  /** Estimated milliseconds left for the whole render (denoising and decoding), null before the first step. */
  etaMs: number | null;
}

export interface RenderOptions {
  /** Directory the renderer writes its files into; it exists and belongs to this job alone. */
  outputDir: string;
  onProgress?: (progress: RenderProgress) => void;
  /** Aborting rejects `render` with an `AbortError` (DOMException) at the next denoising step. */
  signal?: AbortSignal;
}

export interface RenderOutput {
  /** The MP4 (frames > 1) or PNG (frames == 1), inside `outputDir`. */
  mediaPath: string;
  mediaType: 'video/mp4' | 'image/png';
  bytes: number;
  /** First frame as PNG, inside `outputDir`. */
  posterPath: string;
  /** Wall-clock seconds the engine was busy with this job. */
  gpuSeconds: number;
}

export interface EngineStatus {
  /** False while loading, or when no model could be loaded; jobs then stay queued. */
  ready: boolean;
  /** Model folder or label shown to admins. */
  model: string;
  /** True for the built-in demo model, which produces abstract noise. */
  demo: boolean;
  device: 'cpu' | 'cuda';
  executionProvider: string;
  /** Hash of the model's configs and tokenizer, once the model folder is found: the workers of one pool must match. */
  fingerprint?: string;
  /** Why the engine is not ready, or a notable fact (for example why `auto` fell back to CPU). */
  message?: string;
}

export interface Renderer {
  status(): EngineStatus;
  render(params: RenderParams, options: RenderOptions): Promise<RenderOutput>;
  /** Releases sessions and threads; called once at shutdown. */
  close(): Promise<void>;
}
