#!/usr/bin/env node
// `npm run bench:user`: what a user feels. `controlplane dev` on real PostgreSQL and Redis (gateway,
// JobForge and TruthCore over mTLS, the demo runner with the `echo` handler in its warm, confined
// pool), driven by the TypeScript client as users drive it: submit through the gateway with an API
// key, then `jobs.wait` until the job is done. Beside it, BullMQ with a sandboxed processor (reused
// child processes, the same concurrency as the echo handler) on the same Redis, timed the same way:
// add, then `waitUntilFinished`. Phases: sequential submit → completed; an open loop at fixed rates;
// the highest rate whose p99 stays within 100 ms; and how long `controlplane --help` takes.
// Prints a table and, last, one JSON line.
//
// BENCH_SEQ_JOBS (300), BENCH_RATES (50,200,500), BENCH_OPEN_SECONDS (10), BENCH_MAX_RATES
// (25,50,100,150,200,300,400,500,700), BENCH_STEP_SECONDS (4), BENCH_CONFINEMENT (strict),
// BENCH_SKIP_BULLMQ, BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_DEV_NODE_ARGS (e.g. `--cpu-prof`).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { ControlPlaneClient, readKeyFile } from '@controlplane/client';

const env = process.env;
const SEQ_JOBS = Number(env.BENCH_SEQ_JOBS ?? 300);
const RATES = (env.BENCH_RATES ?? '50,200,500').split(',').map(Number);
const OPEN_SECONDS = Number(env.BENCH_OPEN_SECONDS ?? 10);
const MAX_RATES = (env.BENCH_MAX_RATES ?? '25,50,100,150,200,300,400,500,700').split(',').map(Number);
const STEP_SECONDS = Number(env.BENCH_STEP_SECONDS ?? 4);
const CONFINEMENT = env.BENCH_CONFINEMENT ?? 'strict';
const REDIS_URL = env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PG_BASE = env.BENCH_DATABASE_URL ?? `postgres://${encodeURIComponent(env.PGUSER ?? userInfo().username)}@127.0.0.1:5432/postgres`;
const ECHO_CONCURRENCY = 4; // the demo echo handler's concurrency (packages/runner/demo/handlers.mjs)
const CLI = fileURLToPath(new URL('../packages/cli/dist/bin.js', import.meta.url));
const P99_BOUND_MS = 100;

const log = (msg) => process.stderr.write(`[bench:user] ${msg}\n`);
const round = (x, d = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null);
const pct = (xs, p) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

// ------------------------------------------------------------------ the two systems, behind one shape

/** `controlplane dev` as a user starts it, on a database and Redis prefix of its own. */
async function startControlPlane() {
  const db = `cp_bench_user_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_BASE });
  await admin.connect();
  await admin.query(`create database ${db}`);
  await admin.end();
  const dataDir = mkdtempSync(join(tmpdir(), 'cp-bench-user-'));
  const url = new URL(PG_BASE);
  url.pathname = `/${db}`;
  const child = spawn(
    process.execPath,
    [
      ...(env.BENCH_DEV_NODE_ARGS ?? '').split(' ').filter(Boolean),
      CLI,
      'dev',
      '--data-dir',
      dataDir,
      '--skip-demo',
      '--runner-confinement',
      CONFINEMENT,
      '--log-level',
      'warn',
      '--gateway-port',
      '0',
      '--jobforge-port',
      '0',
      '--truthcore-port',
      '0',
      '--enroll-port',
      '0',
    ],
    {
      env: {
        PATH: env.PATH,
        HOME: env.HOME,
        DATABASE_URL: url.toString(),
        REDIS_URL,
        CONTROLPLANE_REDIS_KEY_PREFIX: `cpbench${randomBytes(3).toString('hex')}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stderr.on('data', (c) => (out += c));
  const gateway = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`controlplane dev did not start:\n${out}`)), 90_000);
    child.stdout.on('data', (c) => {
      out += c;
      const m = /ControlPlane is running\. gateway: (https:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`controlplane dev exited (${code}):\n${out}`)));
  });
  const client = new ControlPlaneClient({
    url: gateway,
    ca: readFileSync(join(dataDir, 'pki', 'ca.crt')),
    ...readKeyFile(join(dataDir, 'admin-key.json')),
  });
  return {
    name: 'ControlPlane',
    pid: child.pid,
    async run(data) {
      const job = await client.jobs.submit({ type: 'echo', data });
      const done = await client.jobs.wait(job.id);
      if (done.status !== 'completed') throw new Error(`job ${job.id} ended ${done.status}`);
    },
    async close() {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
      const a = new pg.Client({ connectionString: PG_BASE });
      await a.connect();
      await a.query(`drop database if exists ${db} with (force)`);
      await a.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** BullMQ with a sandboxed processor: child processes, reused, as many as the echo handler's concurrency. */
async function startBullmq() {
  const prefix = `bench-user-bull-${process.pid}`;
  const connections = [];
  const connect = () => {
    const c = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    connections.push(c);
    return c;
  };
  const queue = new Queue('echo', { connection: connect(), prefix });
  const events = new QueueEvents('echo', { connection: connect(), prefix });
  await events.waitUntilReady();
  const processor = fileURLToPath(new URL('./bench/bullmq-echo.cjs', import.meta.url));
  const worker = new Worker('echo', processor, { connection: connect(), prefix, concurrency: ECHO_CONCURRENCY, useWorkerThreads: false });
  await worker.waitUntilReady();
  return {
    name: 'BullMQ',
    async run(data) {
      const job = await queue.add('echo', data, { removeOnComplete: 1000, removeOnFail: 1000 });
      await job.waitUntilFinished(events, 30_000);
    },
    async close() {
      await worker.close();
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
      await Promise.all(connections.map((c) => c.quit().catch(() => undefined)));
    },
  };
}

// ------------------------------------------------------------------ phases

async function sequential(sys, n) {
  const lat = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await sys.run({ i });
    lat.push(performance.now() - t0);
  }
  return lat;
}

/** Submits at `rate` jobs/s for `seconds` whatever happens to earlier ones; latency from each job's scheduled time. */
async function openLoop(sys, rate, seconds) {
  const total = Math.round(rate * seconds);
  const lat = [];
  let errors = 0;
  const pending = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    pending.push(
      sys.run({ i }).then(
        () => lat.push(performance.now() - due),
        () => errors++,
      ),
    );
  }
  const submittedFor = (performance.now() - start) / 1000;
  await Promise.race([Promise.all(pending), sleep(60_000)]);
  const unfinished = total - lat.length - errors;
  return { rate, lat, errors: errors + unfinished, achieved: total / submittedFor };
}

async function maxRate(sys) {
  let best = 0;
  for (const rate of MAX_RATES) {
    const r = await openLoop(sys, rate, STEP_SECONDS);
    const p99 = pct(r.lat, 99);
    log(`${sys.name} at ${rate}/s: p99 ${round(p99)} ms, ${r.errors} errors`);
    if (r.errors > 0 || !(p99 <= P99_BOUND_MS) || r.achieved < rate * 0.9) break;
    best = rate;
    await sleep(1000);
  }
  return best;
}

async function measure(sys, prefix) {
  const out = {};
  log(`${sys.name}: warming up`);
  await sequential(sys, 50);
  const seq = await sequential(sys, SEQ_JOBS);
  out[`${prefix}seq_p50_ms`] = round(pct(seq, 50));
  out[`${prefix}seq_p99_ms`] = round(pct(seq, 99));
  log(`${sys.name}: sequential p50 ${out[`${prefix}seq_p50_ms`]} ms, p99 ${out[`${prefix}seq_p99_ms`]} ms`);
  for (const rate of RATES) {
    await sleep(1000);
    const r = await openLoop(sys, rate, OPEN_SECONDS);
    out[`${prefix}open_p50_ms_${rate}`] = round(pct(r.lat, 50));
    out[`${prefix}open_p99_ms_${rate}`] = round(pct(r.lat, 99));
    out[`${prefix}open_errors_${rate}`] = r.errors;
    log(
      `${sys.name}: ${rate}/s p50 ${out[`${prefix}open_p50_ms_${rate}`]} ms, p99 ${out[`${prefix}open_p99_ms_${rate}`]} ms, ${r.errors} errors`,
    );
  }
  await sleep(1000);
  out[`${prefix}max_rate_p99_100ms`] = await maxRate(sys);
  return out;
}

function cliHelpMs() {
  const times = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [CLI, '--help'], { stdio: 'ignore' });
    if (r.status !== 0) throw new Error('controlplane --help failed');
    times.push(performance.now() - t0);
  }
  return round(pct(times, 50));
}

// ------------------------------------------------------------------ run

const results = { confinement: CONFINEMENT };
results.cli_help_ms = cliHelpMs();
log(`controlplane --help: ${results.cli_help_ms} ms (median of 10)`);

const cp = await startControlPlane();
try {
  Object.assign(results, await measure(cp, ''));
} finally {
  await cp.close();
}
if (!env.BENCH_SKIP_BULLMQ) {
  const bull = await startBullmq();
  try {
    Object.assign(results, await measure(bull, 'bullmq_'));
  } finally {
    await bull.close();
  }
}

const rows = [
  ['sequential p50 (ms)', 'seq_p50_ms'],
  ['sequential p99 (ms)', 'seq_p99_ms'],
];
for (const rate of RATES)
  rows.push(
    [`${rate}/s p50 (ms)`, `open_p50_ms_${rate}`],
    [`${rate}/s p99 (ms)`, `open_p99_ms_${rate}`],
    [`${rate}/s errors`, `open_errors_${rate}`],
  );
rows.push(['max rate with p99 ≤ 100 ms (jobs/s)', 'max_rate_p99_100ms']);
const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b > 0 ? `${round(a / b, 2)}×` : '');
console.log(`\n${'metric'.padEnd(38)} ${'ControlPlane'.padStart(13)} ${'BullMQ'.padStart(10)} ${'ratio'.padStart(8)}`);
for (const [label, key] of rows) {
  const a = results[key];
  const b = results[`bullmq_${key}`];
  console.log(`${label.padEnd(38)} ${String(a ?? '').padStart(13)} ${String(b ?? '').padStart(10)} ${ratio(a, b).padStart(8)}`);
}
console.log(`${'controlplane --help (ms)'.padEnd(38)} ${String(results.cli_help_ms).padStart(13)}`);
console.log(JSON.stringify(results));
