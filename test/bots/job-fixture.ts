// A finished Job as the core hands it to the adapters, for the pure render tests.
import type { Job } from '../../src/core/jobs.js';

export function jobFixture(overrides: Partial<Job> = {}): Job {
  return {
    id: '3f1c2a9e-0000-4000-8000-000000000001',
    seq: 1,
    user: { id: 'u1', platform: 'discord', platformUserId: '111', displayName: 'alice', role: 'user' },
    workspaceId: 'g1',
    params: { prompt: 'a panda playing guitar on a boat', negativePrompt: '', frames: 16, width: 256, height: 256, steps: 25, guidance: 9, seed: 7, fps: 8 },
    status: 'succeeded',
    attempts: 1,
    promotedAt: null,
    estimatedSeconds: 20,
    progress: { step: 25, totalSteps: 25, etaMs: 0 },
    error: null,
    output: { mediaPath: '/data/outputs/x/video.mp4', mediaType: 'video/mp4', bytes: 123_456, posterPath: null },
    gpuSeconds: 12.34,
    reply: { platform: 'discord', channelId: 'c1', messageId: 'm1', threadId: 'm1' },
    parentJobId: null,
    workerId: null,
    createdAt: new Date('2026-11-22T10:00:00Z'),
    startedAt: new Date('2026-11-22T10:00:05Z'),
    finishedAt: new Date('2026-11-22T10:00:18Z'),
    ...overrides,
  };
}
