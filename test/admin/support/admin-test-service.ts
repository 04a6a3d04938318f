// The service with the test renderer and the dashboard, over app.inject (see test/support/test-service.ts).
import { adminDashboard } from '../../../src/admin/plugin.js';
import { startTestService, type TestService, type TestServiceOptions } from '../../support/test-service.js';

export async function startAdminTestService(options: TestServiceOptions = {}): Promise<TestService> {
  const t = await startTestService(options);
  await t.running.app.register(adminDashboard, { prefix: '/admin', service: t.service, auth: t.running.auth, db: t.running.db, config: t.config });
  return t;
}
