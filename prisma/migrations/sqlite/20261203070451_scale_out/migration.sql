-- AlterTable
ALTER TABLE "Job" ADD COLUMN "cancelRequestedAt" DATETIME;
ALTER TABLE "Job" ADD COLUMN "cancelRequestedBy" TEXT;
ALTER TABLE "Job" ADD COLUMN "leaseExpiresAt" DATETIME;
ALTER TABLE "Job" ADD COLUMN "repliedAt" DATETIME;
ALTER TABLE "Job" ADD COLUMN "workerId" TEXT;

-- CreateTable
CREATE TABLE "Worker" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "host" TEXT NOT NULL,
    "pid" INTEGER NOT NULL,
    "slots" INTEGER NOT NULL,
    "model" TEXT NOT NULL,
    "demo" BOOLEAN NOT NULL DEFAULT false,
    "modelFingerprint" TEXT,
    "device" TEXT NOT NULL,
    "executionProvider" TEXT NOT NULL,
    "engineReady" BOOLEAN NOT NULL,
    "engineMessage" TEXT,
    "secondsPerUnit" REAL,
    "runningJobIds" TEXT NOT NULL DEFAULT '[]',
    "startedAt" DATETIME NOT NULL,
    "heartbeatAt" DATETIME NOT NULL,
    "stoppedAt" DATETIME
);

-- CreateTable
CREATE TABLE "JobFile" (
    "jobId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "fileName" TEXT NOT NULL,
    "contentType" TEXT NOT NULL,
    "bytes" BLOB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,

    PRIMARY KEY ("jobId", "kind")
);

-- CreateIndex
CREATE INDEX "Worker_heartbeatAt_idx" ON "Worker"("heartbeatAt");

-- CreateIndex
CREATE INDEX "Job_status_leaseExpiresAt_idx" ON "Job"("status", "leaseExpiresAt");
