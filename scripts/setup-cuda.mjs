#!/usr/bin/env node
// `npm run setup:cuda`: installs ONNX Runtime's CUDA execution provider for onnxruntime-node on a GPU host, by
// running the package's own installer (node_modules/onnxruntime-node/script/install.js) for the `cuda12`
// manifest: libonnxruntime_providers_{cuda,shared,tensorrt}.so from the NuGet package
// Microsoft.ML.OnnxRuntime.Gpu.Linux of the same version, placed beside the binding.
//
// `npm install` never runs that installer: package.json's allowScripts denies onnxruntime-node's postinstall, which
// would download the provider from NuGet on every Linux x64 machine and fails offline (the CPU binaries ship inside
// the npm package). A trap of the installer (onnxruntime-node 1.30, script/install.js and install-utils.js), checked
// here: parseInstallFlag() validates the value `cuda12` but does not return it, so the installer falls back to its
// default mode, which exits at once (status 0, nothing installed) when it believes it runs inside a local
// `npm install` of its own package: npm_config_local_prefix beside npm_package_json, which `npm run` sets.
// So the installer runs with those two npm variables removed and ONNXRUNTIME_NODE_INSTALL=cuda12; its default
// mode then installs the `linux/x64` requirement, which is the cuda12 manifest.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const LIBRARIES = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'];

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(`setup:cuda: onnxruntime-node provides its CUDA execution provider for Linux x64 only (this is ${process.platform}/${process.arch}).`);
  process.exit(1);
}
const packageDir = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
const installer = join(packageDir, 'script', 'install.js');
const binDir = join(packageDir, 'bin', 'napi-v6', 'linux', 'x64');
console.log(`Running ${installer} --onnxruntime-node-install=cuda12 (downloads from NuGet, about 300 MB)...`);
const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'cuda12' };
for (const name of ['npm_config_local_prefix', 'npm_package_json']) delete env[name];
const result = spawnSync(process.execPath, [installer, '--onnxruntime-node-install=cuda12'], { stdio: 'inherit', env });
const missing = LIBRARIES.filter((name) => !existsSync(join(binDir, name)));
if (result.status !== 0 || missing.length > 0) {
  console.error(
    `setup:cuda failed${result.status !== 0 ? ` (installer exit code ${result.status ?? result.signal})` : ''}` +
      (missing.length > 0 ? `; still missing in ${binDir}: ${missing.join(', ')}` : '') +
      '. It needs https://api.nuget.org to be reachable (behind a proxy, set GLOBAL_AGENT_HTTPS_PROXY).',
  );
  process.exit(1);
}
console.log(
  `CUDA execution provider installed in ${binDir}.\n` +
    'The GPU host also needs an NVIDIA driver, CUDA 12 and cuDNN 9 libraries on the loader path. ' +
    'Start with ENGINE_DEVICE=cuda to fail loudly if anything is missing, or auto to fall back to the CPU.',
);
