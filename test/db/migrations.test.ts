// The migration histories must match prisma/schema.prisma, and upgrading an older database must keep its data,
// on both providers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectDatabase, databaseTarget } from '../../src/db/database.js';
import {
  applyMigrations,
  diffSchemas,
  isEmptyMigration,
  LOCK_FILE,
  migrationsDir,
  providerSchema,
  readMigrations,
} from '../../src/db/migrations.js';
import { JobStore } from '../../src/queue/job-store.js';
import { createTestDatabase, PROVIDERS, type TestDatabase } from '../support/test-databases.js';

for (const provider of PROVIDERS) {
  describe(`migrations (${provider})`, () => {
    let database: TestDatabase;
    before(async () => {
      database = await createTestDatabase(provider);
    });
    after(async () => {
      await database.drop();
    });

    it('has at least two migrations, each with its snapshot, and a lock file naming the provider', () => {
      const migrations = readMigrations(provider);
      assert.ok(migrations.length >= 2);
      for (const migration of migrations) {
        assert.match(migration.name, /^\d{14}_[a-z0-9_]+$/);
        assert.ok(migration.snapshot !== undefined, `${migration.name} has no snapshot.prisma`);
        assert.ok(!isEmptyMigration(migration.sql), `${migration.name} is empty`);
      }
      assert.match(readFileSync(join(migrationsDir(provider), LOCK_FILE), 'utf8'), new RegExp(`provider = "${provider}"`));
    });

    it('agrees with prisma/schema.prisma (run `npm run db:migration -- <name>` after changing it)', async () => {
      const schema = providerSchema(provider);
      const latest = readMigrations(provider).at(-1)!;
      const pending = await diffSchemas(databaseTarget(database.url).adapterFactory(), schema.path, latest.snapshot, schema.text);
      assert.ok(isEmptyMigration(pending), `schema.prisma has changes no migration contains:\n${pending}`);
    });

    it('consists of migrations that are exactly the diffs between consecutive snapshots', async () => {
      const schema = providerSchema(provider);
      let previous: string | undefined;
      for (const migration of readMigrations(provider)) {
        const expected = await diffSchemas(databaseTarget(database.url).adapterFactory(), schema.path, previous, migration.snapshot!);
        assert.equal(migration.sql, expected, `${migration.name}/migration.sql does not match its snapshot`);
        previous = migration.snapshot;
      }
    });

    it('upgrades a database made at the first migration and keeps its data', async () => {
      const target = databaseTarget(database.url);
      const [first, ...rest] = readMigrations(provider);
      assert.deepEqual(await applyMigrations(target, { migrations: [first!] }), [first!.name]);

      // Data as the first version wrote it.
      const adapter = await target.adapterFactory().connect();
      await adapter.executeScript(`
        INSERT INTO "User" ("id", "platform", "platformUserId", "workspaceId", "displayName", "role", "banned", "createdAt", "updatedAt")
          VALUES ('u1', 'discord', '1001', 'g1', 'Ada', 'trusted', false, '2026-01-01 10:00:00', '2026-01-01 10:00:00');
        INSERT INTO "Job" ("id", "seq", "userId", "workspaceId", "prompt", "negativePrompt", "frames", "width", "height", "steps",
            "guidance", "seed", "fps", "status", "attempts", "estimatedSeconds", "progressStep", "progressTotal",
            "replyPlatform", "replyChannelId", "replyExtra", "createdAt", "updatedAt")
          VALUES ('j1', 1, 'u1', 'g1', 'a panda on a boat', 'blurry', 16, 256, 256, 25, 9, 4294967295, 8, 'queued', 0, 80, 0, 25,
            'discord', 'c1', '{"token":"x"}', '2026-01-01 10:00:00', '2026-01-01 10:00:00');
        INSERT INTO "UsageEntry" ("id", "userId", "jobId", "day", "kind", "videos", "gpuSeconds", "createdAt")
          VALUES ('l1', 'u1', 'j1', '2026-01-01', 'reserve', 1, 80, '2026-01-01 10:00:00');
      `);
      await adapter.dispose();

      assert.deepEqual(await applyMigrations(target), rest.map((m) => m.name));
      assert.deepEqual(await applyMigrations(target), [], 're-applying must be a no-op');

      const db = await connectDatabase(target);
      try {
        const job = await new JobStore(db.prisma).get('j1');
        assert.ok(job !== null);
        assert.equal(job.params.prompt, 'a panda on a boat');
        assert.equal(job.params.negativePrompt, 'blurry');
        assert.equal(job.params.seed, 4294967295);
        assert.equal(job.user.displayName, 'Ada');
        assert.equal(job.user.role, 'trusted');
        assert.deepEqual(job.reply, { platform: 'discord', channelId: 'c1', extra: { token: 'x' } });
        assert.equal(job.promotedAt, null);
        assert.equal(job.parentJobId, null);
        assert.equal(await db.prisma.usageEntry.count(), 1);
        const applied = await db.prisma.$queryRawUnsafe<{ migration_name: string; finished_at: unknown }[]>(
          'SELECT "migration_name", "finished_at" FROM "_prisma_migrations" ORDER BY "migration_name"',
        );
        assert.deepEqual(applied.map((row) => row.migration_name), readMigrations(provider).map((m) => m.name));
        assert.ok(applied.every((row) => row.finished_at !== null));
      } finally {
        await db.close();
      }
    });
  });
}
