#!/usr/bin/env node
// `npm run bench`: the whole JobForge path on real PostgreSQL and Redis with mTLS on — submit
// through the service API, and again through a gateway with an API key as users do; take work
// (claims, or a dispatch stream as the runner agent does) and complete it through the runner
// protocol with a no-op runner — and BullMQ with the same workload on the same Redis for
// comparison. Prints a table and, as its last line, one JSON object with the figures.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Redis } from 'ioredis';
import { buildSpiffeId, createMtlsAgent, expectOk, initPki, loadTlsMaterial, requestJson, servicePkiFiles } from '@controlplane/platform';
import { cpuPerJob, cpuSnapshot, fmtCpu } from './bench/cpu.mjs';
import { pct, round } from './bench/stats.mjs';
import { benchBullmq } from './bench/bullmq.mjs';
import { claimLoop, claimStats, dispatchLoop, enrollNoopRunner, signedCompletions } from './bench/noop-runner.mjs';

const TRUST_DOMAIN = 'bench.controlplane.local';
const DRAIN_JOBS = Number(process.env.BENCH_DRAIN_JOBS ?? 50_000);
const DRAIN_LOOPS = Number(process.env.BENCH_DRAIN_LOOPS ?? 4);
const DRAIN_MAX = Number(process.env.BENCH_DRAIN_MAX ?? 250);
const STEADY_RATE = Number(process.env.BENCH_RATE ?? 1000);
const STEADY_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
// Seconds at the steady rate before the measured ones: connections are opened and code paths
// compiled then, and their latencies are reported apart, not in the steady figures.
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const BIG_BACKLOG = Number(process.env.BENCH_BIG_BACKLOG ?? 100_000);
// How the steady phases' runner takes work: 'stream' (a dispatch stream, as the runner agent does) or 'poll' (claims).
const INTAKE = process.env.BENCH_INTAKE ?? 'stream';
// BENCH_PHASES limits a diagnostic run to some of: drain, steady, gateway, claim, bullmq (default: all).
const PHASES = new Set((process.env.BENCH_PHASES ?? 'drain,steady,gateway,claim,bullmq').split(',').map((s) => s.trim()));
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PG_BASE =
  process.env.BENCH_DATABASE_URL ?? `postgres://${encodeURIComponent(process.env.PGUSER ?? userInfo().username)}@127.0.0.1:5432/postgres`;

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

// ------------------------------------------------------------------ setup
const work = mkdtempSync(join(tmpdir(), 'cp-bench-'));
await initPki({ dir: work, trustDomain: TRUST_DOMAIN });
const dbName = `cp_bench_${process.pid}`;
const admin = new pg.Client({ connectionString: PG_BASE });
await admin.connect();
// JobForge connects as a role that is neither superuser nor BYPASSRLS, as in production, so the
// figures include row-level security. Roles are cluster-wide: made once, tolerated if present.
const SERVICE_ROLE = 'cp_bench_service';
await admin.query(
  `do $$ begin create role ${SERVICE_ROLE} login nosuperuser nobypassrls; exception when duplicate_object or unique_violation then null; end $$`,
);
await admin.query(`create database ${dbName} owner ${SERVICE_ROLE}`);
const adminDbUrl = new URL(PG_BASE);
adminDbUrl.pathname = `/${dbName}`;
const dbUrl = new URL(adminDbUrl);
dbUrl.username = SERVICE_ROLE;
const prefix = `bench:${process.pid}`;

const serviceEnv = {
  ...process.env,
  BENCH_DATABASE_URL: dbUrl.toString(),
  BENCH_REDIS_URL: REDIS_URL,
  BENCH_REDIS_PREFIX: prefix,
  BENCH_PKI_DIR: work,
  BENCH_TRUST_DOMAIN: TRUST_DOMAIN,
};
const server = spawn(
  process.execPath,
  [
    ...(process.env.BENCH_JOBFORGE_NODE_ARGS ?? '').split(' ').filter(Boolean),
    new URL('./bench/jobforge-process.mjs', import.meta.url).pathname,
  ],
  { env: serviceEnv, stdio: ['ignore', 'pipe', 'inherit'] },
);
// A bench that dies on an error must not leave its services running (they hold its stdout open).
const children = [server];
process.on('exit', () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));
const { url, enrollUrl } = await new Promise((resolve, reject) => {
  createInterface({ input: server.stdout }).once('line', (l) => resolve(JSON.parse(l)));
  server.once('exit', (c) => reject(new Error(`jobforge exited ${c}`)));
});
log(`jobforge at ${url}`);

const gw = createMtlsAgent(loadTlsMaterial(servicePkiFiles(work, 'gateway')), {
  trustDomain: TRUST_DOMAIN,
  expectedServerId: buildSpiffeId(TRUST_DOMAIN, 'service', 'jobforge'),
  keepAlive: true,
  maxSockets: 128,
});
const tenantHeaders = (tenant) => ({ 'x-cp-tenant': tenant, 'x-cp-actor': `apikey:${tenant}` });
// Submissions carry their job id, so re-sending one after a transport error is idempotent (a
// kept-alive socket the server has just closed answers ECONNRESET).
const gwPost = async (path, body, tenant = 'bench') => {
  for (let attempt = 1; ; attempt++) {
    try {
      return expectOk(
        await requestJson({ url: `${url}${path}`, method: 'POST', body, agent: gw, headers: tenantHeaders(tenant), timeoutMs: 120_000 }),
      );
    } catch (err) {
      if (err?.code !== 'SERVICE_UNAVAILABLE' || attempt >= 3) throw err;
    }
  }
};

const appDb = new pg.Client({ connectionString: adminDbUrl.toString() });
await appDb.connect();
await appDb.query(`insert into tenants (id, name) values ('bench', 'Benchmark'), ('bench-small', 'Benchmark, small backlog')`);

const runnerSetup = { url, enrollUrl, work, trustDomain: TRUST_DOMAIN, serviceCall: gwPost };
const runner = await enrollNoopRunner(runnerSetup, 'bench');
const enrollRunner = (tenant) => enrollNoopRunner(runnerSetup, tenant);
/**
 * JobForge closes a connection idle for 5 s; a request written to such a socket just as the
 * server closes it fails with ECONNRESET. Before each phase (after the idle gap of the one
 * before) the runner's and the submitter's idle connections are dropped and made anew.
 */
const freshConnections = () => {
  runner.agent.destroy();
  gw.destroy();
};

const jobBody = (id) => ({
  id,
  type: 'noop',
  payload: { type: 'noop', data: { n: 1 } },
  metadata: { source: 'bench', createdAt: new Date().toISOString() },
});

/** `n` jobs in batches of 500, four batches at a time, through `post` (JobForge's service API or the gateway). */
async function submitBacklog(n, tenant = 'bench', post = (path, body) => gwPost(`/v1${path}`, body, tenant)) {
  const batch = 500;
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const count = Math.min(batch, n - next);
      next += count;
      await post('/jobs/batch', { jobs: Array.from({ length: count }, () => jobBody(randomUUID())) });
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

const results = {};
const services = { jobforge: server.pid };

// ------------------------------------------------------------------ ControlPlane: drain
if (PHASES.has('drain')) {
  log(`submitting ${DRAIN_JOBS} jobs`);
  const submitStart = performance.now();
  await submitBacklog(DRAIN_JOBS);
  const submitPerS = DRAIN_JOBS / ((performance.now() - submitStart) / 1000);
  log(`submitted at ${Math.round(submitPerS)} jobs/s; draining`);
  freshConnections();
  {
    let done = 0;
    const drainStart = performance.now();
    const cpu0 = cpuSnapshot(services);
    await Promise.all(
      Array.from({ length: DRAIN_LOOPS }, () =>
        claimLoop(runner, { max: DRAIN_MAX, waitMs: 0, stop: () => done >= DRAIN_JOBS, onDone: () => done++ }),
      ),
    );
    results.drain_jobs_per_s = round(DRAIN_JOBS / ((performance.now() - drainStart) / 1000), 0);
    results.submit_batch_jobs_per_s = round(submitPerS, 0);
    results.drain_cpu_us_per_job = cpuPerJob(cpu0, cpuSnapshot(services), DRAIN_JOBS);
    log(`drained at ${results.drain_jobs_per_s} jobs/s; CPU µs per job: ${fmtCpu(results.drain_cpu_us_per_job)}`);
  }
}

/**
 * Submits single jobs at STEADY_RATE through `submit(body)` for the warm-up and the measured
 * seconds while the runner completes them; latency is from the submission to the completion
 * recorded (the outcome acknowledged).
 */
async function steadyPhase(label, submit) {
  const started = new Map();
  const acked = new Map();
  const claimedAt = new Map();
  const lat = [];
  const warmupLat = [];
  const submitMs = [];
  const waitMsSeg = [];
  const runMsSeg = [];
  let stopped = false;
  const onClaimed = (id, t) => {
    claimedAt.set(id, t);
    const a = acked.get(id);
    if (a !== undefined) waitMsSeg.push(t - a);
  };
  // Latencies by the second the job was submitted in (the warm-up's first): a start-up transient
  // shows in the first ones.
  const bySecond = [];
  let begin = performance.now();
  const onDone = (id, t) => {
    const s = started.get(id);
    if (s !== undefined) {
      (s - begin < WARMUP_SECONDS * 1000 ? warmupLat : lat).push(t - s);
      (bySecond[Math.floor((s - begin) / 1000)] ??= []).push(t - s);
      started.delete(id);
    }
    const c = claimedAt.get(id);
    if (c !== undefined) runMsSeg.push(t - c);
    claimedAt.delete(id);
    acked.delete(id);
  };
  const stopStream = INTAKE === 'stream' ? dispatchLoop(runner, { credits: 200, onDone, onClaimed }) : undefined;
  const loops =
    INTAKE === 'stream'
      ? []
      : Array.from({ length: 2 }, () => claimLoop(runner, { max: 100, waitMs: 1000, stop: () => stopped, onDone, onClaimed }));
  const total = STEADY_RATE * (WARMUP_SECONDS + STEADY_SECONDS);
  const perTick = STEADY_RATE / 100;
  let sent = 0;
  begin = performance.now();
  const cpu0 = cpuSnapshot(services);
  claimStats.claims = 0;
  claimStats.jobs = 0;
  const inflight = new Set();
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - begin) / 1000) * STEADY_RATE) + perTick);
    while (sent < due) {
      const id = randomUUID();
      const t0 = performance.now();
      started.set(id, t0);
      const p = submit(jobBody(id))
        .then(() => {
          const t = performance.now();
          submitMs.push(t - t0);
          if (!claimedAt.has(id) && started.has(id)) acked.set(id, t);
        })
        .finally(() => inflight.delete(p));
      inflight.add(p);
      sent++;
    }
    await sleep(10);
  }
  await Promise.all(inflight);
  const deadline = performance.now() + 30_000;
  while (started.size > 0 && performance.now() < deadline) await sleep(20);
  const cpu = cpuPerJob(cpu0, cpuSnapshot(services), total);
  const perClaim = round(claimStats.jobs / Math.max(1, claimStats.claims), 1);
  stopped = true;
  stopStream?.();
  if (loops.length > 0) {
    // Wake the long-polls so the loops see the stop flag.
    await submit(jobBody(randomUUID()));
    await submit(jobBody(randomUUID()));
    await Promise.all(loops);
  }
  const p50 = round(pct(lat, 50));
  const p99 = round(pct(lat, 99));
  log(
    `  ${label} breakdown p50: submit answered ${round(pct(submitMs, 50))} ms, answered→leased ${round(pct(waitMsSeg, 50))} ms, leased→completion recorded ${round(pct(runMsSeg, 50))} ms`,
  );
  log(
    `  ${label} breakdown p99: submit answered ${round(pct(submitMs, 99))} ms, answered→leased ${round(pct(waitMsSeg, 99))} ms, leased→completion recorded ${round(pct(runMsSeg, 99))} ms`,
  );
  const warmupP99 = round(pct(warmupLat, 99));
  log(
    `  ${label} p50 / p99 by second of submission (the first ${WARMUP_SECONDS} the warm-up, p99 ${warmupP99} ms): ${bySecond.map((xs) => `${Math.round(pct(xs, 50))}/${Math.round(pct(xs, 99))}`).join(' ')} ms`,
  );
  log(
    `${label} steady ${STEADY_RATE}/s: p50 ${p50} ms, p99 ${p99} ms (${lat.length} jobs, ${perClaim} per lease batch); CPU µs per job: ${fmtCpu(cpu)}`,
  );
  return { p50, p99, samples: lat.length, warmupP99, cpu, perClaim };
}

// ------------------------------------------------------------------ ControlPlane: latency at a steady rate
if (PHASES.has('steady')) {
  freshConnections();
  const r = await steadyPhase('direct', (body) => gwPost('/v1/jobs', body));
  results.steady_cpu_us_per_job = r.cpu;
  results.steady_jobs_per_claim = r.perClaim;
  results.latency_p50_ms = r.p50;
  results.latency_p99_ms = r.p99;
  results.latency_samples = r.samples;
  results.warmup_latency_p99_ms = r.warmupP99;
}

// ------------------------------------------------------------------ ControlPlane: the same through the gateway
if (PHASES.has('gateway')) {
  const gateway = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean),
      new URL('./bench/gateway-process.mjs', import.meta.url).pathname,
    ],
    {
      env: { ...serviceEnv, BENCH_JOBFORGE_URL: url, BENCH_TENANT: 'bench' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(gateway);
  const { url: gatewayUrl, apiKey } = await new Promise((resolve, reject) => {
    createInterface({ input: gateway.stdout }).once('line', (l) => resolve(JSON.parse(l)));
    gateway.once('exit', (c) => reject(new Error(`gateway exited ${c}`)));
  });
  log(`gateway at ${gatewayUrl}`);
  services.gateway = gateway.pid;
  // A client as users run one: HTTPS with the CA, keep-alive, an API key.
  const client = new Agent({ ca: readFileSync(join(work, 'ca.crt'), 'utf8'), keepAlive: true, maxSockets: 128 });
  const viaGateway = async (path, body) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return expectOk(
          await requestJson({
            url: `${gatewayUrl}${path}`,
            method: 'POST',
            body,
            agent: client,
            headers: { authorization: `Bearer ${apiKey}` },
            timeoutMs: 120_000,
          }),
        );
      } catch (err) {
        // As the client does: a retryable refusal (shed load, an upstream briefly away) is tried again.
        if (!err?.retryable || attempt >= 5) throw err;
        await sleep(Math.min(1000, (err.retryAfter ?? 0.1) * 1000));
      }
    }
  };
  freshConnections();
  const r = await steadyPhase('gateway', (body) => viaGateway('/jobs', body));
  results.gateway_latency_p50_ms = r.p50;
  results.gateway_latency_p99_ms = r.p99;
  results.gateway_latency_samples = r.samples;
  results.gateway_steady_cpu_us_per_job = r.cpu;

  // Submitted through the gateway in batches while the runner drains: jobs/s to the last completion.
  freshConnections();
  let done = 0;
  const t0 = performance.now();
  const cpu0 = cpuSnapshot(services);
  const loops = Array.from({ length: DRAIN_LOOPS }, () =>
    claimLoop(runner, { max: DRAIN_MAX, waitMs: 200, stop: () => done >= DRAIN_JOBS, onDone: () => done++ }),
  );
  await submitBacklog(DRAIN_JOBS, 'bench', viaGateway);
  await Promise.all(loops);
  results.gateway_drain_jobs_per_s = round(DRAIN_JOBS / ((performance.now() - t0) / 1000), 0);
  results.gateway_drain_cpu_us_per_job = cpuPerJob(cpu0, cpuSnapshot(services), DRAIN_JOBS);
  log(
    `gateway: ${DRAIN_JOBS} jobs submitted in batches and drained at ${results.gateway_drain_jobs_per_s} jobs/s; CPU µs per job: ${fmtCpu(results.gateway_drain_cpu_us_per_job)}`,
  );
  client.destroy();
  delete services.gateway;
  gateway.kill('SIGTERM');
  await new Promise((r) => gateway.once('exit', r));
}

// ------------------------------------------------------------------ ControlPlane: claim latency vs backlog
/**
 * Claim latency (one job, no waiting) with a 1k and a 100k backlog. Both backlogs exist at once, in
 * two tenants with a runner each, and the two runners' claims alternate: this machine's speed drifts
 * by tens of per cent from one minute to the next, so figures taken a minute apart could differ by as
 * much as the backlog could make them. The jobs table holds both backlogs.
 */
async function claimP50Pair(small, big, samples = 300) {
  const xs = new Map([
    [small, []],
    [big, []],
  ]);
  const envs = new Map([
    [small, []],
    [big, []],
  ]);
  for (let i = 0; i < samples; i++) {
    for (const r of i % 2 === 0 ? [small, big] : [big, small]) {
      const t = performance.now();
      const res = await r.post('/runner/v1/claim', { max: 1, waitMs: 0 });
      xs.get(r).push(performance.now() - t);
      envs.get(r).push(...res.jobs);
    }
  }
  // complete what was taken, so the backlogs are left as they were found, minus these
  for (const r of [small, big]) {
    const taken = envs.get(r);
    for (let i = 0; i < taken.length; i += 250)
      await r.post('/runner/v1/outcomes', { completions: signedCompletions(taken.slice(i, i + 250), r.key) });
  }
  return [round(pct(xs.get(small), 50), 3), round(pct(xs.get(big), 50), 3)];
}
/**
 * After a bulk insert PostgreSQL's autovacuum and JobForge's periodic reconciliation run for a
 * while; claim latency is measured once they have settled, as it would be in steady operation
 * (BENCH_SETTLE_MS, default 15 s; 0 measures straight away).
 */
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 15_000);
async function settle() {
  const deadline = performance.now() + SETTLE_MS;
  while (performance.now() < deadline) {
    const busy = await admin.query(
      `select count(*)::int as n from pg_stat_activity where datname = $1 and backend_type = 'autovacuum worker'`,
      [dbName],
    );
    if (busy.rows[0].n === 0 && performance.now() > deadline - SETTLE_MS + 2_000) break;
    await sleep(250);
  }
}
if (PHASES.has('claim')) {
  const small = await enrollRunner('bench-small');
  await submitBacklog(1_000, 'bench-small');
  await submitBacklog(BIG_BACKLOG, 'bench');
  await settle();
  freshConnections();
  [results.claim_p50_ms_backlog_1k, results.claim_p50_ms_backlog_100k] = await claimP50Pair(small, runner);
  small.agent.destroy();
  small.client.close();
  log(`claim p50: ${results.claim_p50_ms_backlog_1k} ms at 1k, ${results.claim_p50_ms_backlog_100k} ms at 100k (alternating)`);
}

// ------------------------------------------------------------------ BullMQ, same workload, same Redis
if (PHASES.has('bullmq') && !process.env.BENCH_SKIP_BULLMQ) {
  Object.assign(
    results,
    await benchBullmq({
      redisUrl: REDIS_URL,
      drainJobs: DRAIN_JOBS,
      rate: STEADY_RATE,
      warmupSeconds: WARMUP_SECONDS,
      steadySeconds: STEADY_SECONDS,
      bigBacklog: BIG_BACKLOG,
      log,
    }),
  );
}

// ------------------------------------------------------------------ report and clean up
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));
gw.destroy();
runner.agent.destroy();
runner.client.close();
await appDb.end();
if (process.env.BENCH_KEEP_DB) log(`kept database ${dbName}`);
else await admin.query(`drop database if exists ${dbName} with (force)`);
await admin.end();
{
  const r = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length) await r.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  await r.quit();
}
rmSync(work, { recursive: true, force: true });

const rows = [
  ['drain, 50k pre-submitted (jobs/s)', results.drain_jobs_per_s, results.bullmq_drain_jobs_per_s, '>= 0.6x BullMQ'],
  [`latency p50 at ${STEADY_RATE}/s (ms)`, results.latency_p50_ms, results.bullmq_latency_p50_ms, ''],
  [`latency p99 at ${STEADY_RATE}/s (ms)`, results.latency_p99_ms, results.bullmq_latency_p99_ms, '<= 2x BullMQ'],
  [`  through the gateway, p50 (ms)`, results.gateway_latency_p50_ms, results.bullmq_latency_p50_ms, '<= 10'],
  [`  through the gateway, p99 (ms)`, results.gateway_latency_p99_ms, results.bullmq_latency_p99_ms, '<= 2x BullMQ'],
  ['drain, submitted through the gateway (jobs/s)', results.gateway_drain_jobs_per_s, results.bullmq_drain_jobs_per_s, ''],
  ['CPU per job at the steady rate, all (µs)', results.steady_cpu_us_per_job?.all, '', '<= 800'],
  ['claim p50, 1k backlog (ms)', results.claim_p50_ms_backlog_1k, results.bullmq_claim_p50_ms_backlog_1k, ''],
  ['claim p50, 100k backlog (ms)', results.claim_p50_ms_backlog_100k, results.bullmq_claim_p50_ms_backlog_100k, '<= 1.5x of 1k'],
];
console.log('');
console.log(`${'metric'.padEnd(46)} ${'ControlPlane'.padStart(14)} ${'BullMQ'.padStart(10)}   target`);
for (const [m, a, b, t] of rows) console.log(`${m.padEnd(46)} ${String(a).padStart(14)} ${String(b).padStart(10)}   ${t}`);
console.log(
  `(ControlPlane: mTLS, signed envelopes and results, PostgreSQL system of record; batch submit ${results.submit_batch_jobs_per_s} jobs/s)`,
);
console.log(JSON.stringify(results));
