// The dashboard's HTTP surface without a browser: access control, sessions, CSRF, rate limiting, security headers,
// and a clear 4xx (never a crash or a stack trace) for every kind of bad input.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestService, TEST_ADMIN_TOKEN, type TestService } from '../support/test-service.js';
import { AdminClient } from './support/admin-client.js';
import { LOGIN_RATE_LIMIT, safeNext } from '../../src/admin/auth.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startService } from '../../src/main.js';
import { TestRenderer } from '../support/test-renderer.js';
import { jobEvent } from '../support/events.js';

const PAGES = ['/admin', '/admin/queue', '/admin/users', '/admin/history', '/admin/settings', '/admin/audit'];

function assertNoStack(body: string): void {
  assert.doesNotMatch(body, /\n\s+at .+\(.+:\d+:\d+\)/, 'no stack trace in the response');
  assert.doesNotMatch(body, /node_modules|src\/admin\//, 'no file paths in the response');
}

describe('dashboard over HTTP', () => {
  let t: TestService;
  let renderer: TestRenderer;

  before(async () => {
    renderer = new TestRenderer({ stepMs: 1, failOn: { promptIncludes: 'boom', message: '<b>kaboom</b> at step 2' } });
    t = await startTestService({ renderer });
  });
  after(async () => t?.destroy());

  test('every page and dashboard API route refuses a request without a session', async () => {
    const anonymous = new AdminClient(t.running.app);
    for (const page of PAGES) {
      const response = await anonymous.request('GET', page);
      assert.equal(response.statusCode, 303, page);
      assert.equal(response.headers.location, page === '/admin' ? '/admin/login' : `/admin/login?next=${encodeURIComponent(page)}`);
    }
    for (const path of ['/admin/api/fragments/queue', '/admin/api/fragments/overview', '/admin/api/events', '/admin/jobs/x/video', '/admin/users/discord/x']) {
      const response = await anonymous.request('GET', path, { accept: 'application/json' });
      assert.equal(response.statusCode, 401, path);
      assert.equal(response.json().error.code, 'videobot_unauthorized');
    }
    for (const path of ['/admin/settings', '/admin/queue/x/cancel', '/admin/users/discord/x/ban', '/admin/history/x/delete-video']) {
      const response = await anonymous.request('POST', path, { form: { banned: 'true' } });
      assert.equal(response.statusCode, 401, path);
    }
    const unknown = await anonymous.request('GET', '/admin/no-such-page');
    assert.equal(unknown.statusCode, 303, 'unknown dashboard paths reveal nothing either');
  });

  test('security headers: CSP without inline script or style, no framing, nosniff, no caching of pages', async () => {
    const admin = new AdminClient(t.running.app);
    const login = await admin.request('GET', '/admin/login');
    await admin.signIn();
    const overview = await admin.request('GET', '/admin');
    assert.equal(overview.statusCode, 200);
    for (const response of [login, overview]) {
      const csp = String(response.headers['content-security-policy']);
      assert.match(csp, /(^|;)script-src 'self'(;|$)/);
      assert.match(csp, /(^|;)style-src 'self'(;|$)/);
      assert.match(csp, /(^|;)frame-ancestors 'none'(;|$)/);
      assert.match(csp, /(^|;)object-src 'none'(;|$)/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
      assert.equal(response.headers['x-frame-options'], 'DENY');
      assert.equal(response.headers['referrer-policy'], 'same-origin');
      assert.equal(response.headers['cache-control'], 'no-store');
    }
    assert.doesNotMatch(overview.body, /<script>|\sstyle=|\son[a-z]+=/i, 'no inline script, style or event handler');
    const script = await admin.request('GET', '/admin/assets/admin.js');
    assert.equal(script.statusCode, 200);
    assert.match(String(script.headers['content-type']), /javascript/);
  });

  test('signing in: a wrong token is refused without echoing it; the session cookie is HttpOnly, SameSite=Strict, expiring', async () => {
    const admin = new AdminClient(t.running.app, '10.0.0.1');
    const csrf = await admin.csrfToken('/admin/login');
    const wrong = await admin.request('POST', '/admin/login', { form: { token: 'wrong-token-guess', _csrf: csrf } });
    assert.equal(wrong.statusCode, 401);
    assert.match(wrong.body, /That is not the admin token/);
    assert.doesNotMatch(wrong.body, /wrong-token-guess/);

    const ok = await admin.signIn();
    assert.equal(ok.statusCode, 303);
    assert.equal(ok.headers.location, '/admin');
    const cookie = ok.cookies.find((c) => c.name === 't2v_admin_session') as { httpOnly?: boolean; sameSite?: string; maxAge?: number; path?: string; value: string };
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.path, '/admin');
    assert.equal(cookie.maxAge, 12 * 3600);
    assert.equal(cookie.value.includes(TEST_ADMIN_TOKEN), false);
    assert.equal((await admin.request('GET', '/admin/queue')).statusCode, 200);
    assert.equal((await admin.request('GET', '/admin/login')).headers.location, '/admin', 'signed in: the form sends you on');

    for (const page of PAGES) {
      const response = await admin.request('GET', page);
      assert.equal(response.body.includes(TEST_ADMIN_TOKEN), false, `${page} never shows the admin token`);
    }
    assert.equal(t.logLines.some((line) => line.includes(TEST_ADMIN_TOKEN) || line.includes('wrong-token-guess')), false, 'tokens never logged');
  });

  test('after signing in, only dashboard pages are followed (no open redirect)', async () => {
    assert.equal(safeNext('/admin/history?user=bob'), '/admin/history?user=bob');
    for (const next of ['//evil.example/admin', 'https://evil.example/admin', '/admin/../api/v1/jobs', '/admin/login', '/admin/api/events', '/adminx', '/\\evil.example', undefined]) {
      assert.equal(safeNext(next), '/admin', String(next));
    }
    const admin = new AdminClient(t.running.app, '10.0.0.2');
    const csrf = await admin.csrfToken('/admin/login');
    const response = await admin.request('POST', '/admin/login', { form: { token: TEST_ADMIN_TOKEN, _csrf: csrf, next: '//evil.example/x' } });
    assert.equal(response.headers.location, '/admin');
  });

  test('sign-in attempts are rate-limited per client address', async () => {
    const attacker = new AdminClient(t.running.app, '10.9.9.9');
    const csrf = await attacker.csrfToken('/admin/login');
    for (let i = 0; i < LOGIN_RATE_LIMIT.max; i++) {
      const response = await attacker.request('POST', '/admin/login', { form: { token: `guess-${i}`, _csrf: csrf } });
      assert.equal(response.statusCode, 401);
    }
    const limited = await attacker.request('POST', '/admin/login', { form: { token: TEST_ADMIN_TOKEN, _csrf: csrf } });
    assert.equal(limited.statusCode, 429);
    assert.match(limited.body, /Too many sign-in attempts/);
    assert.equal(limited.cookies.some((c) => c.name === 't2v_admin_session'), false, 'even the right token waits');
    const other = new AdminClient(t.running.app, '10.9.9.10');
    assert.equal((await other.signIn()).statusCode, 303, 'other addresses are unaffected');
  });

  test('CSRF: tokens are required, bound to the session, and refused from another session', async () => {
    const alice = new AdminClient(t.running.app, '10.0.1.1');
    await alice.signIn();
    const bob = new AdminClient(t.running.app, '10.0.1.2');
    await bob.signIn();
    const missing = await alice.request('POST', '/admin/settings', { form: { queueCap: '5' } });
    assert.equal(missing.statusCode, 403);
    assert.match(missing.body, /CSRF token/);
    const json = await alice.request('POST', '/admin/settings', { json: { queueCap: 5 }, accept: 'application/json' });
    assert.equal(json.statusCode, 403);
    assert.equal(json.json().error.code, 'videobot_forbidden');
    const foreign = await alice.request('POST', '/admin/settings', { form: { queueCap: '5', _csrf: await bob.csrfToken() } });
    assert.equal(foreign.statusCode, 403, "another session's token");
    const preLogin = new AdminClient(t.running.app, '10.0.1.3');
    const signedOutToken = await preLogin.csrfToken('/admin/login');
    await preLogin.signIn();
    const stale = await preLogin.request('POST', '/admin/settings', { form: { queueCap: '5', _csrf: signedOutToken } });
    assert.equal(stale.statusCode, 403, 'the sign-in form token is no good once signed in');
    assert.equal((await t.service.getSettings()).values.queueCap, 100);
    const valid = await alice.post('/admin/settings', { queueCap: '99' });
    assert.equal(valid.statusCode, 303);
    assert.equal((await t.service.getSettings()).values.queueCap, 99);
    assert.equal((await alice.post('/admin/settings', { reset: 'queueCap' })).statusCode, 303);
    assert.equal((await t.service.getSettings()).values.queueCap, 100);
  });

  test('signing out ends the session on the server', async () => {
    const admin = new AdminClient(t.running.app, '10.0.2.1');
    await admin.signIn();
    const session = admin.cookies.get('t2v_admin_session')!;
    const out = await admin.post('/admin/logout');
    assert.equal(out.statusCode, 303);
    assert.equal(out.headers.location, '/admin/login');
    const replay = new AdminClient(t.running.app, '10.0.2.1');
    replay.cookies.set('t2v_admin_session', session);
    assert.equal((await replay.request('GET', '/admin/queue')).statusCode, 303, 'the old cookie no longer works');
  });

  test('bad input gets a 4xx page naming the problem, never a crash or a stack trace', async () => {
    const admin = new AdminClient(t.running.app, '10.0.3.1');
    await admin.signIn();
    const carol = await t.service.submit({ requester: { platform: 'discord', platformUserId: 'carol', displayName: 'Carol' }, options: { prompt: 'a quiet lake' }, reply: { platform: 'discord', channelId: 'c1' } });
    await t.events.waitFor(jobEvent('succeeded', carol.job.id));

    const cases: [string, 'GET' | 'POST', string, Record<string, string | string[]> | undefined, number, RegExp][] = [
      ['page 0', 'GET', '/admin/history?page=0', undefined, 400, /page: must be a page number from 1/],
      ['bad date', 'GET', '/admin/history?from=2026-13-45', undefined, 400, /from: must be a date as YYYY-MM-DD/],
      ['reversed dates', 'GET', '/admin/history?from=2026-02-02&to=2026-01-01', undefined, 400, /to: must not be before from/],
      ['unknown status', 'GET', '/admin/history?status=exploded', undefined, 400, /status: must be one of queued, running, succeeded, failed, cancelled/],
      ['long search', 'GET', `/admin/users?q=${'x'.repeat(200)}`, undefined, 400, /q: at most 128 characters/],
      ['unknown platform', 'GET', '/admin/users/myspace/carol', undefined, 400, /platform: must be one of discord, slack, api/],
      ['unknown user', 'GET', '/admin/users/discord/nobody', undefined, 404, /No user &quot;discord:nobody&quot; exists/],
      ['unknown audit action', 'GET', '/admin/audit?action=drop.tables', undefined, 400, /action: must be one of/],
      ['quota not a number', 'POST', '/admin/users/discord/carol/quota', { videosPerDay: 'lots' }, 400, /videosPerDay: must be a whole number or empty/],
      ['quota negative', 'POST', '/admin/users/discord/carol/quota', { videosPerDay: '-1' }, 400, /videosPerDay: must be a whole number or empty/],
      ['quota too large', 'POST', '/admin/users/discord/carol/quota', { maxQueued: '999999' }, 400, /maxQueued must be a whole number from 1 to 10000/],
      ['unknown role', 'POST', '/admin/users/discord/carol/role', { role: 'emperor' }, 400, /role: must be one of user, trusted, admin/],
      ['missing role', 'POST', '/admin/users/discord/carol/role', {}, 400, /role is required/],
      ['ban not boolean', 'POST', '/admin/users/discord/carol/ban', { banned: 'maybe' }, 400, /banned: must be one of true, false/],
      ['setting out of range', 'POST', '/admin/settings', { queueCap: '0' }, 400, /queueCap must be a whole number from 1 to 1000000/],
      ['setting not a number', 'POST', '/admin/settings', { promptMaxLength: 'long' }, 400, /promptMaxLength: must be a whole number or empty/],
      ['unknown reset', 'POST', '/admin/settings', { reset: 'everything' }, 400, /reset\.0: must name settings/],
      ['cancel unknown job', 'POST', '/admin/queue/00000000-0000-0000-0000-000000000000/cancel', {}, 404, /No job/],
      ['promote unknown job', 'POST', '/admin/queue/nope/promote', {}, 404, /No job/],
      ['delete video of unknown job', 'POST', '/admin/history/nope/delete-video', {}, 404, /No job/],
    ];
    for (const [name, method, url, form, status, message] of cases) {
      const response = method === 'GET' ? await admin.request('GET', url) : await admin.post(url, form);
      assert.equal(response.statusCode, status, `${name}: ${response.body.slice(0, 300)}`);
      assert.match(response.body, message, name);
      assert.match(String(response.headers['content-type']), /text\/html/, name);
      assertNoStack(response.body);
    }
    const media = await admin.request('GET', '/admin/jobs/nope/video', { accept: '*/*' });
    assert.equal(media.statusCode, 404);
    assert.equal(media.json().error.code, 'videobot_not_found');
    const notJson = await admin.request('POST', '/admin/settings', { headers: { 'content-type': 'application/json', 'x-csrf-token': await admin.csrfToken() }, json: undefined, accept: 'application/json' });
    assert.ok(notJson.statusCode >= 400 && notJson.statusCode < 500);
  });

  test("history shows a failed job's error code and message, escaped", async () => {
    const admin = new AdminClient(t.running.app, '10.0.3.3');
    await admin.signIn();
    const { job } = await t.service.submit({ requester: { platform: 'slack', platformUserId: 'erin' }, options: { prompt: 'boom <i>now</i>' }, reply: { platform: 'slack', channelId: 'c' } });
    await t.events.waitFor(jobEvent('failed', job.id));
    const page = await admin.request('GET', '/admin/history?status=failed&user=erin');
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /videobot_engine_failed/);
    assert.match(page.body, /Rendering failed: &lt;b&gt;kaboom&lt;\/b&gt; at step 2/);
    assert.match(page.body, /boom &lt;i&gt;now&lt;\/i&gt;/);
    assert.doesNotMatch(page.body, /<b>kaboom|<i>now/);
  });

  test('a quota form changes the fields it sends: empty inherits, missing stays', async () => {
    const admin = new AdminClient(t.running.app, '10.0.3.2');
    await admin.signIn();
    const ref = { platform: 'discord' as const, platformUserId: 'carol' };
    assert.equal((await admin.post('/admin/users/discord/carol/quota', { videosPerDay: '7', maxQueued: '2' })).statusCode, 303);
    assert.deepEqual((await t.service.quotaStatus(ref)).sources, { videosPerDay: 'user', gpuSecondsPerDay: 'default', maxQueued: 'user' });
    assert.equal((await admin.post('/admin/users/discord/carol/quota', { maxQueued: '' })).statusCode, 303);
    const status = await t.service.quotaStatus(ref);
    assert.deepEqual([status.limits.videosPerDay, status.sources.maxQueued], [7, 'default']);
    const page = await admin.request('GET', '/admin/users/discord/carol');
    assert.match(page.body, /Quota saved; it applies to the next request\./);
    assert.match(page.body, /id="videosPerDay" name="videosPerDay" type="number" inputmode="numeric" min="0" step="1" value="7"/);
  });

  test("a workspace's quota override is edited from one of its users' pages", async () => {
    const admin = new AdminClient(t.running.app, '10.0.3.4');
    await admin.signIn();
    const frank = { platform: 'discord' as const, platformUserId: 'frank', workspaceId: 'guild-9' };
    const { job } = await t.service.submit({ requester: frank, options: { prompt: 'a tiny boat' }, reply: { platform: 'discord', channelId: 'c' } });
    await t.events.waitFor(jobEvent('succeeded', job.id));
    const userPage = '/admin/users/discord/frank';
    assert.match((await admin.request('GET', userPage)).body, /Override for workspace <code>guild-9<\/code>/);
    const saved = await admin.request('POST', '/admin/workspaces/discord/guild-9/quota', {
      form: { videosPerDay: '4', gpuSecondsPerDay: '', _csrf: await admin.csrfToken(userPage) },
      headers: { referer: `http://localhost${userPage}` },
    });
    assert.equal(saved.statusCode, 303);
    assert.equal(saved.headers.location, userPage);
    const status = await t.service.quotaStatus(frank);
    assert.deepEqual([status.limits.videosPerDay, status.sources.videosPerDay, status.sources.gpuSecondsPerDay], [4, 'workspace', 'default']);
    assert.match((await admin.request('GET', userPage)).body, /id="ws-videosPerDay" name="videosPerDay" type="number" inputmode="numeric" min="0" step="1" value="4"/);
    assert.equal((await t.service.listAudit({ action: 'quota.workspace.set' }))[0]?.target, 'discord:guild-9');
    const bad = await admin.post('/admin/workspaces/discord/guild-9/quota', { maxQueued: '0' }, userPage);
    assert.equal(bad.statusCode, 400);
    assert.match(bad.body, /maxQueued must be a whole number from 1 to 10000/);
  });

  test("the inline player's files: Range, a private 5-minute cache; once deleted, a 404 that is not cached", async () => {
    const admin = new AdminClient(t.running.app, '10.0.3.5');
    await admin.signIn();
    const { job } = await t.service.submit({ requester: { platform: 'discord', platformUserId: 'grace' }, options: { prompt: 'a red kite' }, reply: { platform: 'discord', channelId: 'c' } });
    await t.events.waitFor(jobEvent('succeeded', job.id));
    const video = await admin.request('GET', `/admin/jobs/${job.id}/video`, { accept: '*/*' });
    assert.equal(video.statusCode, 200);
    assert.equal(video.headers['content-type'], 'video/mp4');
    assert.equal(video.headers['cache-control'], 'private, max-age=300');
    const part = await admin.request('GET', `/admin/jobs/${job.id}/video`, { accept: '*/*', headers: { range: 'bytes=0-2' } });
    assert.deepEqual([part.statusCode, part.headers['cache-control']], [206, 'private, max-age=300']);
    const poster = await admin.request('GET', `/admin/jobs/${job.id}/poster`, { accept: '*/*' });
    assert.deepEqual([poster.statusCode, poster.headers['content-type']], [200, 'image/png']);
    assert.equal((await admin.post(`/admin/history/${job.id}/delete-video`)).statusCode, 303);
    const gone = await admin.request('GET', `/admin/jobs/${job.id}/video`, { accept: '*/*' });
    assert.deepEqual([gone.statusCode, gone.headers['cache-control']], [404, 'no-store']);
  });

  test('queue actions: promote refuses a running job, cancel refuses a finished one, delete refuses an unfinished one (409)', async () => {
    const admin = new AdminClient(t.running.app, '10.0.4.1');
    await admin.signIn();
    renderer.hold();
    try {
      const running = await t.service.submit({ requester: { platform: 'slack', platformUserId: 'dave' }, options: { prompt: 'held' }, reply: { platform: 'slack', channelId: 'c' } });
      await t.events.waitFor(jobEvent('started', running.job.id));
      const promote = await admin.post(`/admin/queue/${running.job.id}/promote`);
      assert.equal(promote.statusCode, 409);
      assert.match(promote.body, /is running, so it cannot be moved to the front/);
      const remove = await admin.post(`/admin/history/${running.job.id}/delete-video`);
      assert.equal(remove.statusCode, 409);
      const cancel = await admin.post(`/admin/queue/${running.job.id}/cancel`);
      assert.equal(cancel.statusCode, 303);
      await t.events.waitFor(jobEvent('cancelled', running.job.id));
      const again = await admin.post(`/admin/queue/${running.job.id}/cancel`);
      assert.equal(again.statusCode, 409);
      assert.match(again.body, /is cancelled, so it cannot be cancelled/);
    } finally {
      renderer.release();
    }
  });

  test('the sign-in also accepts a generated admin token (ADMIN_TOKEN unset); only its hash is stored', async () => {
    let shown: string | undefined;
    const dataDir = mkdtempSync(join(tmpdir(), 't2v-admin-generated-'));
    const config = loadConfig({ DATA_DIR: dataDir });
    const logLines: string[] = [];
    const running = await startService(config, {
      listen: false,
      logger: createLogger({ level: 'info', destination: { write: (line: string) => void logLines.push(line) } }),
      showAdminToken: (token) => (shown = token),
    });
    try {
      assert.ok(shown !== undefined && shown.length >= 40);
      const admin = new AdminClient(running.app);
      assert.equal((await admin.signIn('not-it')).statusCode, 401);
      assert.equal((await admin.signIn(shown)).statusCode, 303);
      assert.equal((await admin.request('GET', '/admin/settings')).statusCode, 200);
      const rows = await running.db.prisma.setting.findMany();
      assert.equal(rows.some((row) => row.value.includes(shown!)), false, 'the token itself is not stored');
      assert.equal(logLines.some((line) => line.includes(shown!)), false, 'nor logged');
    } finally {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('dashboard live updates over a real connection', { timeout: 30_000 }, () => {
  test('the event stream sends progress, and an open stream does not keep the service from shutting down', async () => {
    const renderer = new TestRenderer({ stepMs: 1 });
    const t = await startTestService({ renderer });
    try {
      const url = await t.running.app.listen({ host: '127.0.0.1', port: 0 });
      const admin = new AdminClient(t.running.app);
      await admin.signIn();
      const cookie = [...admin.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      const stream = await fetch(`${url}/admin/api/events`, { headers: { cookie } });
      assert.equal(stream.status, 200);
      assert.match(String(stream.headers.get('content-type')), /text\/event-stream/);
      assert.match(String(stream.headers.get('content-security-policy')), /frame-ancestors 'none'/, 'security headers survive the hijack');
      const reader = stream.body!.getReader();
      let received = '';
      const readUntil = async (pattern: RegExp) => {
        while (!pattern.test(received)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`stream ended; got ${received}`);
          received += new TextDecoder().decode(value);
        }
      };
      await readUntil(/retry: 3000/);
      const { job } = await t.service.submit({ requester: { platform: 'api', platformUserId: 'x' }, options: { prompt: 'secret prompt text', steps: 3 }, reply: { platform: 'api', channelId: '' } });
      await readUntil(new RegExp(`event: progress\ndata: \\{"jobId":"${job.id}","step":3,"totalSteps":3`));
      assert.match(received, /event: queue\ndata: \{"type":"queued"/);
      assert.doesNotMatch(received, /secret prompt text/, 'events carry ids and numbers, never prompts');
      await t.stop();
      const drained = reader.read().then(async function drain(result): Promise<boolean> {
        return result.done || reader.read().then(drain);
      });
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 5_000)));
      const done = await Promise.race([drained, timedOut]).finally(() => clearTimeout(timer));
      assert.equal(done, true, 'the stream was ended by the shutdown');
    } finally {
      await t.destroy();
    }
  });
});
