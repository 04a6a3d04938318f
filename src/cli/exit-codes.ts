// Exit codes of the `t2v` commands, which scripts can rely on (docs/cli.md).
import { CommanderError } from 'commander';

export const EXIT_CODES = {
  ok: 0,
  /** Unexpected internal error. */
  failure: 1,
  /** Wrong command line, option value, input file or configuration (nothing was run). */
  usage: 2,
  /** The model folder is missing, incomplete or does not match its configs; or the hub refused the model. */
  model: 3,
  /** The engine or the machine failed: ONNX Runtime, CUDA, ffmpeg, disk, network. */
  runtime: 4,
  /** Interrupted by SIGINT (Ctrl-C); partial outputs were removed. */
  interrupted: 130,
} as const;

/**
 * commander exits with 1 on usage errors; our commands use 2 for them. Help and version output keep 0.
 * Pass to a subcommand's `.exitOverride()`.
 */
export function usageErrorsExitWith2(error: CommanderError): never {
  if (error.exitCode === 0) throw error;
  throw new CommanderError(EXIT_CODES.usage, error.code, error.message);
}

/** An AbortError (DOMException or Error named so). */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}
