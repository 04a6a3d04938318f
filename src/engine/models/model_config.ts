// Parsing of the config.json of a diffusers / transformers model folder: keys verbatim (snake_case), the
// library's defaults for absent keys, and one clear error naming every offending key and its allowed values.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

export class ModelConfigError extends Error {
  constructor(
    readonly source: string,
    message: string,
  ) {
    super(`${source}: ${message}`);
    this.name = 'ModelConfigError';
  }
}

/** Validates `json` against `schema` (which carries the defaults); unknown keys are ignored. */
export function parseModelConfig<S extends z.ZodType>(schema: S, json: unknown, source: string): z.output<S> {
  const result = schema.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ModelConfigError(source, `invalid config: ${issues.join('; ')}`);
  }
  return result.data;
}

/** Reads and parses a config.json. */
export async function readModelConfig<S extends z.ZodType>(schema: S, path: string): Promise<z.output<S>> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new ModelConfigError(path, `cannot read config: ${(e as Error).message}`);
  }
  return parseModelConfig(schema, json, path);
}

export const positiveInt = (): z.ZodNumber => z.number().int().positive();
