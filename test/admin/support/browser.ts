// Debian's Chromium driven by playwright-core, never a downloaded browser (docs/platform-notes.md). Each launch
// gets a fresh temporary profile; pages record dialogs (an XSS payload that ran would open one) and page errors.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Where the tests save a screenshot of every page (gitignored; CI keeps them as artifacts). */
export const SCREENSHOT_DIR = join(process.cwd(), 'artifacts', 'screenshots');

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Messages of every alert/confirm/prompt any page opened. */
  dialogs: string[];
  /** Uncaught script errors and CSP violations reported by the pages. */
  pageErrors: string[];
  screenshot(name: string, page?: Page): Promise<void>;
  close(): Promise<void>;
}

export async function launchBrowser(options: { viewport?: { width: number; height: number } } = {}): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 't2v-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: options.viewport ?? { width: 1280, height: 900 },
  });
  const dialogs: string[] = [];
  const pageErrors: string[] = [];
  const watch = (page: Page) => {
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) pageErrors.push(message.text());
    });
  };
  for (const open of context.pages()) watch(open);
  context.on('page', watch);
  context.setDefaultTimeout(15_000);
  const page = context.pages()[0] ?? (await context.newPage());
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return {
    context,
    page,
    dialogs,
    pageErrors,
    screenshot: async (name, target = page) => {
      await target.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
    },
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
