// The admin dashboard in a real browser (Debian's Chromium through playwright-core) against the real service:
// sign-in, live progress and cancel, queue order, quota and ban edits seen by the HTTP API, history with a playable
// demo-model video, escaping, CSRF, access without a session, the phone layout. Every page is saved as a screenshot
// under artifacts/screenshots/. The steps build on each other (one service, one browser), so they run in order.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { TEST_ADMIN_TOKEN } from '../support/test-service.js';
import { jobEvent } from '../support/events.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';
import { startDashboardService, type DashboardService } from './support/dashboard-service.js';
import { STEPPED_MARKER } from './support/stepped-renderer.js';

const XSS = '<img src=x onerror=alert(1)>';
const PAGES = ['/admin', '/admin/queue', '/admin/users', '/admin/history', '/admin/settings', '/admin/audit'];

/**
 * The few DOM members the in-page predicates use (the project compiles without the DOM lib). Predicates are
 * functions, not strings: the dashboard's CSP forbids eval, which Playwright would need for string predicates.
 */
interface InPage {
  document: { querySelector(selector: string): { value?: number; textContent: string | null; readyState?: number; duration?: number; currentTime?: number } | null };
}

/** Waits (on animation frames) until the progress bar of `jobId` shows `step`. */
async function progressShows(page: Page, jobId: string, step: number): Promise<void> {
  await page.waitForFunction(
    ([id, value]) => Number((globalThis as unknown as InPage).document.querySelector(`progress[data-progress-job="${id}"]`)?.value ?? -1) === value,
    [jobId, step] as const,
  );
}

async function textShows(page: Page, selector: string, text: string): Promise<void> {
  await page.waitForFunction(
    ([sel, expected]) => (globalThis as unknown as InPage).document.querySelector(sel)?.textContent === expected,
    [selector, text] as const,
  );
}

/** The <video> has loaded its metadata (a real, decodable MP4 with a duration). */
async function videoLoaded(page: Page, selector: string): Promise<void> {
  await page.waitForFunction((sel) => {
    const video = (globalThis as unknown as InPage).document.querySelector(sel);
    return video !== null && (video.readyState ?? 0) >= 1 && (video.duration ?? 0) > 0;
  }, selector);
}

async function videoAdvances(page: Page, selector: string): Promise<void> {
  await page.waitForFunction((sel) => ((globalThis as unknown as InPage).document.querySelector(sel)?.currentTime ?? 0) > 0, selector);
}

/** fetch() from inside the page (same origin, the page's cookies): the status code. */
async function fetchStatus(page: Page, path: string, init: Record<string, unknown> = {}): Promise<number> {
  return page.evaluate(async ([url, options]) => (await fetch(url, options)).status, [path, init] as const);
}

describe('admin dashboard in Chromium', { timeout: 240_000 }, () => {
  let svc: DashboardService;
  let browser: TestBrowser;
  let page: Page;
  let base: string;
  const jobs: Record<string, string> = {};

  before(async () => {
    svc = await startDashboardService();
    base = svc.url;
    browser = await launchBrowser();
    page = browser.page;
  });

  after(async () => {
    await browser?.close();
    await svc?.close();
  });

  test('every page sends a visitor without a session to the sign-in form; the dashboard API answers 401', async () => {
    for (const path of PAGES) {
      await page.goto(base + path);
      const url = new URL(page.url());
      assert.equal(url.pathname, '/admin/login', path);
      if (path !== '/admin') assert.equal(url.searchParams.get('next'), path);
    }
    await page.locator('#token').waitFor();
    await browser.screenshot('login');
    assert.equal(await fetchStatus(page, '/admin/api/fragments/queue'), 401);
    assert.equal(await fetchStatus(page, '/admin/api/fragments/overview'), 401);
    assert.equal(await fetchStatus(page, '/admin/api/events'), 401);
    assert.equal(await fetchStatus(page, '/admin/settings', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'queueCap=5' }), 401);
  });

  test('signs in with the admin token into an HttpOnly, SameSite=Strict, expiring session cookie', async () => {
    await page.goto(`${base}/admin/login?next=/admin/queue`);
    await page.fill('#token', 'not-the-admin-token');
    await page.click('button[type=submit]');
    await page.getByText('That is not the admin token.').waitFor();
    assert.equal((await browser.context.cookies()).some((c) => c.name === 't2v_admin_session'), false);

    await page.fill('#token', TEST_ADMIN_TOKEN);
    await Promise.all([page.waitForURL(`${base}/admin/queue`), page.click('button[type=submit]')]);
    const session = (await browser.context.cookies()).find((c) => c.name === 't2v_admin_session');
    assert.ok(session, 'session cookie set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.equal(session.path, '/admin');
    assert.ok(session.expires > Date.now() / 1000 + 3600, 'expires in the future (hours, not a browser-session cookie)');
    assert.equal(session.value.includes(TEST_ADMIN_TOKEN), false);
    assert.equal(await page.evaluate('document.cookie'), '', 'no cookie is readable by scripts');
  });

  test("shows the running job's progress live, the queue updating itself, moves a job to the front, cancels", async () => {
    const running = await svc.submit({ platform: 'discord', id: 'alice', name: 'Alice' }, `a lighthouse at dusk ${STEPPED_MARKER}`, { steps: 10 });
    assert.equal(running.status, 202);
    jobs.running = running.body.id;
    await svc.events.waitFor(jobEvent('started', jobs.running!));

    await page.goto(`${base}/admin`);
    await page.evaluate('window.__sameDocument = true');
    await page.locator(`progress[data-progress-job="${jobs.running}"]`).waitFor();
    assert.equal(await page.locator('[data-demo-warning]').count(), 1, 'demo-model warning on the overview');
    await page.getByText('built-in demo model', { exact: true }).waitFor();
    svc.stepped.step(1);
    await progressShows(page, jobs.running!, 1);
    svc.stepped.step(2);
    await progressShows(page, jobs.running!, 3);
    assert.equal(await page.locator(`[data-progress-label="${jobs.running}"]`).textContent(), 'step 3 / 10');
    assert.equal(await page.evaluate('window.__sameDocument'), true, 'updated in place, without reloading');

    // A job submitted while the page is open shows up without a reload. Its fragment is held back until the
    // running job has stepped on, so the fragment arrives older than the bar: the bar must not go back.
    let releaseFragment = (): void => {};
    let fragmentDelivered: Promise<void> | undefined;
    const fragmentHeld = new Promise<void>((held) => {
      void page.route('**/admin/api/fragments/**', async (route) => {
        if (fragmentDelivered !== undefined) return route.fallback();
        const released = new Promise<void>((release) => (releaseFragment = release));
        fragmentDelivered = route.fetch().then(async (response) => {
          held();
          await released;
          await route.fulfill({ response });
        });
        await fragmentDelivered;
      });
    });
    const bob = await svc.submit({ platform: 'slack', id: 'bob', name: 'Bob' }, 'a red fox running through snow');
    jobs.bob = bob.body.id;
    await fragmentHeld;
    svc.stepped.step(1);
    await progressShows(page, jobs.running!, 4);
    releaseFragment();
    await fragmentDelivered;
    await page.unroute('**/admin/api/fragments/**');
    await textShows(page, '[data-stat="queued"]', '1');
    assert.equal(await page.locator(`[data-progress-label="${jobs.running}"]`).textContent(), 'step 4 / 10', 'a late fragment does not set the bar back');
    assert.equal(await page.locator(`progress[data-progress-job="${jobs.running}"]`).evaluate((bar) => (bar as unknown as { value: number }).value), 4);
    await browser.screenshot('overview');

    await page.goto(`${base}/admin/queue`);
    await page.evaluate('window.__sameDocument = true');
    const mallory = await svc.submit({ platform: 'api', id: 'mallory', name: XSS }, XSS);
    jobs.mallory = mallory.body.id;
    await page.locator(`tr[data-job-id="${jobs.mallory}"]`).waitFor();
    assert.equal(await page.evaluate('window.__sameDocument'), true);
    svc.stepped.step(1);
    await progressShows(page, jobs.running!, 5);
    const rows = page.locator('tr[data-job-id]');
    assert.equal(await rows.count(), 3);
    await page.locator(`tr[data-job-id="${jobs.bob}"] td[data-label="Position"]`).getByText('1').waitFor();
    await page.locator(`tr[data-job-id="${jobs.mallory}"] td[data-label="Done in"]`).getByText(/about/).waitFor();

    // The XSS payload, as prompt and as display name, is text.
    assert.ok((await page.getByText(XSS, { exact: true }).count()) >= 2);
    assert.equal(await page.locator('img[src="x"]').count(), 0);
    await browser.screenshot('queue');
    const phone = await browser.context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${base}/admin/queue`);
    await phone.locator(`tr[data-job-id="${jobs.mallory}"]`).waitFor();
    assert.ok(Number(await phone.evaluate('document.documentElement.scrollWidth - window.innerWidth')) <= 0, 'the queue fits a phone');
    await browser.screenshot('phone-queue', phone);
    await phone.close();

    await Promise.all([page.waitForURL(`${base}/admin/queue`), page.locator(`tr[data-job-id="${jobs.mallory}"] button`, { hasText: 'Move to front' }).click()]);
    await page.getByText('Moved to position 1.').waitFor();
    await page.locator(`tr[data-job-id="${jobs.mallory}"] td[data-label="Position"]`).getByText('1').waitFor();
    assert.equal((await svc.api('GET', `/api/v1/jobs/${jobs.mallory}`)).body.position, 1);

    await Promise.all([page.waitForURL(`${base}/admin/queue`), page.locator(`tr[data-job-id="${jobs.running}"] button`, { hasText: 'Cancel' }).click()]);
    await page.getByText(/Job cancelled|Cancelling/).waitFor();
    await svc.events.waitFor(jobEvent('cancelled', jobs.running!));
    assert.equal((await svc.api('GET', `/api/v1/jobs/${jobs.running}`)).body.status, 'cancelled');
    assert.ok(svc.stepped.completedSteps < 10, 'stopped before the last step');
  });

  test("a user's quota override applies to the next submit through the HTTP API", async () => {
    await page.goto(`${base}/admin/users`);
    await page.fill('#q', 'bo');
    await Promise.all([page.waitForURL(/\/admin\/users\?q=bo/), page.click('form.filters button')]);
    assert.equal(await page.locator('tr[data-user]').count(), 1);
    await browser.screenshot('users');
    await Promise.all([page.waitForURL(`${base}/admin/users/slack/bob`), page.getByRole('link', { name: 'Bob' }).first().click()]);

    // Bob has used 1 video today: a limit of 1 leaves nothing.
    await page.fill('#videosPerDay', '1');
    await Promise.all([page.waitForURL(`${base}/admin/users/slack/bob`), page.click('#quota-form button[type=submit]')]);
    await page.getByText('Quota saved').waitFor();
    assert.equal(await page.locator('[data-limit="videosPerDay"]').textContent(), '1');
    await browser.screenshot('user');
    const refused = await svc.submit({ platform: 'slack', id: 'bob' }, 'one more please');
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, 'videobot_quota_exceeded');
    assert.match(refused.body.error.message, /You have used 1 of your 1 video today/);

    await page.fill('#videosPerDay', '');
    await Promise.all([page.waitForURL(`${base}/admin/users/slack/bob`), page.click('#quota-form button[type=submit]')]);
    await page.getByText('Quota saved').waitFor();
    assert.equal(await page.locator('[data-limit="videosPerDay"]').textContent(), '20');
    const accepted = await svc.submit({ platform: 'slack', id: 'bob' }, 'one more please');
    assert.equal(accepted.status, 202);
    jobs.bobAgain = accepted.body.id;
  });

  test('a banned user is refused on the next submit; unbanning lets them back', async () => {
    await page.goto(`${base}/admin/users/api/mallory`);
    await Promise.all([page.waitForURL(`${base}/admin/users/api/mallory`), page.getByRole('button', { name: 'Ban' }).click()]);
    await page.getByText('User banned').waitFor();
    assert.equal(await page.locator('[data-banned]').getAttribute('data-banned'), 'true');
    const refused = await svc.submit({ platform: 'api', id: 'mallory' }, 'let me in');
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'videobot_user_banned');

    await Promise.all([page.waitForURL(`${base}/admin/users/api/mallory`), page.getByRole('button', { name: 'Unban' }).click()]);
    await page.getByText('User unbanned').waitFor();
    const accepted = await svc.submit({ platform: 'api', id: 'mallory' }, 'thank you');
    assert.equal(accepted.status, 202);
    jobs.malloryAgain = accepted.body.id;
  });

  test('history plays the demo-model video inline, shows the XSS prompt as text, deletes a video', async () => {
    await svc.events.waitFor(jobEvent('succeeded', jobs.bob!), 60_000);
    await svc.events.waitFor(jobEvent('succeeded', jobs.mallory!), 60_000);

    await page.goto(`${base}/admin/history?user=bob&status=succeeded`);
    const card = page.locator(`article[data-job-id="${jobs.bob}"]`);
    await card.waitFor();
    await card.getByText('a red fox running through snow').waitFor();
    const videoSelector = `article[data-job-id="${jobs.bob}"] video`;
    await videoLoaded(page, videoSelector);
    const duration = await page.locator(videoSelector).evaluate((video) => (video as unknown as { duration: number }).duration);
    assert.ok(Math.abs(duration - 1) < 0.2, `8 frames at 8 fps last about 1 s (got ${duration})`);
    await page.locator(videoSelector).evaluate((video) => {
      const player = video as unknown as { muted: boolean; play(): Promise<void> };
      player.muted = true;
      return player.play();
    });
    await videoAdvances(page, videoSelector);
    await browser.screenshot('history');

    await page.goto(`${base}/admin/history?platform=api`);
    const evil = page.locator(`article[data-job-id="${jobs.mallory}"]`);
    await evil.waitFor();
    assert.equal(await evil.locator('.prompt').textContent(), XSS);
    assert.equal(await page.locator('img[src="x"]').count(), 0);

    await evil.getByText('Delete video…').click();
    await Promise.all([page.waitForURL(/\/admin\/history/), evil.getByRole('button', { name: 'Delete this video' }).click()]);
    await page.getByText('Video deleted').waitFor();
    assert.equal(await page.locator(`article[data-job-id="${jobs.mallory}"] video`).count(), 0);
    assert.equal((await svc.api('GET', `/api/v1/jobs/${jobs.mallory}/video`)).status, 404);
    assert.equal((await svc.api('GET', `/api/v1/jobs/${jobs.mallory}`)).body.status, 'succeeded', 'the job stays in the history');
  });

  test('state-changing requests without the CSRF token are refused with 403', async () => {
    await page.goto(`${base}/admin/settings`);
    const form = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } };
    assert.equal(await fetchStatus(page, '/admin/settings', { ...form, body: 'queueCap=5' }), 403);
    assert.equal(await fetchStatus(page, '/admin/settings', { ...form, body: 'queueCap=5&_csrf=forged-token' }), 403);
    assert.equal(await fetchStatus(page, `/admin/users/slack/bob/ban`, { ...form, body: 'banned=true' }), 403);
    assert.equal(await fetchStatus(page, '/admin/logout', { method: 'POST' }), 403);
    assert.equal((await svc.api('GET', '/api/v1/settings')).body.values.queueCap, 100, 'nothing changed');
    assert.equal((await svc.api('GET', '/api/v1/users/slack/bob/quota')).body.user.banned, false);
  });

  test('settings: banned words and caps apply to the next submit', async () => {
    await page.goto(`${base}/admin/settings`);
    await page.fill('#queueCap', '50');
    await page.fill('#bannedWords', 'forbidden\nnope');
    await Promise.all([page.waitForURL(`${base}/admin/settings`), page.click('#settings-form button[type=submit]')]);
    await page.getByText('Saved: queueCap, bannedWords').waitFor();
    await browser.screenshot('settings');
    const settings = (await svc.api('GET', '/api/v1/settings')).body;
    assert.equal(settings.values.queueCap, 50);
    assert.deepEqual(settings.values.bannedWords, ['forbidden', 'nope']);
    const refused = await svc.submit({ platform: 'discord', id: 'alice' }, 'something FORBIDDEN here');
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'videobot_prompt_rejected');
  });

  test("the overview's charts count today's videos per platform and the busiest users", async () => {
    for (const id of [jobs.bobAgain!, jobs.malloryAgain!]) await svc.events.waitFor(jobEvent('succeeded', id), 60_000);
    await page.goto(`${base}/admin`);
    const videosChart = page.locator('figure.chart').first();
    await videosChart.getByText('Numbers').click();
    const today = videosChart.locator('tbody tr').last();
    // Columns: day, discord, slack, api, total. Alice's render was cancelled; Bob (slack) and Mallory (api) have two each.
    assert.deepEqual(await today.locator('td').allTextContents(), [new Date().toISOString().slice(0, 10), '0', '2', '2', '4']);
    const busiest = page.locator('figure.chart').nth(2);
    await busiest.getByText('Numbers').click();
    const names = await busiest.locator('tbody td:first-child').allTextContents();
    assert.deepEqual([...names].sort(), ['Alice', 'Bob', XSS].sort());
    assert.equal(await page.locator('[data-stat="succeeded"]').textContent(), '4');
    await browser.screenshot('overview-charts');
  });

  test('the audit log lists every admin action', async () => {
    await page.goto(`${base}/admin/audit`);
    for (const action of ['admin.login', 'job.promote', 'job.cancel', 'quota.user.set', 'user.update', 'job.video.delete', 'settings.update']) {
      assert.ok((await page.locator(`tr[data-action="${action}"]`).count()) >= 1, action);
    }
    await browser.screenshot('audit');
  });

  test('is usable on a phone screen', async () => {
    const phone = await browser.context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    for (const [path, name] of [['/admin', 'phone-overview'], ['/admin/users', 'phone-users'], ['/admin/history', 'phone-history']] as const) {
      await phone.goto(base + path);
      await phone.locator('main h1').waitFor();
      const overflow = await phone.evaluate('document.documentElement.scrollWidth - window.innerWidth');
      assert.ok(Number(overflow) <= 0, `${path} fits the width (overflow ${String(overflow)} px)`);
      await browser.screenshot(name, phone);
    }
    await phone.close();
  });

  test('signing out ends the session', async () => {
    await page.goto(`${base}/admin`);
    await Promise.all([page.waitForURL(`${base}/admin/login`), page.getByRole('button', { name: 'Sign out' }).click()]);
    await page.goto(`${base}/admin/queue`);
    assert.equal(new URL(page.url()).pathname, '/admin/login');
    assert.equal(await fetchStatus(page, '/admin/api/fragments/queue'), 401);
  });

  test('no script ran from data, and nothing violated the CSP', () => {
    assert.deepEqual(browser.dialogs, []);
    assert.deepEqual(browser.pageErrors, []);
    assert.equal(svc.logLines.some((line) => line.includes(TEST_ADMIN_TOKEN)), false, 'the admin token never reaches the log');
  });
});
