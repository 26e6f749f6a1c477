// Debian's Chromium driven by playwright-core, against the dashboard of a real `controlplane dev`
// (the built CLI as a child process, on PostgreSQL). Screenshots go to packages/web/test-results/.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ControlPlaneClient, readKeyFile } from '@controlplane/client';
import { FREE_PORTS, killAll, startDev, type DevProcess } from '../../../cli/test/support/dev-process.js';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/postgres.js';

export const ARTIFACTS = fileURLToPath(new URL('../../test-results/', import.meta.url));
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** `reduced` (CI): everything but the 100,000-job measurement. */
export const REDUCED = process.env.CP_BROWSER_TESTS === 'reduced';

export interface Dashboard {
  url: string;
  dir: string;
  adminKeyFile: string;
  caFile: string;
  tdb: TestDatabase;
  dev: DevProcess;
  admin: ControlPlaneClient;
  browser: Browser;
  /** A fresh browser profile (no cookies) at 1280 px, certificate errors ignored (the dev CA is private). */
  newContext(viewport?: { width: number; height: number }): Promise<BrowserContext>;
  /** A client for another key, without its signing key (reads and unsigned writes). */
  clientFor(apiKey: string): ControlPlaneClient;
  close(): Promise<void>;
}

export async function startDashboard(): Promise<Dashboard> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const tdb = await createTestDatabase();
  const root = mkdtempSync(join(tmpdir(), 'cp-browser-'));
  const dir = join(root, 'data');
  const dev = startDev(['--data-dir', dir, ...FREE_PORTS, '--database-url', tdb.url, '--skip-demo', '--log-level', 'warn']);
  const [, url] = await dev.waitFor(/ControlPlane is running\. gateway: (https:\/\/127\.0\.0\.1:\d+)\n/, 120_000);
  await dev.waitFor(/demo runner \S+ (?:enrolled and )?started/, 60_000);
  const adminKeyFile = join(dir, 'admin-key.json');
  const caFile = join(dir, 'pki', 'ca.crt');
  const ca = readFileSync(caFile);
  const clientFor = (apiKey: string) => new ControlPlaneClient({ url: url!, apiKey, ca });
  const creds = readKeyFile(adminKeyFile);
  const admin = new ControlPlaneClient({
    url: url!,
    ca,
    apiKey: creds.apiKey,
    ...(creds.signingKey ? { signingKey: creds.signingKey } : {}),
  });
  // Load shedding answers 503 while the event loop is still busy from start-up on a loaded machine:
  // wait until the gateway admits a page request, as a user would retry.
  await untilAdmitted(`${url!}/ui/`, ca);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  return {
    url: url!,
    dir,
    adminKeyFile,
    caFile,
    tdb,
    dev,
    admin,
    browser,
    async newContext(viewport = { width: 1280, height: 900 }) {
      const c = await browser.newContext({ ignoreHTTPSErrors: true, viewport });
      // A machine shared with other work can be slow; the tests wait for states, never for time.
      c.setDefaultTimeout(60_000);
      return c;
    },
    clientFor,
    async close() {
      admin.close();
      await browser.close().catch(() => {});
      await dev.stop('SIGTERM').catch(() => {});
      await killAll();
      await tdb.drop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

async function untilAdmitted(url: string, ca: Buffer): Promise<void> {
  const agent = new Agent({ ca, keepAlive: false });
  try {
    for (let i = 0; i < 120; i++) {
      const status = await new Promise<number>((resolve) =>
        httpsGet(url, { agent }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', () => resolve(0)),
      );
      if (status === 200) return;
      await sleep(500);
    }
    throw new Error(`the dashboard at ${url} was not served within 60 s`);
  } finally {
    agent.destroy();
  }
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** The text of the job detail page's status badge. */
export const jobStatus = (page: Page) => page.locator('.job-head .status').innerText();
