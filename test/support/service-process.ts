// Runs the service in a child process with the test renderer, driven over IPC by test/support/child-service.ts.
// Used where a real process matters: killing it mid-queue (restart recovery), SIGTERM draining, and several
// processes sharing one SQLite file. Configuration comes from the environment like `t2v serve`; the test renderer
// reads TEST_STEP_MS (per denoising step), TEST_ENGINE_READY (0 = keep jobs queued) and TEST_GPU_SECONDS (reported
// render cost; default the wall-clock time).
import { loadConfig } from '../../src/config.js';
import type { ServiceEvent } from '../../src/core/events.js';
import type { SubmitRequest } from '../../src/service/video-service.js';
import { VideoBotError } from '../../src/core/errors.js';
import { createLogger } from '../../src/log.js';
import { startService } from '../../src/main.js';
import { TestRenderer } from './test-renderer.js';

export type ChildCommand =
  | { id: number; cmd: 'submit'; requests: SubmitRequest[] }
  | { id: number; cmd: 'queue' }
  | { id: number; cmd: 'setReady'; ready: boolean };

export type ChildMessage =
  | { ready: true }
  | { id: number; result: unknown }
  | { event: { type: string; jobId?: string; prompt?: string; status?: string } };

const send = (message: ChildMessage) => process.send?.(message);

const renderer = new TestRenderer({
  stepMs: Number(process.env.TEST_STEP_MS ?? '1'),
  ready: process.env.TEST_ENGINE_READY !== '0',
  ...(process.env.TEST_GPU_SECONDS === undefined ? {} : { gpuSeconds: Number(process.env.TEST_GPU_SECONDS) }),
});
const config = loadConfig(process.env);
const logger = createLogger({ level: 'warn', destination: { write: (line: string) => void process.stderr.write(line) } });
const forward = (event: ServiceEvent) => {
  if (event.type === 'engine') send({ event: { type: 'engine' } });
  else send({ event: { type: event.type, jobId: event.job.id, prompt: event.job.params.prompt, status: event.job.status } });
};
const running = await startService(config, { renderer, logger, listen: false, enginePollMs: 20, listeners: [forward] });

process.on('message', (message: ChildCommand) => {
  const handle = async (): Promise<unknown> => {
    switch (message.cmd) {
      case 'submit':
        return Promise.all(
          message.requests.map((request) =>
            running.service.submit(request).then(
              ({ job }) => ({ ok: true, id: job.id }),
              (error: unknown) => ({ ok: false, code: error instanceof VideoBotError ? error.code : String(error) }),
            ),
          ),
        );
      case 'queue': {
        const snapshot = running.service.listQueue();
        return { running: snapshot.running.map((r) => r.job.params.prompt), queued: snapshot.queued.map((q) => q.job.params.prompt) };
      }
      case 'setReady':
        renderer.ready = message.ready;
        return true;
    }
  };
  void handle().then((result) => send({ id: message.id, result }));
});

process.on('SIGTERM', () => {
  void running.close().then(() => process.exit(0));
});

send({ ready: true });
