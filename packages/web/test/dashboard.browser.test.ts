// The dashboard in Chromium against a real `controlplane dev` on PostgreSQL: sign in with the key
// file, watch a job go from queued to completed live, filter jobs, cancel (signed in the browser),
// retry a dead letter, revoke a runner; then attack it: XSS in job data, an inline script under the
// CSP, a cross-site request from another origin's page, a viewer reaching for admin work, another
// tenant's job id, a revoked key's session. Screenshots of each page go to packages/web/test-results/.
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { ControlPlaneClient } from '@controlplane/client';
import { createApiKey, createPostgresDatabase, createTenant } from '@controlplane/server';
import { ARTIFACTS, jobStatus, REDUCED, screenshot, startDashboard, type Dashboard } from './support/browser.js';

// What the functions run in the page (page.evaluate) use of the DOM, declared here: this file
// is compiled with Node's types, not the DOM's.
declare const document: {
  cookie: string;
  createElement(tag: string): { textContent: string };
  body: { appendChild(node: unknown): void };
};
declare const window: Record<string, unknown>;

let d: Dashboard;
let ctx: BrowserContext;
let page: Page;
const consoleLines: string[] = [];

const ui = (hash = '') => `${d.url}/ui/${hash}`;

async function openJob(p: Page, id: string): Promise<void> {
  await p.goto(ui(`#/jobs/${id}`));
  await p.locator('.job-head .status').waitFor();
}

async function waitForStatus(p: Page, status: string): Promise<void> {
  await p.locator('.job-head .status', { hasText: new RegExp(`^${status}$`) }).waitFor({ timeout: 60_000 });
}

describe('the dashboard in a browser', () => {
  beforeAll(async () => {
    d = await startDashboard();
    ctx = await d.newContext();
    page = await ctx.newPage();
    page.on('console', (m) => consoleLines.push(m.text()));
  });
  afterAll(async () => {
    await d?.close();
  });

  it('is served with a strict CSP, no inline script and every header the API has', async () => {
    // A 503 while the gateway sheds load on a busy machine is asked again, as a browser user would.
    let res = await page.request.get(ui());
    for (let i = 0; i < 20 && res.status() === 503; i++) {
      await new Promise((r) => setTimeout(r, 500));
      res = await page.request.get(ui());
    }
    expect(res.status()).toBe(200);
    const h = res.headers();
    const csp = h['content-security-policy']!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    for (const name of [
      'strict-transport-security',
      'x-content-type-options',
      'x-frame-options',
      'referrer-policy',
      'cross-origin-resource-policy',
    ])
      expect(h[name], name).toBeTruthy();
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/\sstyle=|\son[a-z]+=/);
  });

  it('signs in with the key file: an HttpOnly, Secure, SameSite=Strict session, the signing key kept in the page', async () => {
    await page.goto(ui());
    await page.locator('[data-testid=key-file]').setInputFiles(d.adminKeyFile);
    await page.locator('[data-testid=who]', { hasText: 'dev · admin' }).waitFor();
    await page.getByText('signing key loaded').waitFor();
    const [cookie] = (await ctx.cookies()).filter((c) => c.name === '__Host-cp_session');
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
    expect(await page.evaluate(() => document.cookie)).not.toContain('cp_session');
    await page.locator('.cards').waitFor();
    await screenshot(page, 'overview');
  });

  it('shows a submitted job go from queued to completed, live', async () => {
    const job = await d.admin.jobs.submit({
      type: 'echo',
      data: { hello: 'browser' },
      scheduledAt: new Date(Date.now() + 4_000).toISOString(),
    });
    await openJob(page, job.id);
    const first = await jobStatus(page);
    expect(['pending', 'queued']).toContain(first);
    await waitForStatus(page, 'completed');
    await page.locator('[data-testid=timeline] li', { hasText: 'job.completed' }).waitFor();
    expect(await page.locator('pre.json', { hasText: '"hello": "browser"' }).count()).toBeGreaterThan(0);
    await page.getByText('verified').first().waitFor({ timeout: 30_000 });
    await screenshot(page, 'job-detail');
  });

  it('filters jobs by status and type', async () => {
    const flaky = await d.admin.jobs.submit({ type: 'flaky', data: { failTimes: 0 } });
    await d.admin.jobs.wait(flaky.id, { timeoutMs: 60_000 });
    await page.goto(ui('#/jobs'));
    await page.locator('[data-testid=jobs-table]').waitFor();
    await page.locator('select[name=status]').selectOption('completed');
    await page.waitForURL(/status=completed/);
    await page.locator('input[name=type]').fill('flaky');
    await page.locator('input[name=type]').press('Enter');
    await page.locator('input[name=type]').blur();
    await page.waitForURL(/type=flaky/);
    await page.locator(`tr[data-job-id="${flaky.id}"]`).waitFor();
    const statuses = await page.locator('[data-testid=jobs-table] tbody .status').allInnerTexts();
    const types = await page.locator('[data-testid=jobs-table] tbody .job-type').allInnerTexts();
    expect(new Set(statuses)).toEqual(new Set(['completed']));
    expect(new Set(types)).toEqual(new Set(['flaky']));
    await screenshot(page, 'jobs-filtered');
  });

  it('cancels a running job, signed in the browser with the key file’s key', async () => {
    const job = await d.admin.jobs.submit({ type: 'sleep', data: { ms: 60_000 } });
    await openJob(page, job.id);
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await waitForStatus(page, 'cancelled');
    const audit = await d.admin.audit.query({ action: 'job.cancel' });
    expect(audit.events.some((e) => (e as { resource?: { id: string } }).resource?.id === job.id)).toBe(true);
  });

  it('retries a dead-lettered job', async () => {
    const job = await d.admin.jobs.submit({ type: 'flaky', data: { failTimes: 1 }, retryPolicy: { maxRetries: 0 } });
    expect((await d.admin.jobs.wait(job.id, { timeoutMs: 60_000 })).status).toBe('failed');
    await page.goto(ui('#/dead-letters'));
    await page.locator(`tr[data-job-id="${job.id}"]`).waitFor();
    await screenshot(page, 'dead-letters');
    await page.locator(`tr[data-job-id="${job.id}"] a`).click();
    await waitForStatus(page, 'failed');
    await page.getByRole('button', { name: 'Retry' }).click();
    await waitForStatus(page, 'completed');
  });

  it('shows the audit log', async () => {
    await page.goto(ui('#/audit'));
    await page.locator('[data-testid=audit-table]').waitFor();
    await page.locator('[data-testid=chain-status]', { hasText: 'intact' }).waitFor();
    await screenshot(page, 'audit');
  });

  it('renders job data holding <script> and an <img onerror> as text', async () => {
    const hostile = {
      script: '<script>window.__xss = 1</script>',
      attr: '"><img src=x onerror="window.__xss = 2">',
      svg: '<svg onload="window.__xss = 3"></svg>',
    };
    const job = await d.admin.jobs.submit({ type: 'echo', data: hostile, tags: ['<img src=x onerror="window.__xss=4">'] });
    await d.admin.jobs.wait(job.id, { timeoutMs: 60_000 });
    await openJob(page, job.id);
    await page.locator('pre.json', { hasText: 'window.__xss = 1</script>' }).first().waitFor();
    await page.goto(ui('#/jobs'));
    await page.locator('[data-testid=jobs-table]').waitFor();
    await screenshot(page, 'jobs');
    await page.locator(`tr[data-job-id="${job.id}"]`).waitFor();
    await openJob(page, job.id);
    expect(await page.evaluate(() => window.__xss)).toBeUndefined();
    expect(await page.locator('main img, main svg, main script').count()).toBe(0);
    expect(await page.locator('pre.json').first().innerText()).toContain('<img src=x onerror=');
    await screenshot(page, 'xss-as-text');
  });

  it('blocks an injected inline script under its CSP (the console reports the violation)', async () => {
    consoleLines.length = 0;
    const ran = await page.evaluate(async () => {
      const s = document.createElement('script');
      s.textContent = 'window.__inline = 1';
      document.body.appendChild(s);
      await new Promise((r) => setTimeout(r, 100));
      return window.__inline;
    });
    expect(ran).toBeUndefined();
    await expect.poll(() => consoleLines.some((l) => /Content Security Policy/.test(l) && /inline script/i.test(l))).toBe(true);
  });

  it('refuses a cross-site request from another origin’s page that carries the session cookie', async () => {
    const job = await d.admin.jobs.submit({ type: 'flaky', data: { failTimes: 9 }, retryPolicy: { maxRetries: 0 } });
    expect((await d.admin.jobs.wait(job.id, { timeoutMs: 60_000 })).status).toBe('failed');
    // The attacker's page: same host, another port (so the same site: SameSite lets the cookie go).
    const attack = await startAttackerSite(d, job.id);
    try {
      const evil = await ctx.newPage();
      await evil.goto(attack.url);
      await evil.waitForFunction(() => window.done === true, undefined, { timeout: 30_000 });
      await evil.close();
    } finally {
      await new Promise((r) => attack.server.close(r));
    }
    expect((await d.admin.jobs.get(job.id)).status).toBe('failed');
    const denied = await d.admin.audit.query({ action: 'access.denied' });
    const crossSite = denied.events.filter((e) => (e as { details?: { reason?: string } }).details?.reason === 'cross_site');
    expect(crossSite.length).toBeGreaterThan(0);
    // The signed-in page itself still works.
    await openJob(page, job.id);
  });

  it('without the key file: signed operations are shown disabled, with the reason', async () => {
    const c = await d.newContext();
    const p = await c.newPage();
    const creds = JSON.parse(readFileSync(d.adminKeyFile, 'utf8')) as { key: string };
    await p.goto(ui());
    await p.locator('input[name=apiKey]').fill(creds.key);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.locator('[data-testid=who]').waitFor();
    const job = await d.admin.jobs.submit({ type: 'sleep', data: { ms: 30_000 } });
    await openJob(p, job.id);
    const cancel = p.getByRole('button', { name: 'Cancel job' });
    expect(await cancel.isDisabled()).toBe(true);
    await p.getByText('load your key file').first().waitFor();
    await screenshot(p, 'signing-disabled');
    await d.admin.jobs.cancel(job.id);
    await c.close();
  });

  it('a viewer’s session: no admin pages’ data, and the API refuses what the page does not offer', async () => {
    const viewer = await d.admin.apiKeys.create({ name: `viewer-${randomUUID().slice(0, 6)}`, role: 'viewer' });
    const c = await d.newContext({ width: 390, height: 844 });
    const p = await c.newPage();
    await p.goto(ui());
    await p.locator('input[name=apiKey]').fill(viewer.key);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.locator('[data-testid=who]', { hasText: 'dev · viewer' }).waitFor();
    expect(await p.locator('header nav a', { hasText: 'Runners' }).count()).toBe(0);
    await screenshot(p, 'phone-overview');
    await p.goto(ui('#/runners'));
    await p.getByText('Not allowed', { exact: true }).waitFor();
    const job = await d.admin.jobs.submit({ type: 'sleep', data: { ms: 30_000 } });
    await openJob(p, job.id);
    expect(await p.getByRole('button', { name: 'Cancel job' }).count()).toBe(0);
    // What a tampered page would do: the API answers, with the session's own CSRF token.
    const statuses = await p.evaluate(async (id) => {
      const s = (await (await fetch('/session')).json()) as { csrfToken: string };
      const post = (path: string) => fetch(path, { method: 'POST', headers: { 'x-csrf-token': s.csrfToken } }).then((r) => r.status);
      return {
        cancel: await post(`/jobs/${id}/cancel`),
        retry: await post(`/jobs/${id}/retry`),
        keys: await fetch('/admin/api-keys').then((r) => r.status),
        audit: await fetch('/admin/audit').then((r) => r.status),
        runners: await fetch('/admin/runners').then((r) => r.status),
      };
    }, job.id);
    expect(statuses).toEqual({ cancel: 403, retry: 403, keys: 403, audit: 403, runners: 403 });
    expect((await d.admin.jobs.get(job.id)).status).not.toBe('cancelled');
    await d.admin.jobs.cancel(job.id);

    // The key is revoked: the session dies with it, and the page goes back to sign-in.
    await d.admin.apiKeys.revoke(viewer.id);
    await p.goto(ui('#/'));
    await p.locator('input[name=apiKey]').waitFor();
    expect(await p.evaluate(() => fetch('/jobs').then((r) => r.status))).toBe(401);
    await c.close();
  });

  it('another tenant’s job id in the URL is not found', async () => {
    const db = createPostgresDatabase({
      unscoped: 'system',
      connectionString: d.tdb.url,
      maxConnections: 1,
      applicationName: 'browser-test',
    });
    try {
      await createTenant(db, { id: 'other', name: 'Other' });
      const k = await createApiKey(db, { tenantId: 'other', role: 'admin', name: 'other admin' });
      const other = d.clientFor(k.key);
      const theirs = await other.jobs.submit({ type: 'echo', data: { secret: 'of the other tenant' } });
      other.close();
      await page.goto(ui(`#/jobs/${theirs.id}`));
      await page.getByText('Job not found').waitFor();
      expect(await page.getByText('of the other tenant').count()).toBe(0);
    } finally {
      await db.close();
    }
  });

  it('creates an API key whose signing pair is made in the browser, a join token, and revokes the key', async () => {
    await page.goto(ui('#/keys'));
    await page.locator('[data-testid=keys-table]').waitFor();
    await page.locator('input[name=keyName]').fill('made in the browser');
    await page.locator('select[name=keyRole]').selectOption('submitter');
    await page.getByRole('button', { name: 'Create key' }).click();
    const shown = page.locator('[data-testid=shown-once] pre.json');
    await shown.waitFor();
    const file = JSON.parse(await shown.innerText()) as { id: string; key: string; signingKeyId: string; signingPrivateKey: string };
    expect(file).toMatchObject({ kind: 'controlplane-api-key', role: 'submitter', name: 'made in the browser', tenantId: 'dev' });
    await screenshot(page, 'keys');
    // The private key never went to the server, yet the key file signs what the server verifies.
    const c = new ControlPlaneClient({
      url: d.url,
      ca: readFileSync(d.caFile),
      apiKey: file.key,
      signingKey: { keyId: file.signingKeyId, privateKey: file.signingPrivateKey },
    });
    const job = await c.jobs.submit({ type: 'sleep', data: { ms: 30_000 } });
    expect((await c.jobs.cancel(job.id)).id).toBe(job.id);
    c.close();
    await page.getByRole('button', { name: 'Done' }).click();
    page.once('dialog', (dialog) => void dialog.accept());
    await page.locator(`tr[data-key-id="${file.id}"]`).getByRole('button', { name: 'Revoke' }).click();
    await page.locator(`tr[data-key-id="${file.id}"] .status`, { hasText: 'revoked' }).waitFor();
    await page.getByRole('button', { name: 'Create join token' }).click();
    await page.locator('[data-testid=shown-once] pre.json', { hasText: '"token"' }).waitFor();
  });

  it('revokes a runner (signed in the browser)', async () => {
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(ui('#/runners'));
    const row = page.locator('[data-testid=runners-table] tbody tr').first();
    await row.waitFor();
    await screenshot(page, 'runners');
    const id = await row.getAttribute('data-runner-id');
    await row.getByRole('button', { name: 'Revoke' }).click();
    await page.locator(`tr[data-runner-id="${id}"] .status`, { hasText: 'revoked' }).waitFor();
    expect((await d.admin.runners.list()).find((r) => r.id === id)?.status).toBe('revoked');
  });

  it.skipIf(REDUCED)(
    'loads its pages with 100,000 jobs in the database (measured, not asserted)',
    async () => {
      // 100 batches of 1,000 through the gateway, one after another (in parallel, a loaded machine's
      // gateway sheds them); no runner handles `bulk`, so they wait.
      for (let batch = 0; batch < 100; batch++) {
        await d.admin.jobs.submitBatch(Array.from({ length: 1000 }, (_, i) => ({ type: 'bulk', data: { batch, i } })));
      }
      const pages: Array<[string, string, string]> = [
        ['overview', '#/', '.cards'],
        ['jobs', '#/jobs', '[data-testid=jobs-table]'],
        ['jobs filtered', '#/jobs?status=queued&type=bulk', '[data-testid=jobs-table]'],
        ['dead letters', '#/dead-letters', 'main section table, main section .state.empty'],
        ['runners', '#/runners', '[data-testid=runners-table]'],
        ['audit', '#/audit', '[data-testid=audit-table]'],
      ];
      // The API's own answer times first (server side), then each page from navigation to its content.
      const api: Record<string, number> = {};
      for (const path of ['/overview', '/jobs?limit=25', '/jobs?limit=25&status=queued&type=bulk', '/jobs?limit=25&deadLettered=true']) {
        // The best of three answers (a 503 while the gateway sheds load is retried, not counted).
        let best = Infinity;
        for (let attempt = 0; attempt < 10 && best === Infinity; attempt++) {
          for (let i = 0; i < 3; i++) {
            const t0 = Date.now();
            const res = await page.request.get(`${d.url}${path}`);
            if (res.status() === 200) best = Math.min(best, Date.now() - t0);
            else expect(res.status(), path).toBe(503);
          }
          if (best === Infinity) await new Promise((r) => setTimeout(r, 1_000));
        }
        api[path] = best;
      }
      const timings: Record<string, number | string> = {};
      for (const [name, hash, ready] of pages) {
        await page.goto('about:blank');
        const t0 = Date.now();
        await page.goto(ui(hash));
        await page.locator(`${ready}, .state.error`).first().waitFor({ timeout: 60_000 });
        const error = page.locator('.state.error');
        timings[name] = (await error.count()) > 0 ? `error: ${await error.first().innerText()}` : Date.now() - t0;
      }
      const newest = (await (await page.request.get(`${d.url}/jobs?limit=1`)).json()) as { jobs: Array<{ id: string }> };
      const firstJob = newest.jobs[0]?.id;
      if (firstJob) {
        const t0 = Date.now();
        await openJob(page, firstJob);
        timings['job detail'] = Date.now() - t0;
      }
      await screenshot(page, 'job-detail-100k');
      writeFileSync(join(ARTIFACTS, 'page-load-100k.json'), JSON.stringify({ api, pages: timings }, null, 2) + '\n');
      console.log('with 100,000 jobs: API answers (ms)', api, 'pages, navigation to content (ms)', timings);
    },
    1_200_000,
  );
});

/** Another origin (same host, another port) whose page tries to retry a job with the visitor's session. */
async function startAttackerSite(dash: Dashboard, jobId: string): Promise<{ url: string; server: Server }> {
  const tls = { cert: readFileSync(join(dash.dir, 'pki', 'gateway.crt')), key: readFileSync(join(dash.dir, 'pki', 'gateway.key')) };
  const target = `${dash.url}/jobs/${jobId}/retry`;
  const page = `<!doctype html><html><body><form id="f" method="POST" action="${target}" target="sink"></form><iframe name="sink"></iframe>
<script>
fetch(${JSON.stringify(target)}, { method: 'POST', credentials: 'include', mode: 'no-cors' })
  .catch(() => {})
  .then(() => { document.getElementById('f').submit(); setTimeout(() => { window.done = true; }, 1500); });
</script></body></html>`;
  const server = createServer(tls, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(page);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}
