-- CreateTable
CREATE TABLE "User" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "platform" TEXT NOT NULL,
    "platformUserId" TEXT NOT NULL,
    "workspaceId" TEXT,
    "displayName" TEXT,
    "role" TEXT NOT NULL DEFAULT 'user',
    "banned" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "QuotaPolicy" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "scope" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "videosPerDay" INTEGER,
    "gpuSecondsPerDay" INTEGER,
    "maxQueued" INTEGER,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Job" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "seq" INTEGER NOT NULL,
    "userId" TEXT NOT NULL,
    "workspaceId" TEXT,
    "prompt" TEXT NOT NULL,
    "negativePrompt" TEXT NOT NULL DEFAULT '',
    "frames" INTEGER NOT NULL,
    "width" INTEGER NOT NULL,
    "height" INTEGER NOT NULL,
    "steps" INTEGER NOT NULL,
    "guidance" REAL NOT NULL,
    "seed" BIGINT NOT NULL,
    "fps" INTEGER NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'queued',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "estimatedSeconds" REAL NOT NULL,
    "progressStep" INTEGER NOT NULL DEFAULT 0,
    "progressTotal" INTEGER NOT NULL DEFAULT 0,
    "etaMs" INTEGER,
    "errorCode" TEXT,
    "errorMessage" TEXT,
    "outputPath" TEXT,
    "outputType" TEXT,
    "outputBytes" INTEGER,
    "posterPath" TEXT,
    "gpuSeconds" REAL,
    "replyPlatform" TEXT NOT NULL,
    "replyChannelId" TEXT NOT NULL,
    "replyThreadId" TEXT,
    "replyMessageId" TEXT,
    "replyExtra" TEXT NOT NULL DEFAULT '{}',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Job_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "UsageEntry" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "userId" TEXT NOT NULL,
    "jobId" TEXT NOT NULL,
    "day" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "videos" INTEGER NOT NULL,
    "gpuSeconds" REAL NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "UsageEntry_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "SubmitLock" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "touchedAt" DATETIME NOT NULL
);

-- CreateIndex
CREATE UNIQUE INDEX "User_platform_platformUserId_key" ON "User"("platform", "platformUserId");

-- CreateIndex
CREATE UNIQUE INDEX "QuotaPolicy_scope_subject_key" ON "QuotaPolicy"("scope", "subject");

-- CreateIndex
CREATE UNIQUE INDEX "Job_seq_key" ON "Job"("seq");

-- CreateIndex
CREATE INDEX "Job_status_seq_idx" ON "Job"("status", "seq");

-- CreateIndex
CREATE INDEX "Job_userId_status_idx" ON "Job"("userId", "status");

-- CreateIndex
CREATE INDEX "Job_startedAt_idx" ON "Job"("startedAt");

-- CreateIndex
CREATE INDEX "UsageEntry_userId_day_idx" ON "UsageEntry"("userId", "day");

-- CreateIndex
CREATE INDEX "UsageEntry_jobId_idx" ON "UsageEntry"("jobId");
