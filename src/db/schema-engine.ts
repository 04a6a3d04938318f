// Drives Prisma's schema engine compiled to WebAssembly (@prisma/schema-engine-wasm), because the native
// schema-engine binary that `prisma migrate` downloads is unavailable offline. The package's main entry imports
// the .wasm as an ES module (needs --experimental-wasm-modules), so we instantiate it by hand, as its own entry does.
// @see docs/platform-notes.md "Prisma 7.10 offline"
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as bindings from '@prisma/schema-engine-wasm/schema_engine_bg';
import type { DiffParams, SchemaEngine, ApplyMigrationsInput } from '@prisma/schema-engine-wasm';
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';

// The project compiles without the DOM lib and @types/node 20 does not declare WebAssembly; this is the part we use.
declare const WebAssembly: {
  instantiate(
    bytes: Uint8Array,
    imports: Record<string, unknown>,
  ): Promise<{ instance: { exports: Record<string, unknown> } }>;
};

let loaded: Promise<typeof bindings> | undefined;

async function loadWasm(): Promise<typeof bindings> {
  const packageDir = dirname(fileURLToPath(import.meta.resolve('@prisma/schema-engine-wasm/schema_engine_bg')));
  const bytes = await readFile(join(packageDir, 'schema_engine_bg.wasm'));
  const { instance } = await WebAssembly.instantiate(bytes, {
    './schema_engine_bg.js': bindings,
  });
  bindings.__wbg_set_wasm(instance.exports as Parameters<typeof bindings.__wbg_set_wasm>[0]);
  (instance.exports.__wbindgen_start as () => void)();
  return bindings;
}

export interface SchemaEngineSession {
  diff(params: DiffParams): Promise<string>;
  applyMigrations(input: ApplyMigrationsInput): Promise<string[]>;
}

/** Thrown with the driver's real error; the wasm engine only reports "External error id#N" itself. */
export class SchemaEngineError extends Error {}

/**
 * Runs `use` with a schema engine bound to `adapterFactory` and the given schema text, then frees the engine.
 * Adapter errors surface from the engine as "External error id#N"; we swap in the real error from the registry.
 */
export async function withSchemaEngine<T>(
  adapterFactory: SqlMigrationAwareDriverAdapterFactory,
  schema: { path: string; text: string },
  use: (engine: SchemaEngineSession) => Promise<T>,
  log: (message: string) => void = () => {},
): Promise<T> {
  loaded ??= loadWasm();
  const wasm = await loaded;
  // The engine never disposes the connections it opens, and on SQLite an open one keeps the file locked, so we
  // track them and dispose them when done.
  const opened: SqlDriverAdapter[] = [];
  const tracked: SqlMigrationAwareDriverAdapterFactory = {
    provider: adapterFactory.provider,
    adapterName: adapterFactory.adapterName,
    connect: async () => {
      const adapter = await adapterFactory.connect();
      opened.push(adapter);
      return adapter;
    },
    connectToShadowDb: async () => {
      const adapter = await adapterFactory.connectToShadowDb();
      opened.push(adapter);
      return adapter;
    },
  };
  const bound = bindMigrationAwareSqlAdapterFactory(tracked);
  const engine: SchemaEngine = await wasm.SchemaEngine.new(
    { datamodels: [[schema.path, schema.text]] },
    (line: string) => log(line),
    bound,
  );
  const explain = (error: unknown): never => {
    const message = error instanceof Error ? error.message : String(error);
    const id = /External error id#(\d+)/.exec(message)?.[1];
    const external = id === undefined ? undefined : bound.errorRegistry.consumeError(Number(id));
    const detail = external === undefined ? message : `${message}: ${JSON.stringify(external.error)}`;
    throw new SchemaEngineError(detail, { cause: error });
  };
  try {
    return await use({
      diff: async (params) => (await engine.diff(params).catch(explain)).stdout ?? '',
      applyMigrations: async (input) => (await engine.applyMigrations(input).catch(explain)).appliedMigrationNames,
    });
  } finally {
    engine.free();
    await Promise.all(opened.map((adapter) => adapter.dispose()));
  }
}
