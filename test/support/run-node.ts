// Runs `node ...args` as a child process, as a user or a script would, and collects what it printed.
import { spawn, type ChildProcess } from 'node:child_process';

export interface NodeRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr together, in the order they arrived. */
  output: string;
}

export interface RunNodeOptions {
  cwd?: string;
  /** The child's whole environment (the parent's when not given). */
  env?: NodeJS.ProcessEnv;
  /** Called with all of stderr so far after each chunk, e.g. to signal the child once it says something. */
  onStderr?: (stderr: string, child: ChildProcess) => void;
}

export function runNode(args: readonly string[], options: RunNodeOptions = {}): Promise<NodeRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: options.cwd, env: options.env });
    const run: NodeRun = { code: null, stdout: '', stderr: '', output: '' };
    child.stdout.on('data', (d: Buffer) => {
      run.stdout += d.toString();
      run.output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      run.stderr += d.toString();
      run.output += d.toString();
      options.onStderr?.(run.stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ ...run, code }));
  });
}
