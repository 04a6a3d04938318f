-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_JobFile" (
    "jobId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "fileName" TEXT NOT NULL,
    "contentType" TEXT NOT NULL,
    "bytes" BLOB,
    "objectKey" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,

    PRIMARY KEY ("jobId", "kind")
);
INSERT INTO "new_JobFile" ("bytes", "contentType", "createdAt", "fileName", "jobId", "kind") SELECT "bytes", "contentType", "createdAt", "fileName", "jobId", "kind" FROM "JobFile";
DROP TABLE "JobFile";
ALTER TABLE "new_JobFile" RENAME TO "JobFile";
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
