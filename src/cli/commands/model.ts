// `t2v model pull|list|verify`: download a diffusers text-to-video model from the Hugging Face hub (resumable,
// verified, never half-written: src/engine/hub), list the model folders under DATA_DIR/models, and check a
// folder: files against the pull's manifest (sizes, sha256), then every weight tensor's name, shape and dtype
// against the component configs, and with --run/--cases the built graphs on smoke inputs and reference cases
// (src/engine/verify_model.ts). Exit codes: src/cli/exit-codes.ts.
import { stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { type Config, ConfigError, loadConfig, withDotEnv } from '../../config.js';
import { DEMO_MODEL_NOTICE, demoModelDir } from '../../engine/demo/demo_model.js';
import { HubError, type HubErrorCode } from '../../engine/hub/hub_errors.js';
import { listModels, verifyModelFolder } from '../../engine/hub/manifest.js';
import { DEFAULT_REPO_ID, formatBytes, pullModel } from '../../engine/hub/pull_model.js';
import { engineSessionOptions, graphCacheDir, isModelProblem } from '../../engine/engine.js';
import type { FloatType } from '../../engine/nn/module.js';
import { checkModelWeights, type NetworkRun, runModelNetworks, SMOKE_INPUTS } from '../../engine/verify_model.js';
import { EXIT_CODES, isAbortError, usageErrorsExitWith2 } from '../exit-codes.js';
import { PhaseBar, showLoadProgress } from '../progress.js';

/** Hub failures that are about the model (exit 3); the others are the network or this machine (4). */
const MODEL_HUB_ERRORS: readonly HubErrorCode[] = ['unauthorized', 'gated', 'not_found', 'unsupported_repo'];

function modelsDir(config: Config): string {
  return join(config.dataDir, 'models');
}

function readConfig(): Config {
  return loadConfig(withDotEnv(process.env));
}

/** Runs a subcommand body, printing its error and exiting with the matching code. */
async function run(name: string, body: (signal: AbortSignal) => Promise<number>): Promise<never> {
  const controller = new AbortController();
  const onSigint = (): void => {
    if (controller.signal.aborted) process.exit(EXIT_CODES.interrupted);
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    process.exit(await body(controller.signal));
  } catch (error) {
    if (isAbortError(error) || controller.signal.aborted) {
      process.stderr.write(`\nt2v model ${name}: interrupted${name === 'pull' ? '; run the same command again to resume' : ''}.\n`);
      process.exit(EXIT_CODES.interrupted);
    }
    process.stderr.write(`t2v model ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    if (error instanceof ConfigError) process.exit(EXIT_CODES.usage);
    if (error instanceof HubError) process.exit(MODEL_HUB_ERRORS.includes(error.code) ? EXIT_CODES.model : EXIT_CODES.runtime);
    process.exit(EXIT_CODES.runtime);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export function registerModel(program: Command): void {
  const model = program.command('model').description('download, list and check text-to-video models').exitOverride(usageErrorsExitWith2);

  model
    .command('pull')
    .description(`download a diffusers text-to-video model from the Hugging Face hub (HF_ENDPOINT, HF_TOKEN); resumes an interrupted pull`)
    .argument('[repo-id]', 'hub repository', DEFAULT_REPO_ID)
    .addOption(new Option('--variant <variant>', 'weights: fp16 (half the download; converted to fp32 for the CPU at load) or fp32').choices(['fp16', 'fp32']).default('fp16'))
    .option('--revision <rev>', 'branch, tag or commit', 'main')
    .option('--dest <dir>', 'model folder to create or update (default: DATA_DIR/models/<repository name>)')
    .exitOverride(usageErrorsExitWith2)
    .action((repoId: string, options: { variant: 'fp16' | 'fp32'; revision: string; dest?: string }) =>
      run('pull', async (signal) => {
        const config = readConfig();
        const dest = resolve(options.dest ?? join(modelsDir(config), basename(repoId)));
        const bar = new PhaseBar(' {phase} |{bar}| {percentage}% {detail}');
        const result = await pullModel({
          repoId,
          revision: options.revision,
          variant: options.variant === 'fp16' ? 'fp16' : null,
          dest,
          endpoint: config.hub.endpoint,
          token: config.hub.token,
          signal,
          onProgress: (p) => {
            if (p.phase === 'listing') bar.show('listing', 0, 1, `${repoId}@${options.revision}`);
            else bar.show('download', p.bytesDone, p.bytesTotal, `${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}, file ${Math.min(p.filesDone + 1, p.filesTotal)}/${p.filesTotal} ${p.file ?? ''} ${p.bytesPerSecond > 0 ? `${formatBytes(p.bytesPerSecond)}/s` : ''}`);
          },
        }).finally(() => bar.stop());
        process.stdout.write(
          `${result.upToDate ? 'Already up to date' : `Downloaded ${formatBytes(result.downloadedBytes)}`}: ${result.repoId} @ ${result.commit.slice(0, 12)} (${result.variant ?? 'fp32'}, ${result.files} files, ${formatBytes(result.bytes)}) in ${result.dest}\n` +
            `Use it with MODEL_DIR=${result.dest} (service) or --model ${result.dest} (t2v generate).\n`,
        );
        return EXIT_CODES.ok;
      }),
    );

  model
    .command('list')
    .description('list the model folders under DATA_DIR/models (or --dir)')
    .option('--dir <dir>', 'folder to list (default: DATA_DIR/models)')
    .option('--json', 'one JSON line per model')
    .exitOverride(usageErrorsExitWith2)
    .action((options: { dir?: string; json?: boolean }) =>
      run('list', async () => {
        const config = readConfig();
        const dir = resolve(options.dir ?? modelsDir(config));
        const current = config.engine.modelDir === '' ? null : resolve(config.engine.modelDir);
        const models = await listModels(dir);
        for (const m of models) {
          const demo = m.path === resolve(demoModelDir(config.dataDir));
          const entry = {
            name: m.name,
            path: m.path,
            repoId: m.manifest?.repoId ?? null,
            commit: m.manifest?.commit ?? null,
            variant: m.manifest === null ? null : (m.manifest.variant ?? 'fp32'),
            bytes: m.bytes,
            demo,
            current: demo ? current === null : m.path === current,
          };
          if (options.json) {
            process.stdout.write(`${JSON.stringify(entry)}\n`);
            continue;
          }
          const origin = demo
            ? 'built-in demo model (random weights: abstract noise)'
            : m.manifest
              ? `${m.manifest.repoId} @ ${m.manifest.commit.slice(0, 12)}, ${entry.variant}, ${formatBytes(m.bytes ?? 0)}`
              : 'no manifest (copied by hand; `./t2v model verify` checks it)';
          process.stdout.write(`${entry.current ? '*' : ' '} ${m.name.padEnd(28)} ${origin}\n    ${m.path}\n`);
        }
        if (!options.json) {
          if (models.length === 0) process.stdout.write(`No models in ${dir}. \`./t2v model pull\` downloads ${DEFAULT_REPO_ID}.\n`);
          process.stdout.write(current === null ? `MODEL_DIR is not set: the service uses the ${DEMO_MODEL_NOTICE}\n` : `MODEL_DIR=${current}\n`);
        }
        return EXIT_CODES.ok;
      }),
    );

  model
    .command('verify')
    .description('check a model folder: files against its manifest (size, sha256), every weight tensor against the configs; with --run or --cases, the graphs too')
    .argument('[dir]', 'model folder (default: MODEL_DIR)')
    .option('--no-hashes', 'check file sizes only, not sha256 (fast)')
    .option('--run', 'also build the ONNX graphs (cached in DATA_DIR/cache/graphs) and run each network once on smoke inputs: output shape, finite values')
    .option('--cases <dir>', 'also run the reference cases in DIR (the goldens format, docs/engine.md) and compare the outputs (implies --run)')
    .addOption(new Option('--dtype <dtype>', 'graphs for --run and --cases, run on the CPU').choices(['float32', 'float16']).default('float32'))
    .exitOverride(usageErrorsExitWith2)
    .action((dirArg: string | undefined, options: { hashes: boolean; run?: boolean; cases?: string; dtype: FloatType }) =>
      run('verify', async (signal) => {
        const config = readConfig();
        if (dirArg === undefined && config.engine.modelDir === '') {
          process.stderr.write('t2v model verify: no folder given and MODEL_DIR is not set: name the model folder to check.\n');
          return EXIT_CODES.usage;
        }
        const casesDir = options.cases === undefined ? undefined : resolve(options.cases);
        if (casesDir !== undefined && !(await isDirectory(casesDir))) {
          process.stderr.write(`t2v model verify: --cases ${casesDir} is not a folder.\n`);
          return EXIT_CODES.usage;
        }
        const dir = resolve(dirArg ?? config.engine.modelDir);
        const bar = new PhaseBar(' {phase} |{bar}| {percentage}% {detail}');
        const files = await verifyModelFolder(dir, {
          hashes: options.hashes,
          signal,
          onProgress: (p) => bar.show('hashing', p.bytesDone, p.bytesTotal, p.file),
        }).finally(() => bar.stop());
        const out: string[] = [`Model folder ${dir}`];
        if (files.manifest) out.push(`  pulled from ${files.manifest.repoId} @ ${files.manifest.commit.slice(0, 12)} (${files.manifest.variant ?? 'fp32'})`);
        if (files.problems.length === 0) {
          out.push(files.manifest ? `  files: ${files.manifest.files.length} present, sizes ${files.hashesChecked ? 'and sha256 ' : ''}match the manifest` : '  files: no manifest (not made by `t2v model pull`): structure checked only');
        }
        for (const p of files.problems) out.push(`  PROBLEM ${p.path}: ${p.detail}`);
        const weights = files.problems.some((p) => p.path === 'model_index.json') ? [] : await checkModelWeights(dir);
        for (const w of weights) {
          const what = `${w.component}/${w.files.join(', ') || '(no weights)'}`;
          out.push(w.ok ? `  ${what}: ${w.tensors} tensors, ${w.parameters.toLocaleString('en-US')} parameters match config.json` : `  PROBLEM ${what}: ${w.problem}`);
        }
        let ok = files.ok && weights.length > 0 && weights.every((w) => w.ok);
        if (options.run || casesDir !== undefined) {
          if (ok) ok = await runNetworks(dir, config, options.dtype, casesDir, bar, out);
          else out.push('  run: skipped, the files and weights must check first');
        }
        out.push(ok ? 'OK' : 'NOT OK: re-run `./t2v model pull` for a pulled model, or fix the files named above');
        process.stdout.write(`${out.join('\n')}\n`);
        return ok ? EXIT_CODES.ok : EXIT_CODES.model;
      }),
    );
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/**
 * `verify --run/--cases`: the graphs built or taken from the engine's cache, each network run on smoke inputs and
 * the reference cases, a line each in `out`. False when a run misses or a model file is wrong; ONNX Runtime
 * failures propagate (exit 4).
 */
async function runNetworks(dir: string, config: Config, dtype: FloatType, casesDir: string | undefined, bar: PhaseBar, out: string[]): Promise<boolean> {
  const seconds = (s: number | undefined): string => `${(s ?? 0).toFixed(2)} s`;
  let runs: NetworkRun[];
  try {
    runs = await runModelNetworks(dir, {
      dtype,
      cacheDir: graphCacheDir(config.dataDir),
      sessionOptions: engineSessionOptions(config.engine.threads),
      casesDir,
      onProgress: (p) => showLoadProgress(bar, p),
      onRun: (r) => bar.show('checked', 1, 1, `${r.network} on ${r.input}: ${r.ok ? 'ok' : 'PROBLEM'}`, `checked ${r.network} ${r.input}`),
    }).finally(() => bar.stop());
  } catch (error) {
    if (!isModelProblem(error)) throw error;
    out.push(`  PROBLEM graphs: ${error.message}`);
    return false;
  }
  for (const r of runs) {
    const what = `${r.network} (${dtype}) on ${r.input === SMOKE_INPUTS ? r.input : `case ${r.input}`}`;
    if (!r.ok) out.push(`  PROBLEM ${what}: ${r.problem}`);
    else if (r.maxAbsError === undefined) out.push(`  ${what}: [${r.dims!.join(', ')}] in ${seconds(r.seconds)}, finite values`);
    else out.push(`  ${what}: max abs error ${r.maxAbsError.toExponential(2)} within ${r.tolerance!.toExponential(2)} (reference abs max ${r.absMax!.toFixed(3)}), ${seconds(r.seconds)}`);
  }
  const cases = runs.filter((r) => r.input !== SMOKE_INPUTS);
  if (casesDir !== undefined && cases.length === 0) {
    out.push(`  PROBLEM --cases ${casesDir}: no reference cases (text_encoder/, unet/ or vae/ with case_*.safetensors files or a cases.json)`);
    return false;
  }
  return runs.every((r) => r.ok);
}
