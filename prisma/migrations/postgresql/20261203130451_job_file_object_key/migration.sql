-- AlterTable
ALTER TABLE "JobFile" ADD COLUMN     "objectKey" TEXT,
ALTER COLUMN "bytes" DROP NOT NULL;
