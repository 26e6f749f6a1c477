// The production start: `controlplane bootstrap`, then `controlplane truthcore|jobforge|gateway
// --config <file>` as three separate processes on real PostgreSQL and Redis, each with its own
// certificate, and a runner enrolled with a join token. A job goes client → gateway → JobForge →
// runner → JobForge → TruthCore, and every process stops cleanly on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlaneClient, NotFoundError, readKeyFile } from '@controlplane/client';
import { generateKeyringFile, initPki } from '@controlplane/platform';
import { createPostgresDatabase, createRedis } from '@controlplane/server';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { testRedisUrl } from '../../../test/support/redis.js';
import { scrape } from '../../../test/support/prometheus.js';
import { EXIT } from '../src/command.js';
import { main } from '../src/main.js';
import { CLI } from './support/dev-process.js';

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

async function cli(argv: string[], env: Record<string, string | undefined>): Promise<{ code: number; out: string }> {
  let out = '';
  const sink = new Writable({
    write(c: Buffer, _e, done) {
      out += c.toString();
      done();
    },
  });
  return { code: await main(argv, { stdout: sink, stderr: sink, env }), out };
}

interface Proc {
  proc: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

describe('production start: one process per service from a config file', () => {
  const procs: Proc[] = [];
  let work: string;
  let tdb: TestDatabase | undefined;
  let prefix: string;
  let configFile: string;
  let ports: { gateway: number; jobforge: number; truthcore: number; enroll: number };

  function spawnCli(args: string[], env: Record<string, string> = {}): Proc {
    const proc = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const p = { proc, out: () => out, exited: new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code))) };
    procs.push(p);
    return p;
  }

  async function waitFor(p: Proc, re: RegExp, ms = 30_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = re.exec(p.out());
      if (m) return m;
      if (p.proc.exitCode !== null) throw new Error(`exited ${p.proc.exitCode} before ${re}:\n${p.out()}`);
      if (Date.now() > deadline) throw new Error(`no ${re} within ${ms} ms:\n${p.out()}`);
      await sleep(50);
    }
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'cp-services-e2e-'));
    tdb = await createTestDatabase();
    prefix = `cpsvc${randomBytes(5).toString('hex')}`;
    ports = { gateway: await freePort(), jobforge: await freePort(), truthcore: await freePort(), enroll: await freePort() };
    // What `controlplane pki init` writes; each host would get only its own service's files.
    await initPki({ dir: join(work, 'pki'), trustDomain: 'prod.test' });
    configFile = join(work, 'controlplane.json');
    await generateKeyringFile(join(work, 'keyring.json'));
    writeFileSync(
      configFile,
      JSON.stringify({
        trustDomain: 'prod.test',
        dataDir: work,
        database: { url: tdb.url, maxConnections: 5 },
        redis: { url: testRedisUrl(), keyPrefix: prefix },
        gateway: { listen: { port: ports.gateway } },
        jobforge: { listen: { port: ports.jobforge }, url: `https://127.0.0.1:${ports.jobforge}`, enrollListen: { port: ports.enroll } },
        truthcore: { listen: { port: ports.truthcore }, url: `https://127.0.0.1:${ports.truthcore}` },
        encryption: { keyringFile: join(work, 'keyring.json') },
      }),
    );
  });

  afterAll(async () => {
    for (const p of procs) if (p.proc.exitCode === null) p.proc.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await tdb?.drop().catch(() => undefined);
    const redis = await createRedis({ url: testRedisUrl(), keyPrefix: prefix });
    const keys = await redis.client.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.client.unlink(...keys);
    await redis.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('refuses to run one service on the embedded database', async () => {
    const r = await cli(['gateway'], { CONTROLPLANE_DATA_DIR: work });
    expect(r.code).toBe(EXIT.CONFIG);
    expect(r.out).toMatch(/database\.mode is 'embedded'.*DATABASE_URL.*controlplane dev/s);
  });

  it('bootstraps an admin, runs the three services and a runner, and carries a job through all of them', async () => {
    const adminFile = join(work, 'acme-admin.json');
    const boot = await cli(['bootstrap', '--config', configFile, '--tenant', 'acme', '--tenant-name', 'Acme', '--out', adminFile], {});
    expect(boot.code).toBe(EXIT.OK);
    expect(boot.out).toContain('created admin key');
    expect(readKeyFile(adminFile)).toMatchObject({ tenantId: 'acme', role: 'admin' });

    const truthcore = spawnCli(['truthcore', '--config', configFile, '--metrics-port', '0']);
    const jobforge = spawnCli(['jobforge', '--config', configFile, '--metrics-port', '0']);
    // This host names its certificate explicitly, as a real gateway host would.
    const gateway = spawnCli(['gateway', '--config', configFile, '--metrics-port', '0'], {
      CONTROLPLANE_TLS_CA_FILE: join(work, 'pki', 'ca.crt'),
      CONTROLPLANE_TLS_CERT_FILE: join(work, 'pki', 'gateway.crt'),
      CONTROLPLANE_TLS_KEY_FILE: join(work, 'pki', 'gateway.key'),
    });
    await waitFor(truthcore, new RegExp(`truthcore listening on https://127\\.0\\.0\\.1:${ports.truthcore}`));
    await waitFor(
      jobforge,
      new RegExp(`jobforge listening on https://127\\.0\\.0\\.1:${ports.jobforge} \\(enrolment https://127\\.0\\.0\\.1:${ports.enroll}\\)`),
    );
    await waitFor(gateway, new RegExp(`gateway listening on https://127\\.0\\.0\\.1:${ports.gateway}`));
    // Services log JSON lines to stdout (asynchronously, so possibly after the line on stderr).
    await waitFor(jobforge, /\{"level":"info",.*"service":"jobforge".*"msg":"jobforge listening"/, 5_000);

    const env = {
      CONTROLPLANE_GATEWAY_URL: `https://127.0.0.1:${ports.gateway}`,
      CONTROLPLANE_CA_FILE: join(work, 'pki', 'ca.crt'),
      CONTROLPLANE_KEY_FILE: adminFile,
    };
    const token = await cli(['runner-tokens', 'create', '--json'], env);
    expect(token.code).toBe(EXIT.OK);
    const runnerDir = join(work, 'runner');
    const enrol = await cli(
      [
        'runner',
        'enroll',
        '--join-token',
        JSON.parse(token.out).token,
        '--jobforge',
        `https://127.0.0.1:${ports.enroll}`,
        '--ca',
        join(work, 'pki', 'ca.crt'),
        '--dir',
        runnerDir,
        '--name',
        'host-1',
      ],
      {},
    );
    expect(enrol.code).toBe(EXIT.OK);
    const runner = spawnCli(['runner', 'start', '--dir', runnerDir]);
    await waitFor(runner, /runner \S+ started/);

    const submitted = await cli(['jobs', 'submit', 'primes', '--data', '{"limit":1000}', '--wait', '--json'], env);
    expect(submitted.code).toBe(EXIT.OK);
    const job = JSON.parse(submitted.out.slice(submitted.out.indexOf('{')));
    expect(job).toMatchObject({ status: 'completed', result: { data: { count: 168, limit: 1000 } } });
    // With encryption.keyringFile configured, the stored payload and result are ciphertexts.
    const peek = createPostgresDatabase({ unscoped: 'system', connectionString: tdb!.url, maxConnections: 1 });
    try {
      const stored = await peek.query<{ data: unknown; result: unknown }>(
        `select request->'payload'->'data' as data, result->'data' as result from jobs where id = $1`,
        [job.id],
      );
      expect(String(stored.rows[0]!.data)).toMatch(/^cpenc:v1:/);
      expect(String(stored.rows[0]!.result)).toMatch(/^cpenc:v1:/);
    } finally {
      await peek.close();
    }

    const creds = readKeyFile(adminFile);
    const client = new ControlPlaneClient({
      url: env.CONTROLPLANE_GATEWAY_URL,
      ca: readFileSync(env.CONTROLPLANE_CA_FILE, 'utf8'),
      apiKey: creds.apiKey,
      signingKey: creds.signingKey!,
    });
    try {
      let provenance: unknown;
      for (let i = 0; i < 50 && provenance === undefined; i++) {
        provenance = await client.jobs
          .provenance(job.id)
          .catch((err: unknown) => (err instanceof NotFoundError ? undefined : Promise.reject(err)));
        if (provenance === undefined) await sleep(200);
      }
      expect(JSON.stringify(provenance)).toContain(job.id);
      expect((await client.health()).checks.every((c) => c.status === 'healthy')).toBe(true);

      // One correlation id from the client through every process that handles the job.
      const correlationId = randomUUID();
      const flaky = await client.jobs.submit(
        { type: 'flaky', data: { failTimes: 1 }, retryPolicy: { maxRetries: 2, backoffMs: 100, maxBackoffMs: 200 } },
        { correlationId },
      );
      const done = await client.jobs.wait(flaky.id, { timeoutMs: 20_000 });
      expect(done).toMatchObject({ status: 'completed', request: { metadata: { correlationId } } });
      await sleep(200);
      const linesWith = (p: Proc) =>
        p
          .out()
          .split('\n')
          .flatMap((l) => {
            if (!l.includes(correlationId)) return [];
            try {
              return [JSON.parse(l) as { service: string; correlationId?: string; principal?: string; msg: string }];
            } catch {
              return [];
            }
          });
      expect(
        linesWith(gateway).some((l) => l.service === 'gateway' && l.correlationId === correlationId && l.principal?.startsWith('apikey:')),
      ).toBe(true);
      // The runner's own calls about the job (claim answers, fail, complete) carry the job's id.
      expect(linesWith(jobforge).some((l) => l.correlationId === correlationId && l.principal?.startsWith('runner:'))).toBe(true);
      // JobForge's outbox delivers the result to TruthCore under the same id.
      let recorded = false;
      for (let i = 0; i < 50 && !recorded; i++, await sleep(100)) {
        recorded = linesWith(truthcore).some(
          (l) => l.service === 'truthcore' && l.correlationId === correlationId && l.principal?.startsWith('service:'),
        );
      }
      expect(recorded).toBe(true);

      // Each process serves its own metrics on loopback; each counted its part of the jobs above.
      const metricsOf = async (p: Proc, service: string) => {
        const url = (await waitFor(p, new RegExp(`${service} metrics at (http://127\\.0\\.0\\.1:\\d+/metrics)`)))[1]!;
        return scrape(url);
      };
      const gw = await metricsOf(gateway, 'gateway');
      expect(gw.value('controlplane_http_requests_total', { service: 'gateway', method: 'POST', route: '/jobs' })).toBeGreaterThanOrEqual(
        2,
      );
      expect(gw.has('controlplane_jobs_submitted_total')).toBe(true);
      expect(gw.value('controlplane_jobs_submitted_total')).toBe(0);
      const jf = await metricsOf(jobforge, 'jobforge');
      expect(jf.value('controlplane_jobs_submitted_total', { tenant: 'acme', type: 'primes' })).toBe(1);
      expect(jf.value('controlplane_jobs_completed_total', { tenant: 'acme', type: 'flaky' })).toBe(1);
      expect(jf.value('controlplane_jobs_failed_total', { tenant: 'acme', type: 'flaky' })).toBe(1);
      expect(jf.value('controlplane_job_run_seconds', { tenant: 'acme', type: 'primes' })).toBe(1);
      expect(jf.value('controlplane_runners', { tenant: 'acme', pool: 'default', state: 'active' })).toBe(1);
      expect(jf.value('controlplane_redis_connected', { service: 'jobforge', connection: 'wake' })).toBe(1);
      const tc = await metricsOf(truthcore, 'truthcore');
      expect(
        tc.value('controlplane_http_requests_total', { service: 'truthcore', route: '/v1/results/batch', status: '200' }),
      ).toBeGreaterThan(0);
      expect(tc.value('controlplane_audit_append_seconds', { service: 'truthcore' })).toBeGreaterThan(0);
      expect(tc.value('controlplane_pg_pool_connections', { service: 'truthcore', state: 'total' })).toBeGreaterThan(0);
      for (const m of [gw, jf, tc]) expect(m.text).not.toContain(job.id);
    } finally {
      client.close();
    }

    for (const p of [runner, gateway, jobforge, truthcore]) {
      p.proc.kill('SIGTERM');
      expect(await p.exited).toBe(0);
    }
    expect(gateway.out()).toContain('gateway stopped');
    // drop() fails while any service left a connection open.
    await tdb!.drop();
    tdb = undefined;
  });
});
