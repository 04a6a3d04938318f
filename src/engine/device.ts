// Which ONNX Runtime execution provider the engine runs on (ENGINE_DEVICE = auto | cuda | cpu). onnxruntime-node
// ships its CPU binaries in the npm package; the CUDA execution provider is a separate download from NuGet that
// this project skips at install time (package.json allowScripts) because offline installs would fail on it. `npm run setup:cuda`
// (scripts/setup-cuda.mjs) fetches it on a GPU host. Whether its libraries are present is a file check; whether
// CUDA 12, cuDNN 9 and a GPU are usable shows only when a session is created, which the engine handles.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { EngineDevice } from '../config.js';

export const SETUP_CUDA_COMMAND = 'npm run setup:cuda';

/** The provider libraries onnxruntime-node's installer puts beside its binding (manifest `linux/x64:cuda12`). */
export const CUDA_PROVIDER_LIBRARIES = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'] as const;

/** Where onnxruntime-node keeps its native binding and provider libraries for this platform. */
export function onnxruntimeBinDir(platform: string = process.platform, arch: string = process.arch): string {
  const packageJson = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
  return join(dirname(packageJson), 'bin', 'napi-v6', platform, arch);
}

/**
 * Why the CUDA execution provider cannot be loaded on this installation, or null when its libraries are there.
 * Injectable into the engine so tests cover both answers on a machine without a GPU.
 */
export type CudaProviderProbe = () => string | null;

export const probeCudaProvider: CudaProviderProbe = () => {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return `onnxruntime-node provides its CUDA execution provider for Linux x64 only (this is ${process.platform}/${process.arch})`;
  }
  const dir = onnxruntimeBinDir();
  const missing = CUDA_PROVIDER_LIBRARIES.filter((name) => !existsSync(join(dir, name)));
  if (missing.length === 0) return null;
  return `the CUDA execution provider of onnxruntime-node is not installed (${missing.join(' and ')} missing in ${dir})`;
};

/** ENGINE_DEVICE=cuda cannot work here; the message says what to run. */
export class EngineDeviceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineDeviceError';
  }
}

export type DevicePlan =
  | { device: 'cpu'; /** Why `auto` did not choose CUDA. */ reason?: string }
  | { device: 'cuda'; /** `auto`: if creating CUDA sessions fails, load on the CPU instead. */ fallbackToCpu: boolean };

/** The device to try first for `setting`, given the probe's answer. Throws EngineDeviceError for an impossible `cuda`. */
export function planDevice(setting: EngineDevice, cudaProblem: string | null): DevicePlan {
  switch (setting) {
    case 'cpu':
      return { device: 'cpu' };
    case 'cuda':
      if (cudaProblem !== null) {
        throw new EngineDeviceError(
          `ENGINE_DEVICE=cuda, but ${cudaProblem}. Install it by running \`${SETUP_CUDA_COMMAND}\` in the t2v-bot folder ` +
            '(downloads the provider from NuGet; the GPU host needs an NVIDIA driver, CUDA 12 and cuDNN 9), or set ENGINE_DEVICE=cpu or auto.',
        );
      }
      return { device: 'cuda', fallbackToCpu: false };
    case 'auto':
      if (cudaProblem !== null) return { device: 'cpu', reason: `ENGINE_DEVICE=auto chose the CPU: ${cudaProblem} (for a GPU, run \`${SETUP_CUDA_COMMAND}\`)` };
      return { device: 'cuda', fallbackToCpu: true };
  }
}

export const EXECUTION_PROVIDER_NAME = { cpu: 'CPUExecutionProvider', cuda: 'CUDAExecutionProvider' } as const;
