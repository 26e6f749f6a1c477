// Real runner processes (the `controlplane runner start` binary) against a real JobForge over mTLS,
// on real PostgreSQL and Redis: crashes, drains, cancellation, isolation, metrics, scaffolding.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requestJson, type JsonResponse } from '@controlplane/platform';
import { enrollRunner, DEMO_HANDLERS_MODULE } from '@controlplane/runner';
import type { Database, JobforgeServer } from '@controlplane/server';
import { startJobforgeHarness, type JobforgeHarness } from '../../server/test/support/jobforge-harness.js';
import { TRUST_DOMAIN, type PkiFixture } from '../../server/test/support/pki-fixture.js';

const CLI = fileURLToPath(new URL('../../cli/dist/bin.js', import.meta.url));

describe('runner processes', () => {
  let pki: PkiFixture;
  let db: Database;
  let jf: JobforgeServer;
  let gw: Agent;
  let work: string;
  const procs = new Set<ChildProcess>();

  const call = (method: 'GET' | 'POST', path: string, body?: unknown, tenant = 't1'): Promise<JsonResponse<any>> =>
    requestJson({
      url: `${jf.url}${path}`,
      method,
      body,
      agent: gw,
      headers: { 'x-cp-tenant': tenant, 'x-cp-actor': 'apikey:test' },
      timeoutMs: 10_000,
    });

  async function submit(type: string, data: Record<string, unknown>, tenant = 't1', extra: Record<string, unknown> = {}) {
    const id = randomUUID();
    const res = await call(
      'POST',
      '/v1/jobs',
      {
        id,
        type,
        payload: { type, data },
        metadata: { source: 'runner-e2e', createdAt: new Date().toISOString() },
        retryPolicy: { maxRetries: 3, backoffMs: 50, maxBackoffMs: 100, backoffMultiplier: 2 },
        ...extra,
      },
      tenant,
    );
    expect(res.status).toBe(202);
    return id;
  }

  async function waitFor(id: string, statuses: string[], timeoutMs = 20_000, tenant = 't1') {
    const deadline = Date.now() + timeoutMs;
    let last: any;
    while (Date.now() < deadline) {
      last = (await call('GET', `/v1/jobs/${id}`, undefined, tenant)).body;
      if (statuses.includes(last.status)) return last;
      await sleep(100);
    }
    throw new Error(`job ${id} still ${last?.status} after ${timeoutMs} ms`);
  }

  async function enroll(tenant = 't1', name = 'runner'): Promise<string> {
    const tok = await call('POST', '/v1/join-tokens', {}, tenant);
    const dir = join(work, `${name}-${randomUUID().slice(0, 8)}`);
    await enrollRunner({ joinToken: tok.body.token, enrollUrl: jf.enrollUrl, caFile: join(pki.dir, 'ca.crt'), dir, name });
    return dir;
  }

  function startRunner(dir: string, args: string[] = []): Promise<{ proc: ChildProcess; output: () => string }> {
    const proc = spawn(
      process.execPath,
      [CLI, 'runner', 'start', '--dir', dir, '--handlers', DEMO_HANDLERS_MODULE, '--log-level', 'info', ...args],
      {
        env: { PATH: process.env.PATH ?? '', CONTROLPLANE_RUNNER_SECRET: 'must-not-leak' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    procs.add(proc);
    proc.on('exit', () => procs.delete(proc));
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`runner did not start:\n${out}`)), 15_000);
      const check = () => {
        if (out.includes('started')) {
          clearTimeout(t);
          proc.stdout!.off('data', check);
          resolve({ proc, output: () => out });
        }
      };
      proc.stdout!.on('data', check);
      proc.on('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`runner exited with ${code}:\n${out}`));
      });
    });
  }

  const exited = (proc: ChildProcess) =>
    new Promise<number | null>((r) => (proc.exitCode !== null ? r(proc.exitCode) : proc.once('exit', (code) => r(code))));

  let h: JobforgeHarness;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'cp-runner-e2e-'));
    h = await startJobforgeHarness({ leaseMs: 1_500, duties: { reapMs: 200, expireMs: 500 } });
    ({ pki, db, jf, gw } = h);
  });

  afterEach(async () => {
    for (const p of procs) {
      p.kill('SIGKILL');
      await exited(p);
    }
  });

  afterAll(async () => {
    await h?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('runs jobs end to end: echo, a flaky job retried until it succeeds, progress of a sleep', async () => {
    const { proc } = await startRunner(await enroll('t1', 'basic'));
    const echo = await submit('echo', { hello: 'world' });
    const flaky = await submit('flaky', { failTimes: 2 });
    const nap = await submit('sleep', { ms: 600 });
    expect((await waitFor(echo, ['completed'])).result.data).toEqual({ hello: 'world' });
    const f = await waitFor(flaky, ['completed', 'failed']);
    expect(f.status).toBe('completed');
    expect(f.result.data).toEqual({ succeededOnAttempt: 3 });
    await waitFor(nap, ['completed']);
    const events = await db.query<{ type: string }>(`select type from job_events where job_id = $1 order by seq`, [nap]);
    expect(events.rows.filter((e) => e.type === 'job.progress').length).toBeGreaterThan(0);
    const attempts = (await call('GET', `/v1/jobs/${flaky}/attempts`)).body.attempts;
    expect(attempts.map((a: any) => a.outcome)).toEqual(['failed', 'failed', 'completed']);
    expect(attempts.every((a: any) => typeof a.result_signature === 'string')).toBe(true);
    proc.kill('SIGTERM');
    expect(await exited(proc)).toBe(0);
  });

  it('a runner killed with SIGKILL mid-job: the lease expires, the job runs again elsewhere, one outcome', async () => {
    const a = await startRunner(await enroll('t1', 'doomed'));
    const id = await submit('sleep', { ms: 4000 });
    await waitFor(id, ['running']);
    a.proc.kill('SIGKILL');
    await exited(a.proc);
    const b = await startRunner(await enroll('t1', 'rescuer'));
    const done = await waitFor(id, ['completed', 'failed'], 30_000);
    expect(done.status).toBe('completed');
    const attempts = (await call('GET', `/v1/jobs/${id}/attempts`)).body.attempts;
    expect(attempts.map((x: any) => x.outcome)).toEqual(['lease_expired', 'completed']);
    expect(attempts[0].runner_id).not.toBe(attempts[1].runner_id);
    const completions = await db.query<{ n: number }>(
      `select count(*)::int as n from job_events where job_id = $1 and type = 'job.completed'`,
      [id],
    );
    expect(completions.rows[0]!.n).toBe(1);
    b.proc.kill('SIGTERM');
    expect(await exited(b.proc)).toBe(0);
  });

  it('cancellation of a running job reaches the runner and stops it', async () => {
    const r = await startRunner(await enroll('t1', 'cancel'), ['--metrics-port', '0']);
    const id = await submit('sleep', { ms: 30_000 });
    await waitFor(id, ['running']);
    await sleep(300);
    const t0 = Date.now();
    await call('POST', `/v1/jobs/${id}/cancel`);
    const done = await waitFor(id, ['cancelled', 'completed', 'failed'], 10_000);
    expect(done.status).toBe('cancelled');
    expect(Date.now() - t0).toBeLessThan(10_000);
    r.proc.kill('SIGTERM');
    expect(await exited(r.proc)).toBe(0);
  });

  it('SIGTERM drains: a short job finishes and the runner exits 0; an unfinished one is handed back at once', async () => {
    const r = await startRunner(await enroll('t1', 'drain'), ['--drain-timeout-ms', '3000']);
    const short = await submit('sleep', { ms: 800 });
    await waitFor(short, ['running']);
    r.proc.kill('SIGTERM');
    expect(await exited(r.proc)).toBe(0);
    expect((await waitFor(short, ['completed'], 1_000)).status).toBe('completed');

    const r2 = await startRunner(await enroll('t1', 'drain2'), ['--drain-timeout-ms', '200']);
    const long = await submit('sleep', { ms: 20_000 });
    await waitFor(long, ['running']);
    const t0 = Date.now();
    r2.proc.kill('SIGTERM');
    expect(await exited(r2.proc)).toBe(0);
    // handed back: queued again well before the 1.5 s lease would have run out
    const back = await waitFor(long, ['queued'], 1_000).catch(async (err: Error) => {
      const attempts = (await call('GET', `/v1/jobs/${long}/attempts`)).body;
      const events = await db.query(`select type, data from job_events where job_id = $1 order by seq`, [long]);
      throw new Error(
        `${err.message}\nrunner ${JSON.stringify(r2.output())}\nattempts ${JSON.stringify(attempts)}\nevents ${JSON.stringify(events.rows)}`,
      );
    });
    expect(back.status).toBe('queued');
    expect(Date.now() - t0).toBeLessThan(1_500 + 1_000);
    await call('POST', `/v1/jobs/${long}/cancel`);
  });

  it('a runner enrolled for tenant t1 never receives a job of tenant t2 or of a type it did not register', async () => {
    const r = await startRunner(await enroll('t1', 'scoped'));
    const other = await submit('echo', { secret: 't2-data' }, 't2');
    const unregistered = await submit('admin.task', { x: 1 }, 't1');
    const mine = await submit('echo', { ok: true }, 't1');
    await waitFor(mine, ['completed']);
    await sleep(1_000);
    expect((await call('GET', `/v1/jobs/${other}`, undefined, 't2')).body.status).toBe('queued');
    expect((await call('GET', `/v1/jobs/${unregistered}`)).body.status).toBe('queued');
    expect(r.output()).not.toContain('t2-data');
    r.proc.kill('SIGTERM');
    await exited(r.proc);
    await call('POST', `/v1/jobs/${unregistered}/cancel`);
    await call('POST', `/v1/jobs/${other}/cancel`, undefined, 't2');
  });

  it('serves health and Prometheus metrics locally', async () => {
    const r = await startRunner(await enroll('t1', 'metrics'), ['--metrics-port', '0']);
    const url = /health and metrics at (http:\/\/127\.0\.0\.1:\d+)/.exec(r.output())?.[1];
    expect(url).toBeDefined();
    const id = await submit('echo', { m: 1 });
    await waitFor(id, ['completed']);
    await sleep(100);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/controlplane_runner_jobs_completed_total\{runner="[^"]+"\} [1-9]/);
    expect(metrics).toContain('controlplane_runner_claim_latency_ms_bucket');
    const health = (await (await fetch(`${url}/health`)).json()) as { status: string; service: string };
    expect(health).toMatchObject({
      status: 'healthy',
      service: 'runner',
      checks: expect.arrayContaining([
        { name: 'sandbox', status: 'healthy', message: expect.stringMatching(/^confinement strict: namespaces, permission-model/) },
      ]),
    });
    r.proc.kill('SIGTERM');
    await exited(r.proc);
  });

  it('says loudly in /health when it runs with a weaker confinement than strict, accepted by its configuration', async () => {
    const r = await startRunner(await enroll('t1', 'weaker'), ['--metrics-port', '0', '--confinement', 'permissions']);
    const url = /health and metrics at (http:\/\/127\.0\.0\.1:\d+)/.exec(r.output())?.[1];
    const health = (await (await fetch(`${url}/health`)).json()) as { checks: Array<{ name: string; status: string; message?: string }> };
    expect(health.checks.find((c) => c.name === 'sandbox')).toMatchObject({
      status: 'degraded',
      message: expect.stringMatching(/^confinement permissions: permission-model/),
    });
    expect(r.output()).toMatch(/"confinement":"permissions"/);
    r.proc.kill('SIGTERM');
    await exited(r.proc);
  });

  const runCli = (args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      p.on('exit', (status) => resolve({ status, stdout, stderr }));
    });

  it('enrols through the CLI; a reused join token is refused with exit code 5', async () => {
    const tok = await call('POST', '/v1/join-tokens', {});
    const dir = join(work, 'cli-enrol');
    const args = [
      'runner',
      'enroll',
      '--join-token',
      tok.body.token,
      '--jobforge',
      jf.enrollUrl,
      '--ca',
      join(pki.dir, 'ca.crt'),
      '--dir',
      dir,
      '--name',
      'cli',
    ];
    // Asynchronous spawns: JobForge runs in this process and must keep answering meanwhile.
    const first = await runCli(args);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain(`spiffe://${TRUST_DOMAIN}/runner/`);
    const again = await runCli([...args.slice(0, -4), '--dir', join(work, 'cli-enrol-2')]);
    expect(again.status).toBe(5);
    expect(again.stderr).toContain('join token is not valid');
  });

  it('scaffolds a runner project whose own test passes out of the box', () => {
    const made = spawnSync(process.execPath, [CLI, 'runner', 'init', 'hello-runner', '--dir', work], { encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(0);
    const tested = spawnSync(process.execPath, ['--test'], { cwd: join(work, 'hello-runner'), encoding: 'utf8' });
    expect(tested.status, tested.stdout + tested.stderr).toBe(0);
    expect(tested.stdout).toMatch(/pass 2/);
  });
});
