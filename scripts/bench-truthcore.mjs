#!/usr/bin/env node
// TruthCore query benchmark: 1,000,000 assertions for one tenant in a fresh PostgreSQL database,
// then POST /v1/query by subject + predicate over real mTLS, as the gateway would call it.
// Runs the built packages: `npx tsc -b packages/server && node scripts/bench-truthcore.mjs`.
// Environment: BENCH_DATABASE_URL (or TEST_DATABASE_URL) names the server to create the scratch
// database on; BENCH_ITERATIONS (default 3000) the number of measured queries.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  buildSpiffeId,
  createLogger,
  createMtlsAgent,
  initPki,
  loadTlsMaterial,
  requestJson,
  servicePkiFiles,
} from '@controlplane/platform';
import { createPostgresDatabase, migrate, startTruthcore } from '@controlplane/server';

const TOTAL = 1_000_000;
// 50,000 rows share one "hot" subject + predicate; the other 950,000 spread over 100,000
// subject + predicate pairs (about 9.5 rows each), the shape of per-entity facts.
const HOT = 50_000;
const SUBJECTS = 20_000;
const PREDICATES = 5;
const BATCH = 100_000;
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 3000);
const WARMUP = 300;
const HOT_ITERATIONS = 300;
const TRUST_DOMAIN = 'bench.controlplane.local';
const TENANT = 'bench';

const baseUrl =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  `postgres://${encodeURIComponent(process.env.PGUSER ?? userInfo().username)}@127.0.0.1:5432/postgres`;
const dbName = `cp_bench_truthcore_${process.pid}_${randomBytes(4).toString('hex')}`;

async function admin(sql) {
  const client = new pg.Client({ connectionString: baseUrl, application_name: 'controlplane-bench-admin' });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summary(label, samples) {
  const s = [...samples].sort((a, b) => a - b);
  const r = (v) => Math.round(v * 100) / 100;
  const out = { p50: r(percentile(s, 50)), p95: r(percentile(s, 95)), p99: r(percentile(s, 99)), max: r(s[s.length - 1]) };
  console.log(`${label}: n=${s.length} p50=${out.p50} ms p95=${out.p95} ms p99=${out.p99} ms max=${out.max} ms`);
  return out;
}

const pkiDir = mkdtempSync(join(tmpdir(), 'cp-bench-pki-'));
let db;
let server;
let agent;
let created = false;
try {
  await admin(`create database "${dbName}"`);
  created = true;
  const url = new URL(baseUrl);
  url.pathname = `/${dbName}`;
  db = createPostgresDatabase({ connectionString: url.toString(), maxConnections: 10, applicationName: 'controlplane-bench' });
  await migrate(db);
  await db.query(`insert into tenants (id, name) values ('${TENANT}', 'Benchmark tenant')`);

  // The object hash is SHA-256 of the canonical JSON of the object, built here as text exactly as
  // canonicalJson would print {"n":<i>}, so query-by-object works on the loaded rows too.
  const t0 = performance.now();
  for (let lo = 0; lo < TOTAL; lo += BATCH) {
    const hi = Math.min(TOTAL, lo + BATCH) - 1;
    await db.query(
      `insert into truth_assertions (tenant_id, id, subject, predicate, object, object_hash, confidence, source, asserted_at, metadata, asserted_by)
       select $1, gen_random_uuid(),
              case when i < $4 then 'entity:hot' else 'entity:' || (i % $5) end,
              case when i < $4 then 'attr:hot' else 'attr:' || ((i / $5) % $6) end,
              jsonb_build_object('n', i), sha256(convert_to('{"n":' || i || '}', 'UTF8')),
              (i % 100) / 100.0, 'source-' || (i % 8),
              timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second', '{}', 'bench'
         from generate_series($2::int, $3::int) as i`,
      [TENANT, lo, hi, HOT, SUBJECTS, PREDICATES],
    );
    if (process.stdout.isTTY) process.stdout.write(`\rloaded ${hi + 1} assertions`);
  }
  const loadMs = performance.now() - t0;
  if (process.stdout.isTTY) process.stdout.write('\n');
  // What autovacuum would do soon after a bulk load: planner statistics and the visibility map.
  await db.query('vacuum analyze truth_assertions');
  const size = (await db.query(`select pg_size_pretty(pg_total_relation_size('truth_assertions')) as s`)).rows[0].s;
  console.log(
    `load: ${TOTAL} assertions in ${(loadMs / 1000).toFixed(1)} s, then vacuum analyze in ${((performance.now() - t0 - loadMs) / 1000).toFixed(1)} s; table + indexes ${size}`,
  );

  await initPki({ dir: pkiDir, trustDomain: TRUST_DOMAIN });
  const tls = loadTlsMaterial(servicePkiFiles(pkiDir, 'truthcore'));
  server = await startTruthcore({
    db,
    logger: createLogger({ service: 'truthcore', level: 'silent' }),
    tls,
    trustDomain: TRUST_DOMAIN,
    caCertPem: tls.ca.join('\n'),
    listen: { host: '127.0.0.1', port: 0 },
  });
  agent = createMtlsAgent(loadTlsMaterial(servicePkiFiles(pkiDir, 'gateway')), {
    trustDomain: TRUST_DOMAIN,
    expectedServerId: buildSpiffeId(TRUST_DOMAIN, 'service', 'truthcore'),
    keepAlive: true,
    maxSockets: 1,
  });
  const headers = { 'x-cp-tenant': TENANT, 'x-cp-actor': 'apikey:bench' };

  // A deterministic spread of pairs, so runs are comparable.
  let seed = 42;
  const rnd = (n) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const query = async (body) => {
    const t = performance.now();
    const res = await requestJson({ url: `${server.url}/v1/query`, method: 'POST', body, agent, headers, timeoutMs: 30_000 });
    const ms = performance.now() - t;
    if (res.status !== 200) throw new Error(`query answered ${res.status}: ${JSON.stringify(res.body)}`);
    return { ms, body: res.body };
  };
  const pair = () => ({ pattern: { subject: `entity:${rnd(SUBJECTS)}`, predicate: `attr:${rnd(PREDICATES)}` } });

  for (let i = 0; i < WARMUP; i++) await query(pair());
  const samples = [];
  const server_ms = [];
  let rows = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const { ms, body } = await query(pair());
    samples.push(ms);
    server_ms.push(body.queryTimeMs);
    rows += body.assertions.length;
  }
  if (rows === 0) throw new Error('the subject + predicate queries matched nothing; the load is wrong');
  console.log(`subject + predicate queries returned ${(rows / ITERATIONS).toFixed(1)} assertions on average (limit 100)`);
  const typical = summary('POST /v1/query subject+predicate, round trip over mTLS', samples);
  summary('  of which queryTimeMs (database time in TruthCore)', server_ms);

  const hot = [];
  let hotBody;
  for (let i = 0; i < HOT_ITERATIONS; i++) {
    const { ms, body } = await query({ pattern: { subject: 'entity:hot', predicate: 'attr:hot' }, limit: 100 });
    hot.push(ms);
    hotBody = body;
  }
  console.log(`hot pair: ${HOT} matches, totalCount=${hotBody.totalCount} (exact: ${hotBody.totalCountExact}), hasMore=${hotBody.hasMore}`);
  summary('POST /v1/query hot subject+predicate (capped count), round trip', hot);

  console.log(
    JSON.stringify({
      truthcore_query_p50_ms: typical.p50,
      truthcore_query_p95_ms: typical.p95,
      truthcore_query_p99_ms: typical.p99,
      assertions: TOTAL,
    }),
  );
} finally {
  agent?.destroy();
  await server?.close();
  await db?.close();
  if (created) await admin(`drop database if exists "${dbName}" with (force)`);
  rmSync(pkiDir, { recursive: true, force: true });
}
