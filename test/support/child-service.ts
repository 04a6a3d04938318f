// Starts test/support/service-process.ts as a child process and talks to it over IPC.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SubmitRequest } from '../../src/service/video-service.js';
import { Recorder } from '../fakes/recorder.js';
import type { ChildCommand, ChildMessage } from './service-process.js';

const SCRIPT = fileURLToPath(new URL('./service-process.ts', import.meta.url));

export interface ChildEvent {
  type: string;
  jobId?: string;
  prompt?: string;
  status?: string;
}

export interface ChildService {
  child: ChildProcess;
  events: ChildEvent[];
  /** The service's log lines (warn and above, JSON), as written to stderr; tests can wait on them. */
  logs: Recorder<string>;
  submit(requests: SubmitRequest[]): Promise<{ ok: boolean; id?: string; code?: string }[]>;
  queue(): Promise<{ running: string[]; queued: string[] }>;
  setReady(ready: boolean): Promise<void>;
  waitForEvent(match: (e: ChildEvent) => boolean, timeoutMs?: number): Promise<ChildEvent>;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

export async function startChildService(env: Record<string, string>): Promise<ChildService> {
  const child = fork(SCRIPT, [], {
    env: { ...process.env, ...env },
    execArgv: ['--require', fileURLToPath(new URL('../loopback-guard.cjs', import.meta.url)), '--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  let partialLine = '';
  const logs = new Recorder<string>((line) => line, { timeoutMs: 30_000 });
  child.stderr?.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    stderr += text;
    const lines = (partialLine + text).split('\n');
    partialLine = lines.pop()!;
    for (const line of lines) logs.push(line);
  });
  const events = new Recorder<ChildEvent>((e) => `${e.type}(${e.prompt ?? ''})`, { timeoutMs: 30_000, detail: () => `child stderr:\n${stderr}` });
  const pending = new Map<number, (result: unknown) => void>();
  let nextId = 1;
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (message: ChildMessage) => {
      if ('ready' in message) resolve();
      else if ('id' in message) pending.get(message.id)?.(message.result);
      else if ('event' in message) events.push(message.event);
    });
    void exited.then((code) => reject(new Error(`service process exited (${code}) before it was ready:\n${stderr}`)));
  });
  await ready;

  type Command = ChildCommand extends infer C ? (C extends ChildCommand ? Omit<C, 'id'> : never) : never;
  const call = (command: Command) =>
    new Promise<unknown>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      child.send({ ...command, id });
    });

  return {
    child,
    events: events.items,
    logs,
    submit: (requests) => call({ cmd: 'submit', requests }) as Promise<{ ok: boolean; id?: string; code?: string }[]>,
    queue: () => call({ cmd: 'queue' }) as Promise<{ running: string[]; queued: string[] }>,
    setReady: async (value) => void (await call({ cmd: 'setReady', ready: value })),
    waitForEvent: (match, timeoutMs) => events.waitFor(match, timeoutMs),
    exited,
  };
}
