-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "Platform" AS ENUM ('discord', 'slack', 'api');

-- CreateEnum
CREATE TYPE "Role" AS ENUM ('user', 'trusted', 'admin');

-- CreateEnum
CREATE TYPE "JobStatus" AS ENUM ('queued', 'running', 'succeeded', 'failed', 'cancelled');

-- CreateEnum
CREATE TYPE "QuotaScope" AS ENUM ('workspace', 'user');

-- CreateEnum
CREATE TYPE "LedgerKind" AS ENUM ('reserve', 'settle', 'refund');

-- CreateTable
CREATE TABLE "User" (
    "id" TEXT NOT NULL,
    "platform" "Platform" NOT NULL,
    "platformUserId" TEXT NOT NULL,
    "workspaceId" TEXT,
    "displayName" TEXT,
    "role" "Role" NOT NULL DEFAULT 'user',
    "banned" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "QuotaPolicy" (
    "id" TEXT NOT NULL,
    "scope" "QuotaScope" NOT NULL,
    "subject" TEXT NOT NULL,
    "videosPerDay" INTEGER,
    "gpuSecondsPerDay" INTEGER,
    "maxQueued" INTEGER,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "QuotaPolicy_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Job" (
    "id" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "userId" TEXT NOT NULL,
    "workspaceId" TEXT,
    "prompt" TEXT NOT NULL,
    "negativePrompt" TEXT NOT NULL DEFAULT '',
    "frames" INTEGER NOT NULL,
    "width" INTEGER NOT NULL,
    "height" INTEGER NOT NULL,
    "steps" INTEGER NOT NULL,
    "guidance" DOUBLE PRECISION NOT NULL,
    "seed" BIGINT NOT NULL,
    "fps" INTEGER NOT NULL,
    "status" "JobStatus" NOT NULL DEFAULT 'queued',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "estimatedSeconds" DOUBLE PRECISION NOT NULL,
    "progressStep" INTEGER NOT NULL DEFAULT 0,
    "progressTotal" INTEGER NOT NULL DEFAULT 0,
    "etaMs" INTEGER,
    "errorCode" TEXT,
    "errorMessage" TEXT,
    "outputPath" TEXT,
    "outputType" TEXT,
    "outputBytes" INTEGER,
    "posterPath" TEXT,
    "gpuSeconds" DOUBLE PRECISION,
    "replyPlatform" "Platform" NOT NULL,
    "replyChannelId" TEXT NOT NULL,
    "replyThreadId" TEXT,
    "replyMessageId" TEXT,
    "replyExtra" TEXT NOT NULL DEFAULT '{}',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Job_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "UsageEntry" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "jobId" TEXT NOT NULL,
    "day" TEXT NOT NULL,
    "kind" "LedgerKind" NOT NULL,
    "videos" INTEGER NOT NULL,
    "gpuSeconds" DOUBLE PRECISION NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "UsageEntry_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "SubmitLock" (
    "id" INTEGER NOT NULL,
    "touchedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "SubmitLock_pkey" PRIMARY KEY ("id")
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

-- AddForeignKey
ALTER TABLE "Job" ADD CONSTRAINT "Job_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "UsageEntry" ADD CONSTRAINT "UsageEntry_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
