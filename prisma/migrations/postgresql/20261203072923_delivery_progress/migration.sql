-- AlterTable
ALTER TABLE "Delivery" ADD COLUMN     "handledAt" TIMESTAMP(3),
ADD COLUMN     "request" TEXT,
ADD COLUMN     "statusMessageId" TEXT;
