#!/usr/bin/env node
// The cost of field encryption on JobForge's hot path: the same submit → claim → complete workload
// through JobLifecycle (real PostgreSQL, Redis dispatch) with a JobStore without and with a cipher,
// in alternating rounds on one database. The HTTP and mTLS layers are left out, so the relative
// cost shown is an upper bound of what a client sees end to end. Build first (npm run build).
// Prints a table and, as its last line, one JSON object with the figures.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { createLogger, generateKeyringFile } from '@controlplane/platform';
import {
  createPostgresDatabase,
  createRedis,
  JobLifecycle,
  JobStore,
  JobTypeRegistry,
  migrate,
  openFieldEncryption,
  RedisQueue,
} from '@controlplane/server';

const JOBS = Number(process.env.BENCH_ENC_JOBS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ENC_ROUNDS ?? 3);
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PG_BASE =
  process.env.BENCH_DATABASE_URL ?? `postgres://${encodeURIComponent(process.env.PGUSER ?? userInfo().username)}@127.0.0.1:5432/postgres`;
const log = (msg) => process.stderr.write(`[bench-encryption] ${msg}\n`);
const round = (x) => Math.round(x);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const work = mkdtempSync(join(tmpdir(), 'cp-bench-enc-'));
const dbName = `cp_bench_enc_${process.pid}`;
const admin = new pg.Client({ connectionString: PG_BASE });
await admin.connect();
await admin.query(`create database ${dbName}`);
const dbUrl = new URL(PG_BASE);
dbUrl.pathname = `/${dbName}`;
const prefix = `bench-enc:${process.pid}`;

const logger = createLogger({ service: 'bench', level: 'warn', destination: process.stderr });
const db = createPostgresDatabase({ connectionString: dbUrl.toString(), maxConnections: 16 });
const keyDb = createPostgresDatabase({ connectionString: dbUrl.toString(), maxConnections: 2, applicationName: 'bench-keys' });
await migrate(db);
await db.query(`insert into tenants (id, name) values ('plain', 'Plain'), ('enc', 'Encrypted')`);
const redis = await createRedis({ url: REDIS_URL, keyPrefix: prefix });
await generateKeyringFile(join(work, 'keyring.json'));
const { cipher } = await openFieldEncryption({ keyringFile: join(work, 'keyring.json'), keyDb });

async function service(cipherOrNone) {
  const store = new JobStore(db, { cipher: cipherOrNone });
  const queue = new RedisQueue({ redis: redis.client, keys: redis.keys, db, store, logger });
  await queue.start();
  return new JobLifecycle({ db, store, queue, jobTypes: new JobTypeRegistry(), logger, leaseMs: 60_000 });
}
const variants = { plain: await service(undefined), encrypted: await service(cipher) };

// A small job: a few fields and some text in, a similar object out; options left at their default {}.
const text = randomBytes(96).toString('base64');
const body = (i) => ({
  id: randomUUID(),
  type: 'noop',
  payload: { type: 'noop', data: { n: i, customer: `c-${i % 1000}`, text } },
  metadata: { source: 'bench', createdAt: new Date().toISOString() },
});

async function roundOf(name, tenantId) {
  const jobs = variants[name];
  const runner = { id: `runner-${tenantId}`, tenantId, pool: 'default', jobTypes: ['noop'] };
  // Every round starts from empty tables, so neither variant pays for the other's bloat.
  await db.query('truncate job_events, job_attempts, result_outbox, jobs');
  await db.query('vacuum analyze jobs');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < JOBS) {
        const count = Math.min(500, JOBS - next);
        const start = next;
        next += count;
        await jobs.submission.submitMany(
          tenantId,
          'bench',
          Array.from({ length: count }, (_, k) => body(start + k)),
        );
      }
    }),
  );
  const t1 = performance.now();
  let done = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (done < JOBS) {
        const envs = await jobs.runners.claim(runner, { max: 250, waitMs: 0 });
        if (envs.length === 0) continue;
        const acks = await jobs.runners.completeMany(
          runner,
          envs.map((e) => ({
            ref: { jobId: e.jobId, leaseId: e.leaseId, fencingToken: e.fencingToken },
            attempt: e.attempt,
            type: e.type,
            data: { n: e.payload.data.n, text, ok: true },
          })),
        );
        done += acks.filter((a) => 'status' in a).length;
      }
    }),
  );
  const t2 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  // CPU of this process (JobLifecycle, JobStore, the cipher) per job: unlike jobs/s, not disturbed by
  // whatever else the machine runs.
  return {
    submit: JOBS / ((t1 - t0) / 1000),
    drain: JOBS / ((t2 - t1) / 1000),
    total: JOBS / ((t2 - t0) / 1000),
    cpu: (cpu.user + cpu.system) / JOBS,
  };
}

const figures = { plain: [], encrypted: [] };
// Warm-up (JIT, pools, key caches), not counted.
for (const name of ['plain', 'encrypted']) await roundOf(name, name === 'plain' ? 'plain' : 'enc');
for (let r = 0; r < ROUNDS; r++) {
  for (const name of r % 2 === 0 ? ['plain', 'encrypted'] : ['encrypted', 'plain']) {
    const f = await roundOf(name, name === 'plain' ? 'plain' : 'enc');
    figures[name].push(f);
    log(
      `round ${r + 1} ${name}: submit ${round(f.submit)}/s, claim+complete ${round(f.drain)}/s, end to end ${round(f.total)}/s, ${round(f.cpu)} µs CPU/job`,
    );
  }
}

const summary = {};
for (const name of ['plain', 'encrypted']) {
  for (const k of ['submit', 'drain', 'total']) summary[`${name}_${k}_jobs_per_s`] = round(median(figures[name].map((f) => f[k])));
  summary[`${name}_cpu_us_per_job`] = round(median(figures[name].map((f) => f.cpu)));
}
for (const k of ['submit', 'drain', 'total'])
  summary[`cost_${k}_pct`] = Math.round((1 - summary[`encrypted_${k}_jobs_per_s`] / summary[`plain_${k}_jobs_per_s`]) * 1000) / 10;
summary.jobs_per_round = JOBS;
summary.rounds = ROUNDS;

await redis.close();
await db.close();
await keyDb.close();
await admin.query(`drop database if exists ${dbName} with (force)`);
await admin.end();
{
  const r = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [nextCursor, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length) await r.unlink(...keys);
    cursor = nextCursor;
  } while (cursor !== '0');
  await r.quit();
}
rmSync(work, { recursive: true, force: true });

console.log('');
console.log(`${'median of rounds (jobs/s)'.padEnd(34)} ${'no cipher'.padStart(10)} ${'cipher'.padStart(10)} ${'cost'.padStart(8)}`);
for (const [label, k] of [
  ['submit (batches of 500)', 'submit'],
  ['claim + complete (batches of 250)', 'drain'],
  ['submit → complete', 'total'],
]) {
  console.log(
    `${label.padEnd(34)} ${String(summary[`plain_${k}_jobs_per_s`]).padStart(10)} ${String(summary[`encrypted_${k}_jobs_per_s`]).padStart(10)} ${`${summary[`cost_${k}_pct`]}%`.padStart(8)}`,
  );
}
console.log(
  `${'service CPU per job (µs)'.padEnd(34)} ${String(summary.plain_cpu_us_per_job).padStart(10)} ${String(summary.encrypted_cpu_us_per_job).padStart(10)} ${`+${summary.encrypted_cpu_us_per_job - summary.plain_cpu_us_per_job}`.padStart(8)}`,
);
console.log(`(${JOBS} jobs per round, ${ROUNDS} rounds each, JobLifecycle on PostgreSQL + Redis dispatch, no HTTP)`);
console.log(JSON.stringify(summary));
