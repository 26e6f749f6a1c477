// Prometheus metrics of a running system: gateway, JobForge and TruthCore assembled as
// `controlplane dev` assembles them (one process, one metrics listener), on PostgreSQL and Redis,
// with a real runner serving its own listener. Jobs are submitted through the client, complete,
// fail, dead-letter and lose their lease; each scrape is read with a Prometheus text parser and the
// counters and gauges must follow. No label may carry a job id.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlaneClient } from '@controlplane/client';
import { createLogger, loadConfig } from '@controlplane/platform';
import { DEMO_HANDLERS_MODULE, enrollRunner, RunnerAgent } from '@controlplane/runner';
import {
  asSystem,
  createApiKey,
  createBootstrapAdminKey,
  ensureDevPki,
  ensureTenant,
  startProcessMetrics,
  startSystem,
  type DevPki,
  type ProcessMetrics,
  type RunningSystem,
} from '@controlplane/server';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { promtoolCheckMetrics, scrape, type Scrape } from '../../../test/support/prometheus.js';
import { createTestRedis, type TestRedis } from '../../../test/support/redis.js';

const silent = (service: string) => createLogger({ service, level: 'silent' });
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

describe('metrics of a running system', () => {
  let dir: string;
  let tdb: TestDatabase;
  let redis: TestRedis;
  let pki: DevPki;
  let observed: ProcessMetrics;
  let system: RunningSystem;
  let runner: RunnerAgent;
  let client: ControlPlaneClient;
  let servicesUrl: string;
  let runnerUrl: string;
  const jobIds: string[] = [];

  const services = (): Promise<Scrape> => scrape(servicesUrl);
  /** Scrapes until `ok` holds (the gauges are read from the database at each scrape). */
  const until = async (ok: (s: Scrape) => boolean, url = servicesUrl): Promise<Scrape> => {
    for (let i = 0; ; i++) {
      const s = await scrape(url);
      if (ok(s)) return s;
      if (i > 150)
        throw new Error(
          `the metrics never matched:\n${s.text
            .split('\n')
            .filter((l) => l.startsWith('controlplane_'))
            .join('\n')}`,
        );
      await sleep(100);
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cp-metrics-'));
    tdb = await createTestDatabase();
    redis = await createTestRedis();
    const config = loadConfig({
      env: {},
      flags: {
        dataDir: dir,
        'database.url': tdb.url,
        'redis.url': redis.url,
        'redis.keyPrefix': redis.prefix.replace(/[^a-zA-Z0-9_-]/g, '-').slice(0, 32),
        'gateway.listen.port': 0,
        'jobforge.listen.port': 0,
        'truthcore.listen.port': 0,
        'jobforge.enrollListen.port': 0,
        'metrics.listen.port': 0,
      },
    });
    pki = await ensureDevPki(config);
    observed = await startProcessMetrics(config, 'dev');
    servicesUrl = `${observed.listener!.url}/metrics`;
    system = await startSystem({ config, pki, loggerFor: silent, metrics: observed.metrics });
    await ensureTenant(system.db, { id: 'dev', name: 'Development' });
    const admin = await createBootstrapAdminKey(system.db, 'dev', 'metrics test');
    client = new ControlPlaneClient({
      url: system.gateway.url,
      ca: pki.ca.certPem,
      apiKey: admin.key,
      signingKey: { keyId: admin.id, privateKey: admin.signingPrivateKeyPem! },
    });
    const token = await client.joinTokens.create({ ttlSeconds: 120 });
    await enrollRunner({
      joinToken: token.token,
      enrollUrl: system.jobforge.enrollUrl,
      caFile: join(pki.dir, 'ca.crt'),
      dir: join(dir, 'runner'),
      name: 'metrics-test',
    });
    runner = new RunnerAgent({
      dir: join(dir, 'runner'),
      handlersModule: DEMO_HANDLERS_MODULE,
      logger: silent('runner'),
      drainTimeoutMs: 1_000,
      metricsListen: { host: '127.0.0.1', port: 0 },
    });
    await runner.start();
    runnerUrl = `${runner.metricsUrl}/metrics`;
    // Set-up (database, certificates, a runner with warm sandboxes) is slow on a loaded machine.
  }, 120_000);

  afterAll(async () => {
    client?.close();
    await runner?.stop();
    await system?.close();
    await observed?.listener?.close();
    await redis?.cleanup();
    await tdb?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('listens on loopback and serves Node process metrics beside its own', async () => {
    expect(new URL(servicesUrl).hostname).toBe('127.0.0.1');
    expect(new URL(runnerUrl).hostname).toBe('127.0.0.1');
    const s = await services();
    expect(s.has('process_cpu_seconds_total')).toBe(true);
    expect(s.has('nodejs_eventloop_lag_seconds')).toBe(true);
    expect(s.value('controlplane_certificate_not_after_seconds', { service: 'gateway', certificate: 'service' })).toBeGreaterThan(
      Date.now() / 1000,
    );
    const r = await scrape(runnerUrl);
    expect(r.has('process_resident_memory_bytes')).toBe(true);
    expect(r.hasSeries('controlplane_runner_jobs_running', { runner: runner.runnerId })).toBe(true);
    expect(r.value('controlplane_certificate_not_after_seconds', { service: 'runner' })).toBeGreaterThan(Date.now() / 1000);
  });

  it('counts jobs submitted and completed, with their wait and run times, in every process that sees them', async () => {
    const before = await services();
    const runnerBefore = await scrape(runnerUrl);
    const jobs = await Promise.all([1, 2, 3].map((i) => client.jobs.submit({ type: 'echo', data: { i } })));
    jobIds.push(...jobs.map((j) => j.id));
    for (const j of jobs) expect((await client.jobs.wait(j.id, { timeoutMs: 20_000 })).status).toBe('completed');
    const labels = { tenant: 'dev', type: 'echo' };
    const s = await until(
      (x) => x.value('controlplane_jobs_completed_total', labels) >= before.value('controlplane_jobs_completed_total', labels) + 3,
    );
    expect(s.value('controlplane_jobs_submitted_total', labels) - before.value('controlplane_jobs_submitted_total', labels)).toBe(3);
    expect(s.value('controlplane_job_wait_seconds', labels) - before.value('controlplane_job_wait_seconds', labels)).toBe(3);
    expect(s.value('controlplane_job_run_seconds', labels) - before.value('controlplane_job_run_seconds', labels)).toBe(3);
    // The gateway counts the submissions under the route's pattern; JobForge and TruthCore their own routes.
    expect(
      s.value('controlplane_http_requests_total', { service: 'gateway', method: 'POST', route: '/jobs', status: '202' }),
    ).toBeGreaterThanOrEqual(3);
    expect(s.hasSeries('controlplane_http_request_duration_seconds', { service: 'jobforge' })).toBe(true);
    await until((x) => x.value('controlplane_http_requests_total', { service: 'truthcore', route: '/v1/results/batch' }) > 0);
    expect(s.value('controlplane_audit_append_seconds')).toBeGreaterThan(0);
    expect(s.value('controlplane_pg_pool_connections', { service: 'jobforge', state: 'total' })).toBeGreaterThan(0);
    expect(s.value('controlplane_redis_connected', { service: 'gateway', connection: 'main' })).toBe(1);
    expect(s.value('controlplane_breaker_state', { service: 'gateway', dependency: 'jobforge' })).toBe(0);
    await until(
      (r) => r.value('controlplane_runner_jobs_completed_total') >= runnerBefore.value('controlplane_runner_jobs_completed_total') + 3,
      runnerUrl,
    );
    const runners = await until((x) => x.value('controlplane_runners', { tenant: 'dev', pool: 'default', state: 'active' }) === 1);
    expect(runners.value('controlplane_outbox_pending')).toBeGreaterThanOrEqual(0);
  });

  it('counts a failed attempt that is retried, and a job that fails for good as dead-lettered', async () => {
    const labels = { tenant: 'dev', type: 'flaky' };
    const before = await services();
    const retried = await client.jobs.submit({ type: 'flaky', data: { failTimes: 1 }, retryPolicy: { maxRetries: 2, backoffMs: 10 } });
    const dead = await client.jobs.submit({ type: 'flaky', data: { failTimes: 5 }, retryPolicy: { maxRetries: 0 } });
    jobIds.push(retried.id, dead.id);
    expect((await client.jobs.wait(retried.id, { timeoutMs: 20_000 })).status).toBe('completed');
    expect((await client.jobs.wait(dead.id, { timeoutMs: 20_000 })).status).toBe('failed');
    const s = await until(
      (x) => x.value('controlplane_jobs_failed_total', labels) >= before.value('controlplane_jobs_failed_total', labels) + 2,
    );
    expect(s.value('controlplane_jobs_failed_total', labels) - before.value('controlplane_jobs_failed_total', labels)).toBe(2);
    expect(s.value('controlplane_jobs_dead_lettered_total', labels) - before.value('controlplane_jobs_dead_lettered_total', labels)).toBe(
      1,
    );
    expect(s.value('controlplane_jobs_completed_total', labels) - before.value('controlplane_jobs_completed_total', labels)).toBe(1);
  });

  it('counts a lease that runs out, and follows a backlog up and down in queue depth and oldest age', async () => {
    // A type no runner serves: the jobs wait, and the queue gauges show them.
    const labels = { tenant: 'dev', pool: 'default', type: 'nobody.serves', state: 'queued' };
    const backlog = await Promise.all(
      [1, 2, 3, 4].map((i) => client.jobs.submit({ type: 'nobody.serves', data: { i }, retryPolicy: { maxRetries: 0 } })),
    );
    jobIds.push(...backlog.map((j) => j.id));
    const up = await until((s) => s.value('controlplane_queue_depth', labels) === 4);
    const firstAge = up.value('controlplane_queue_oldest_age_seconds', labels);
    expect(firstAge).toBeGreaterThanOrEqual(0);
    await sleep(1_100);
    expect((await services()).value('controlplane_queue_oldest_age_seconds', labels)).toBeGreaterThan(firstAge);

    // The runner's identity takes one of them; its lease is then made to run out, as if it had died.
    const before = await services();
    const claimed = await system.jobforge.jobs.runners.claim(
      { id: runner.runnerId, tenantId: 'dev', pool: 'default', jobTypes: ['nobody.serves'] },
      { max: 1, waitMs: 0 },
    );
    expect(claimed).toHaveLength(1);
    await until((s) => s.value('controlplane_queue_depth', { ...labels, state: 'running' }) === 1);
    await asSystem('test: a runner that died', () =>
      system.db.query(`update jobs set lease_expires_at = now() - interval '1 second' where id = $1`, [claimed[0]!.jobId]),
    );
    const typeLabels = { tenant: 'dev', type: 'nobody.serves' };
    const reaped = await until(
      (s) =>
        s.value('controlplane_lease_expirations_total', typeLabels) ===
        before.value('controlplane_lease_expirations_total', typeLabels) + 1,
    );
    expect(
      reaped.value('controlplane_jobs_dead_lettered_total', typeLabels) - before.value('controlplane_jobs_dead_lettered_total', typeLabels),
    ).toBe(1);
    expect(reaped.value('controlplane_queue_depth', { ...labels, state: 'running' })).toBe(0);

    // Down: the rest are cancelled; the series stay, at 0.
    for (const j of backlog) if (j.id !== claimed[0]!.jobId) await client.jobs.cancel(j.id);
    const down = await until((s) => s.value('controlplane_queue_depth', labels) === 0);
    expect(down.hasSeries('controlplane_queue_depth', labels)).toBe(true);
    expect(down.value('controlplane_queue_oldest_age_seconds', labels)).toBe(0);
  });

  it('counts rate-limited requests by bucket', async () => {
    const before = (await services()).value('controlplane_rate_limited_total', { scope: 'tenant' });
    const platformKey = await asSystem('test: platform admin key', () =>
      createApiKey(system.db, { tenantId: 'system', role: 'admin', name: 'platform admin' }),
    );
    const platform = new ControlPlaneClient({
      url: system.gateway.url,
      ca: pki.ca.certPem,
      apiKey: platformKey.key,
      signingKey: { keyId: platformKey.id, privateKey: platformKey.signingPrivateKeyPem! },
    });
    try {
      await platform.tenants.create({ id: 'slow', name: 'Slow tenant' });
      await platform.tenants.putQuotas('slow', { requestsPerSecond: 1, burst: 1 });
      const made = await platform.apiKeys.create({ name: 'slow viewer', role: 'viewer', tenantId: 'slow' });
      const limited = new ControlPlaneClient({ url: system.gateway.url, ca: pki.ca.certPem, apiKey: made.key, retry: { maxAttempts: 1 } });
      try {
        await Promise.allSettled([1, 2, 3, 4, 5].map(() => limited.jobs.list({ limit: 1 })));
      } finally {
        limited.close();
      }
    } finally {
      platform.close();
    }
    const s = await services();
    expect(s.value('controlplane_rate_limited_total', { scope: 'tenant' })).toBeGreaterThan(before);
    expect(s.value('controlplane_http_requests_total', { service: 'gateway', status: '429' })).toBeGreaterThan(0);
  });

  it('serves what Prometheus parses, within its naming rules, and never a job id in a label', async () => {
    for (const url of [servicesUrl, runnerUrl]) {
      const s = await scrape(url);
      const check = promtoolCheckMetrics(s.text);
      expect(check.parsed, check.problems.join('\n')).toBe(true);
      // prom-client's own nodejs_* gauges end in _total; the runner's claim latency keeps its old name (in ms).
      expect(check.problems.filter((p) => p.startsWith('controlplane_') && !p.startsWith('controlplane_runner_claim_latency_ms '))).toEqual(
        [],
      );
      const labels = s.labels();
      expect(labels.length).toBeGreaterThan(0);
      for (const id of jobIds) expect(s.text).not.toContain(id);
      // Tenants, types, pools, routes and states are names; the one id is the runner's own, on its own listener.
      expect(labels.filter(([k, v]) => UUID.test(v) && k !== 'runner')).toEqual([]);
    }
  });
});
