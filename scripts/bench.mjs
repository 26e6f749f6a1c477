#!/usr/bin/env node
// `npm run bench`: the whole JobForge path on real PostgreSQL and Redis with mTLS on — submit
// through the service API, claim and complete through the runner protocol by a no-op runner —
// and BullMQ with the same workload on the same Redis for comparison. Prints a table and, as its
// last line, one JSON object with the figures.
import { spawn } from 'node:child_process';
import { createPrivateKey, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import {
  buildSpiffeId,
  createKeyPairAndCsr,
  createMtlsAgent,
  expectOk,
  initPki,
  loadTlsMaterial,
  requestJson,
  resultDigest,
  servicePkiFiles,
  signJobResults,
} from '@controlplane/platform';

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
// BENCH_PHASES limits a diagnostic run to some of: drain, steady, claim, bullmq (default: all).
const PHASES = new Set((process.env.BENCH_PHASES ?? 'drain,steady,claim,bullmq').split(',').map((s) => s.trim()));
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PG_BASE =
  process.env.BENCH_DATABASE_URL ?? `postgres://${encodeURIComponent(process.env.PGUSER ?? userInfo().username)}@127.0.0.1:5432/postgres`;

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const pct = (xs, p) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/**
 * CPU time (ms) used so far by JobForge, this load generator, every PostgreSQL process and Redis,
 * read from /proc: where each job's CPU goes, printed beside the figures (Linux only).
 */
const TICK_MS = 10; // USER_HZ is 100 on Linux
function cpuSnapshot(serverPid) {
  // utime + stime, or only stime (time in the kernel: system calls, loopback TCP, TLS is not in it).
  const ticks = (pid, kernelOnly = false) => {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      return ((kernelOnly ? 0 : Number(rest[11])) + Number(rest[12])) * TICK_MS;
    } catch {
      return 0;
    }
  };
  // JobForge's read and write system calls (/proc/<pid>/io counts read(2)/write(2) and their vector forms)
  const syscalls = (pid) => {
    try {
      const io = readFileSync(`/proc/${pid}/io`, 'utf8');
      return Number(/syscr: (\d+)/.exec(io)?.[1] ?? 0) + Number(/syscw: (\d+)/.exec(io)?.[1] ?? 0);
    } catch {
      return 0;
    }
  };
  const out = {
    jobforge: ticks(serverPid),
    bench: ticks(process.pid),
    postgres: 0,
    redis: 0,
    jobforge_kernel: ticks(serverPid, true),
    jobforge_syscalls: syscalls(serverPid),
  };
  try {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      let comm;
      try {
        comm = readFileSync(`/proc/${d}/comm`, 'utf8').trim();
      } catch {
        continue;
      }
      if (comm === 'postgres') out.postgres += ticks(d);
      else if (comm === 'redis-server') out.redis += ticks(d);
    }
  } catch {
    /* not Linux */
  }
  return out;
}
const cpuPerJob = (a, b, jobs) =>
  Object.fromEntries(
    Object.keys(a).map((k) => [
      k,
      round(k.endsWith('_syscalls') ? (b[k] - a[k]) / jobs : ((b[k] - a[k]) * 1000) / jobs, k.endsWith('_syscalls') ? 1 : 0),
    ]),
  );
const fmtCpu = (c) =>
  Object.entries(c)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

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

const server = spawn(
  process.execPath,
  [
    ...(process.env.BENCH_JOBFORGE_NODE_ARGS ?? '').split(' ').filter(Boolean),
    new URL('./bench/jobforge-process.mjs', import.meta.url).pathname,
  ],
  {
    env: {
      ...process.env,
      BENCH_DATABASE_URL: dbUrl.toString(),
      BENCH_REDIS_URL: REDIS_URL,
      BENCH_REDIS_PREFIX: prefix,
      BENCH_PKI_DIR: work,
      BENCH_TRUST_DOMAIN: TRUST_DOMAIN,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
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

/** A no-op runner of `tenant`, enrolled for real (Ed25519 key: the cheapest signatures) and registered. */
async function enrollRunner(tenant) {
  const tok = await gwPost('/v1/join-tokens', {}, tenant);
  const { keyPem, csrPem } = await createKeyPairAndCsr({ commonName: `${tenant}-runner`, algorithm: 'Ed25519' });
  const enrolled = expectOk(
    await requestJson({
      url: `${enrollUrl}/enroll`,
      method: 'POST',
      body: { joinToken: tok.token, csr: csrPem, name: tenant },
      agent: new Agent({ ca: readFileSync(join(work, 'ca.crt'), 'utf8') }),
    }),
  );
  writeFileSync(join(work, `${tenant}.key`), keyPem, { mode: 0o600 });
  writeFileSync(join(work, `${tenant}.crt`), enrolled.certificatePem);
  const agent = createMtlsAgent(
    loadTlsMaterial({ caFile: join(work, 'ca.crt'), certFile: join(work, `${tenant}.crt`), keyFile: join(work, `${tenant}.key`) }),
    { trustDomain: TRUST_DOMAIN, expectedServerId: buildSpiffeId(TRUST_DOMAIN, 'service', 'jobforge'), keepAlive: true, maxSockets: 32 },
  );
  const post = async (path, body, timeoutMs = 60_000) =>
    expectOk(await requestJson({ url: `${url}${path}`, method: 'POST', body, agent, timeoutMs }));
  await post('/runner/v1/register', {
    name: tenant,
    version: '1.0.0',
    contractVersion: '1.0.0',
    capabilities: [{ id: 'noop', name: 'noop', version: '1.0.0', supportedJobTypes: ['noop'], maxConcurrency: 1000 }],
  });
  return { agent, key: createPrivateKey(keyPem), post };
}
const runner = await enrollRunner('bench');
const runnerAgent = runner.agent;
const rPost = runner.post;
/**
 * JobForge closes a connection idle for 5 s; a request written to such a socket just as the
 * server closes it fails with ECONNRESET. Before each phase (after the idle gap of the one
 * before) the runner's and the submitter's idle connections are dropped and made anew.
 */
const freshConnections = () => {
  runnerAgent.destroy();
  gw.destroy();
};

const jobBody = (id) => ({
  id,
  type: 'noop',
  payload: { type: 'noop', data: { n: 1 } },
  metadata: { source: 'bench', createdAt: new Date().toISOString() },
});

async function submitBacklog(n, tenant = 'bench') {
  const batch = 500;
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const count = Math.min(batch, n - next);
      next += count;
      await gwPost('/v1/jobs/batch', { jobs: Array.from({ length: count }, () => jobBody(randomUUID())) }, tenant);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

/** Outcomes for a claimed batch, signed together (one signature over their Merkle root). */
function signed(envs, key = runner.key) {
  const sigs = signJobResults(
    envs.map((env) => ({
      jobId: env.jobId,
      tenantId: env.tenantId,
      attempt: env.attempt,
      fencingToken: env.fencingToken,
      outcome: 'completed',
      resultDigest: resultDigest(null),
    })),
    key,
  );
  return envs.map((env, i) => ({
    jobId: env.jobId,
    leaseId: env.leaseId,
    fencingToken: env.fencingToken,
    attempt: env.attempt,
    type: env.type,
    data: null,
    signature: sigs[i],
  }));
}

/** A no-op runner loop: claim up to `max`, sign, report as one batch. */
const claimStats = { claims: 0, jobs: 0 };
async function runnerLoop({ max, waitMs, stop, onDone, onClaimed }) {
  while (!stop()) {
    const res = await rPost('/runner/v1/claim', { max, waitMs });
    claimStats.claims++;
    claimStats.jobs += res.jobs.length;
    if (res.jobs.length === 0) continue;
    if (onClaimed) {
      const t = performance.now();
      for (const j of res.jobs) onClaimed(j.jobId, t);
    }
    const out = await rPost('/runner/v1/outcomes', { completions: signed(res.jobs) });
    const t = performance.now();
    for (const r of out.results) if (r.ok) onDone(r.jobId, t);
  }
}

const results = {};

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
    const cpu0 = cpuSnapshot(server.pid);
    await Promise.all(
      Array.from({ length: DRAIN_LOOPS }, () =>
        runnerLoop({ max: DRAIN_MAX, waitMs: 0, stop: () => done >= DRAIN_JOBS, onDone: () => done++ }),
      ),
    );
    results.drain_jobs_per_s = round(DRAIN_JOBS / ((performance.now() - drainStart) / 1000), 0);
    results.submit_batch_jobs_per_s = round(submitPerS, 0);
    results.drain_cpu_us_per_job = cpuPerJob(cpu0, cpuSnapshot(server.pid), DRAIN_JOBS);
    log(`drained at ${results.drain_jobs_per_s} jobs/s; CPU µs per job: ${fmtCpu(results.drain_cpu_us_per_job)}`);
  }
}

// ------------------------------------------------------------------ ControlPlane: latency at a steady rate
if (PHASES.has('steady')) {
  freshConnections();
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
  let begin = performance.now();
  const loops = Array.from({ length: 2 }, () => runnerLoop({ max: 100, waitMs: 1000, stop: () => stopped, onDone, onClaimed }));
  const total = STEADY_RATE * (WARMUP_SECONDS + STEADY_SECONDS);
  const perTick = STEADY_RATE / 100;
  let sent = 0;
  begin = performance.now();
  const cpu0 = cpuSnapshot(server.pid);
  claimStats.claims = 0;
  claimStats.jobs = 0;
  const inflight = new Set();
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - begin) / 1000) * STEADY_RATE) + perTick);
    while (sent < due) {
      const id = randomUUID();
      const t0 = performance.now();
      started.set(id, t0);
      const p = gwPost('/v1/jobs', jobBody(id))
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
  results.steady_cpu_us_per_job = cpuPerJob(cpu0, cpuSnapshot(server.pid), total);
  results.steady_jobs_per_claim = round(claimStats.jobs / Math.max(1, claimStats.claims), 1);
  stopped = true;
  // Wake the long-polls so the loops see the stop flag.
  await gwPost('/v1/jobs', jobBody(randomUUID()));
  await gwPost('/v1/jobs', jobBody(randomUUID()));
  await Promise.all(loops);
  results.latency_p50_ms = round(pct(lat, 50));
  results.latency_p99_ms = round(pct(lat, 99));
  results.latency_samples = lat.length;
  log(
    `  breakdown p50: submit answered ${round(pct(submitMs, 50))} ms, answered→claimed ${round(pct(waitMsSeg, 50))} ms, claimed→completion recorded ${round(pct(runMsSeg, 50))} ms`,
  );
  log(
    `  breakdown p99: submit answered ${round(pct(submitMs, 99))} ms, answered→claimed ${round(pct(waitMsSeg, 99))} ms, claimed→completion recorded ${round(pct(runMsSeg, 99))} ms`,
  );
  results.warmup_latency_p99_ms = round(pct(warmupLat, 99));
  log(
    `  p50 / p99 by second of submission (the first ${WARMUP_SECONDS} the warm-up, p99 ${results.warmup_latency_p99_ms} ms): ${bySecond.map((xs) => `${Math.round(pct(xs, 50))}/${Math.round(pct(xs, 99))}`).join(' ')} ms`,
  );
  log(
    `steady ${STEADY_RATE}/s: p50 ${results.latency_p50_ms} ms, p99 ${results.latency_p99_ms} ms (${lat.length} jobs, ${results.steady_jobs_per_claim} per claim); CPU µs per job: ${fmtCpu(results.steady_cpu_us_per_job)}`,
  );
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
      await r.post('/runner/v1/outcomes', { completions: signed(taken.slice(i, i + 250), r.key) });
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
  log(`claim p50: ${results.claim_p50_ms_backlog_1k} ms at 1k, ${results.claim_p50_ms_backlog_100k} ms at 100k (alternating)`);
}

// ------------------------------------------------------------------ BullMQ, same workload, same Redis
if (PHASES.has('bullmq') && !process.env.BENCH_SKIP_BULLMQ) {
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  // A Worker does not close a connection it was handed: each is kept here and quit at the end.
  const workerConnections = [];
  const workerConnection = () => {
    const c = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    workerConnections.push(c);
    return c;
  };
  const bullPrefix = `bench-bull-${process.pid}`;
  const name = 'noop';
  const queue = new Queue(name, { connection, prefix: bullPrefix });
  const addBacklog = async (n) => {
    for (let i = 0; i < n; i += 1000)
      await queue.addBulk(
        Array.from({ length: Math.min(1000, n - i) }, () => ({ name, data: { n: 1 }, opts: { removeOnComplete: true } })),
      );
  };

  // drain
  await addBacklog(DRAIN_JOBS);
  let done = 0;
  const drainStart = performance.now();
  const drainWorker = new Worker(name, async () => null, { connection: workerConnection(), prefix: bullPrefix, concurrency: 200 });
  drainWorker.on('completed', () => done++);
  while (done < DRAIN_JOBS) await sleep(10);
  results.bullmq_drain_jobs_per_s = round(DRAIN_JOBS / ((performance.now() - drainStart) / 1000), 0);
  await drainWorker.close();
  log(`bullmq drained at ${results.bullmq_drain_jobs_per_s} jobs/s`);

  // latency at a steady rate
  // The same warm-up as ControlPlane's: jobs added in its first WARMUP_SECONDS are not counted.
  const lat = [];
  let finished = 0;
  const begin = performance.now();
  const measuredFrom = performance.timeOrigin + begin + WARMUP_SECONDS * 1000;
  const worker = new Worker(name, async (job) => job.data.t, { connection: workerConnection(), prefix: bullPrefix, concurrency: 100 });
  worker.on('completed', (job) => {
    finished++;
    if (job.data.at >= measuredFrom) lat.push(performance.timeOrigin + performance.now() - job.data.at);
  });
  const total = STEADY_RATE * (WARMUP_SECONDS + STEADY_SECONDS);
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - begin) / 1000) * STEADY_RATE) + STEADY_RATE / 100);
    const adds = [];
    while (sent < due) {
      adds.push(queue.add(name, { at: performance.timeOrigin + performance.now() }, { removeOnComplete: true }));
      sent++;
    }
    await Promise.all(adds);
    await sleep(10);
  }
  const deadline = performance.now() + 30_000;
  while (finished < total && performance.now() < deadline) await sleep(20);
  await worker.close();
  results.bullmq_latency_p50_ms = round(pct(lat, 50));
  results.bullmq_latency_p99_ms = round(pct(lat, 99));
  log(`bullmq steady: p50 ${results.bullmq_latency_p50_ms} ms, p99 ${results.bullmq_latency_p99_ms} ms`);

  // claim latency vs backlog: a manual worker's getNextJob
  const manual = new Worker(name, null, { connection: workerConnection(), prefix: bullPrefix });
  const bullClaim = async () => {
    const xs = [];
    for (let i = 0; i < 300; i++) {
      const token = randomUUID();
      const t = performance.now();
      const job = await manual.getNextJob(token, { block: false });
      xs.push(performance.now() - t);
      if (job) await job.moveToCompleted(null, token, false);
    }
    return round(pct(xs, 50), 3);
  };
  await addBacklog(1_000);
  results.bullmq_claim_p50_ms_backlog_1k = await bullClaim();
  await addBacklog(BIG_BACKLOG - 700);
  results.bullmq_claim_p50_ms_backlog_100k = await bullClaim();
  log(`bullmq claim p50: ${results.bullmq_claim_p50_ms_backlog_1k} ms at 1k, ${results.bullmq_claim_p50_ms_backlog_100k} ms at 100k`);
  await manual.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await connection.quit();
  for (const c of workerConnections) await c.quit();
}

// ------------------------------------------------------------------ report and clean up
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));
gw.destroy();
runnerAgent.destroy();
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
  ['drain, 50k pre-submitted (jobs/s)', results.drain_jobs_per_s, results.bullmq_drain_jobs_per_s, '>= 5000'],
  [`latency p50 at ${STEADY_RATE}/s (ms)`, results.latency_p50_ms, results.bullmq_latency_p50_ms, ''],
  [`latency p99 at ${STEADY_RATE}/s (ms)`, results.latency_p99_ms, results.bullmq_latency_p99_ms, '<= 50'],
  ['claim p50, 1k backlog (ms)', results.claim_p50_ms_backlog_1k, results.bullmq_claim_p50_ms_backlog_1k, ''],
  ['claim p50, 100k backlog (ms)', results.claim_p50_ms_backlog_100k, results.bullmq_claim_p50_ms_backlog_100k, '<= 1.5x of 1k'],
];
console.log('');
console.log(`${'metric'.padEnd(38)} ${'ControlPlane'.padStart(14)} ${'BullMQ'.padStart(10)}   target`);
for (const [m, a, b, t] of rows) console.log(`${m.padEnd(38)} ${String(a).padStart(14)} ${String(b).padStart(10)}   ${t}`);
console.log(
  `(ControlPlane: mTLS, signed envelopes and results, PostgreSQL system of record; batch submit ${results.submit_batch_jobs_per_s} jobs/s)`,
);
console.log(JSON.stringify(results));
