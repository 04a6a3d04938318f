// Configuration for the Prisma CLI (`npx prisma studio`, `npx prisma migrate deploy` on hosts that have the
// schema-engine binary). The service itself never needs the CLI at runtime: it applies migrations through
// @prisma/schema-engine-wasm (src/db/migrations.ts). The provider-specific schema and migration history are
// chosen from DATABASE_URL, as the service does; the default is the same SQLite file.
import { resolve } from 'node:path';
import { defineConfig } from 'prisma/config';

const url = process.env.DATABASE_URL || `file:${resolve(process.env.DATA_DIR || './data', 't2v.db')}`;
const provider = /^postgres(ql)?:/.test(url) ? 'postgresql' : 'sqlite';

export default defineConfig({
  schema: `prisma/generated/${provider}/schema.prisma`,
  migrations: { path: `prisma/migrations/${provider}` },
  datasource: { url },
});
