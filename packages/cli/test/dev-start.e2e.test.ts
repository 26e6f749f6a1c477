// The start path end to end: `controlplane dev` as a user runs it (the built binary, a fresh data
// directory), in the embedded mode and against real PostgreSQL and Redis. It must create its PKI,
// tenant, admin key and demo runner, run the demo jobs through the gateway, serve, stop cleanly on
// SIGINT/SIGTERM, and on a second start reuse everything it made.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ControlPlaneClient, NotFoundError, readKeyFile } from '@controlplane/client';
import { createRedis } from '@controlplane/server';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { Scrape } from '../../../test/support/prometheus.js';
import { testRedisUrl } from '../../../test/support/redis.js';
import { FREE_PORTS, isAlive, killAll, startDev, type DevProcess } from './support/dev-process.js';

const DEMO_LINES = [
  /^ {2}echo {4}completed {2}1 attempt {3}\{"hello":"world"\}$/m,
  /^ {2}primes {2}completed {2}1 attempt {3}\{"count":78498,"limit":1000000\}$/m,
  /^ {2}sleep {3}completed {2}1 attempt {3}\{"sleptMs":1500\}$/m,
  /^ {2}flaky {3}completed {2}3 attempts {2}\{"succeededOnAttempt":3\}$/m,
];

function health(url: string, ca: string): Promise<{ status: number; body: { status: string } }> {
  const agent = new Agent({ ca, keepAlive: false });
  return new Promise((resolve, reject) => {
    httpsRequest(`${url}/health`, { agent }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        agent.destroy();
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
      });
    })
      .on('error', reject)
      .end();
  });
}

/** Waits for a start to be ready and its demo jobs to have finished; returns what it printed. */
async function ready(dev: DevProcess): Promise<{ url: string; runnerPid: number }> {
  const [, url] = await dev.waitFor(/ControlPlane is running\. gateway: (https:\/\/127\.0\.0\.1:\d+)\n/);
  const [, pid] = await dev.waitFor(/demo runner \S+ (?:enrolled and )?started \(pid (\d+)/);
  expect(dev.output()).toContain('demo jobs finished: 4 of 4 completed');
  for (const line of DEMO_LINES) expect(dev.output()).toMatch(line);
  return { url: url!, runnerPid: Number(pid) };
}

describe('controlplane dev', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'cp-dev-e2e-'));
    dirs.push(d);
    return d;
  };

  afterEach(killAll);
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('embedded: first start creates everything and runs the demo; SIGINT stops it; the second start reuses the data directory', async () => {
    const dir = join(tmp(), 'data');
    const first = startDev(['--data-dir', dir, ...FREE_PORTS]);
    const { url, runnerPid } = await ready(first);
    const out1 = first.output();
    expect(out1).toMatch(/created a development CA for controlplane\.local/);
    expect(out1).toContain("created tenant 'dev'");
    expect(out1).toMatch(/embedded PostgreSQL \(PGlite\) in .*data\/db; in-process queue and rate limits/);
    const shownKey = /created an admin API key of tenant 'dev' \(shown once\):\n {2}(cpk_\S+)\n/.exec(out1)?.[1];
    expect(shownKey).toBeDefined();

    const keyFile = join(dir, 'admin-key.json');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const saved = readKeyFile(keyFile);
    expect(saved).toMatchObject({ apiKey: shownKey, tenantId: 'dev', role: 'admin' });
    expect(saved.signingKey?.privateKey).toMatch(/BEGIN PRIVATE KEY/);
    const caPem = readFileSync(join(dir, 'pki', 'ca.crt'), 'utf8');
    expect(statSync(join(dir, 'pki', 'ca.key')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(dir, 'dev.json'), 'utf8'))).toMatchObject({ pid: first.proc.pid, gatewayUrl: url });
    expect(await health(url, caPem)).toMatchObject({ status: 200, body: { status: 'healthy' } });
    expect(isAlive(runnerPid)).toBe(true);
    // Both metrics listeners are printed, on loopback, and count the demo jobs.
    const servicesMetrics = /\n {2}metrics +(http:\/\/127\.0\.0\.1:\d+\/metrics) /.exec(out1)?.[1];
    const runnerMetrics = /\n {2}runner metrics (http:\/\/127\.0\.0\.1:\d+\/metrics)\n/.exec(out1)?.[1];
    expect(servicesMetrics).toBeDefined();
    expect(runnerMetrics).toBeDefined();
    const scraped = new Scrape(await (await fetch(servicesMetrics!)).text());
    expect(scraped.value('controlplane_jobs_submitted_total', { tenant: 'dev' })).toBeGreaterThanOrEqual(4);
    expect(new Scrape(await (await fetch(runnerMetrics!)).text()).value('controlplane_runner_jobs_completed_total')).toBeGreaterThanOrEqual(
      4,
    );

    expect(await first.stop('SIGINT')).toBe(0);
    expect(first.output()).toMatch(/stopping \(SIGINT\)…\n(.*\n)*stopped\n$/);
    expect(existsSync(join(dir, 'dev.json'))).toBe(false);
    expect(isAlive(runnerPid)).toBe(false);
    await expect(health(url, caPem)).rejects.toThrow(/ECONNREFUSED/);

    const keyBytes = readFileSync(keyFile, 'utf8');
    const second = startDev(['--data-dir', dir, ...FREE_PORTS]);
    const again = await ready(second);
    const out2 = second.output();
    expect(out2).toContain('using the CA and certificates in');
    expect(out2).toContain('using the admin API key in');
    expect(out2).not.toMatch(/created (a development CA|an admin API key|tenant)/);
    expect(out2).not.toContain('cpk_');
    expect(readFileSync(keyFile, 'utf8')).toBe(keyBytes);
    expect(readFileSync(join(dir, 'pki', 'ca.crt'), 'utf8')).toBe(caPem);

    // The jobs of the first run are still there: the data persisted.
    const client = new ControlPlaneClient({ url: again.url, ca: caPem, apiKey: saved.apiKey, signingKey: saved.signingKey! });
    try {
      const jobs = (await client.jobs.list({ limit: 50 })).jobs;
      expect(jobs.filter((j) => j.request.type === 'flaky' && j.status === 'completed')).toHaveLength(2);
      // Embedded mode takes the full path too: results reach TruthCore with verifiable provenance.
      const echo = jobs.find((j) => j.request.type === 'echo' && j.status === 'completed')!;
      let provenance: unknown;
      for (let i = 0; i < 50 && !provenance; i++) {
        provenance = await client.jobs.provenance(echo.id).catch(() => undefined);
        if (!provenance) await new Promise((r) => setTimeout(r, 200));
      }
      expect(JSON.stringify(provenance)).toContain('"signatureValid":true');
    } finally {
      client.close();
    }

    // One PGlite directory, one process: a second dev on the same directory is refused.
    const intruder = startDev(['--data-dir', dir, ...FREE_PORTS]);
    expect(await intruder.exited).toBe(7);
    expect(intruder.output()).toContain('already running');

    expect(await second.stop('SIGTERM')).toBe(0);
    expect(second.output()).toContain('stopping (SIGTERM)');
    expect(isAlive(again.runnerPid)).toBe(false);
  });

  it('PostgreSQL and Redis: the same start path on real servers, results delivered to TruthCore, reused on the second start', async () => {
    const dir = join(tmp(), 'data');
    let tdb: TestDatabase | undefined = await createTestDatabase();
    const prefix = `cpdev${randomBytes(5).toString('hex')}`;
    const env = { DATABASE_URL: tdb.url, REDIS_URL: testRedisUrl(), CONTROLPLANE_REDIS_KEY_PREFIX: prefix };
    const redis = await createRedis({ url: testRedisUrl(), keyPrefix: prefix });
    try {
      const first = startDev(['--data-dir', dir, ...FREE_PORTS], env);
      const { url } = await ready(first);
      expect(first.output()).toMatch(
        /services \(PostgreSQL postgres:\/\/.*\/cp_test_\w+; Redis redis:\/\/127\.0\.0\.1:6379 \(prefix cpdev\w+\)\)/,
      );
      expect(first.output()).toMatch(/created an admin API key/);
      expect(existsSync(join(dir, 'db'))).toBe(false);

      const saved = readKeyFile(join(dir, 'admin-key.json'));
      const client = new ControlPlaneClient({
        url,
        ca: readFileSync(join(dir, 'pki', 'ca.crt'), 'utf8'),
        apiKey: saved.apiKey,
        signingKey: saved.signingKey!,
      });
      try {
        const echo = (await client.jobs.list({ type: 'echo' })).jobs[0]!;
        expect(echo.status).toBe('completed');
        // JobForge hands results to TruthCore through its outbox; TruthCore answers with the provenance.
        let provenance: unknown;
        for (let i = 0; i < 50 && provenance === undefined; i++) {
          provenance = await client.jobs.provenance(echo.id).catch((err: unknown) => {
            if (err instanceof NotFoundError) return undefined;
            throw err;
          });
          if (provenance === undefined) await sleep(200);
        }
        expect(JSON.stringify(provenance)).toContain(echo.id);
      } finally {
        client.close();
      }
      const keys = await redis.client.keys(`${prefix}:*`);
      expect(keys.length).toBeGreaterThan(0);
      expect(await first.stop('SIGTERM')).toBe(0);

      const second = startDev(['--data-dir', dir, ...FREE_PORTS], env);
      await ready(second);
      expect(second.output()).toContain('using the admin API key in');
      expect(second.output()).not.toContain('cpk_');
      expect(await second.stop('SIGINT')).toBe(0);
      // drop() fails if the dev process left a connection open.
      await tdb.drop();
      tdb = undefined;
    } finally {
      await killAll();
      await tdb?.drop().catch(() => undefined);
      const keys = await redis.client.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.client.unlink(...keys);
      await redis.close();
    }
  });
});
