// The Worker table: each rendering process writes its row at start and refreshes it with every heartbeat (engine
// state, measured speed, the jobs it renders); fronts read the live rows for the queue's ETAs (the pool's
// capacity), the dashboard, the API and /metrics. A row whose heartbeat is older than the lease timeout belongs to
// a process that stopped or died; its jobs are taken back when their leases expire (JobStore.reclaimExpired).
import type { EngineStatus } from '../core/ports.js';
import type { WorkerStatus } from '../core/queue-snapshot.js';
import type { PrismaClient } from '../db/database.js';

export interface WorkerIdentity {
  id: string;
  name: string;
  host: string;
  pid: number;
  slots: number;
}

export interface WorkerReport {
  engine: EngineStatus;
  /** Hash of the model's configs, when the engine has loaded one. */
  modelFingerprint: string | null;
  secondsPerUnit: number | null;
  runningJobIds: string[];
}

/** Stopped workers stay listed this long (the dashboard shows that a worker went away, then forgets it). */
const STOPPED_ROWS_KEPT_MS = 86_400_000;

export class WorkerRegistry {
  constructor(private readonly prisma: PrismaClient) {}

  async register(identity: WorkerIdentity, report: WorkerReport, at: Date): Promise<void> {
    await this.prisma.worker.create({ data: { ...identity, ...reportFields(report), startedAt: at, heartbeatAt: at } });
    await this.prisma.worker.deleteMany({ where: { heartbeatAt: { lt: new Date(at.getTime() - STOPPED_ROWS_KEPT_MS) } } });
  }

  async heartbeat(id: string, report: WorkerReport, at: Date): Promise<void> {
    await this.prisma.worker.updateMany({ where: { id }, data: { ...reportFields(report), heartbeatAt: at } });
  }

  async stopped(id: string, at: Date): Promise<void> {
    await this.prisma.worker.updateMany({ where: { id }, data: { stoppedAt: at, engineReady: false, runningJobIds: '[]' } });
  }

  /** Workers that have not stopped and whose heartbeat is at or after `heartbeatSince`, oldest start first. */
  async listLive(heartbeatSince: Date): Promise<WorkerStatus[]> {
    const rows = await this.prisma.worker.findMany({
      where: { stoppedAt: null, heartbeatAt: { gte: heartbeatSince } },
      orderBy: { startedAt: 'asc' },
    });
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      host: row.host,
      pid: row.pid,
      slots: row.slots,
      model: row.model,
      demo: row.demo,
      device: row.device,
      executionProvider: row.executionProvider,
      ready: row.engineReady,
      message: row.engineMessage,
      secondsPerUnit: row.secondsPerUnit,
      runningJobIds: parseIds(row.runningJobIds),
      startedAt: row.startedAt,
      heartbeatAt: row.heartbeatAt,
    }));
  }

  /** The model fingerprints of live workers other than `exceptId` (a new worker must match them). */
  async liveFingerprints(heartbeatSince: Date, exceptId: string): Promise<{ name: string; model: string; fingerprint: string }[]> {
    const rows = await this.prisma.worker.findMany({
      where: { stoppedAt: null, heartbeatAt: { gte: heartbeatSince }, id: { not: exceptId }, modelFingerprint: { not: null } },
      select: { name: true, model: true, modelFingerprint: true },
    });
    return rows.map((row) => ({ name: row.name, model: row.model, fingerprint: row.modelFingerprint! }));
  }
}

function reportFields(report: WorkerReport) {
  return {
    model: report.engine.model,
    demo: report.engine.demo,
    modelFingerprint: report.modelFingerprint,
    device: report.engine.device,
    executionProvider: report.engine.executionProvider,
    engineReady: report.engine.ready,
    engineMessage: report.engine.message ?? null,
    secondsPerUnit: report.secondsPerUnit,
    runningJobIds: JSON.stringify(report.runningJobIds),
  };
}

function parseIds(text: string): string[] {
  try {
    const value = JSON.parse(text) as unknown;
    return Array.isArray(value) ? value.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return [];
  }
}
