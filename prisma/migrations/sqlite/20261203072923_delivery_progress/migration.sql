-- AlterTable
ALTER TABLE "Delivery" ADD COLUMN "handledAt" DATETIME;
ALTER TABLE "Delivery" ADD COLUMN "request" TEXT;
ALTER TABLE "Delivery" ADD COLUMN "statusMessageId" TEXT;
