// Starts one JobForge (Redis dispatch, real PostgreSQL, mTLS) for the benchmark, in its own
// process so the load generator does not share its event loop. Prints its URLs as one JSON line.
import { createLogger, createMetricsRegistry, loadCertificateAuthority, loadTlsMaterial, servicePkiFiles } from '@controlplane/platform';
import { AuditLog, createPostgresDatabase, createRedis, migrate, RedisQueue, ServerMetrics, startJobforge } from '@controlplane/server';

const { BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_REDIS_PREFIX, BENCH_PKI_DIR, BENCH_TRUST_DOMAIN } = process.env;
const logger = createLogger({ service: 'jobforge', level: 'warn', destination: process.stderr });
const db = createPostgresDatabase({ connectionString: BENCH_DATABASE_URL, maxConnections: 16 });
await migrate(db);
const redis = await createRedis({ url: BENCH_REDIS_URL, keyPrefix: BENCH_REDIS_PREFIX });
const sub = await createRedis({ url: BENCH_REDIS_URL, keyPrefix: BENCH_REDIS_PREFIX });
// As deployed, metrics are on and scraped (BENCH_METRICS=0 turns them off, to measure what they cost):
// the registry is rendered every BENCH_SCRAPE_MS (default 5 s), database gauges included, as
// Prometheus would scrape it.
const metrics = process.env.BENCH_METRICS === '0' ? undefined : new ServerMetrics({ registry: createMetricsRegistry() });
const scraper = metrics
  ? setInterval(
      () => void metrics.registry.metrics().catch((err) => logger.warn({ err }, 'scrape failed')),
      Number(process.env.BENCH_SCRAPE_MS ?? 5_000),
    )
  : undefined;
const jf = await startJobforge({
  metrics,
  db,
  queue: async ({ db, store }) => {
    const q = new RedisQueue({ redis: redis.client, keys: redis.keys, db, store, logger, subscriber: sub.client });
    await q.start();
    return q;
  },
  logger,
  tls: loadTlsMaterial(servicePkiFiles(BENCH_PKI_DIR, 'jobforge')),
  trustDomain: BENCH_TRUST_DOMAIN,
  ca: await loadCertificateAuthority(BENCH_PKI_DIR),
  listen: { host: '127.0.0.1', port: 0 },
  enrollListen: { host: '127.0.0.1', port: 0 },
  leaseMs: 60_000,
  // BENCH_LINGER_MS / BENCH_AUDIT_LINGER_MS: how long a submission / an audit event waits to share
  // its commit with others (both 2 ms by default).
  ...(process.env.BENCH_LINGER_MS ? { submitLingerMs: Number(process.env.BENCH_LINGER_MS) } : {}),
  // As deployed: every submission, enrolment and refusal is appended to the audit chain.
  ...(process.env.BENCH_AUDIT === '0'
    ? {}
    : { audit: new AuditLog(db, process.env.BENCH_AUDIT_LINGER_MS ? { lingerMs: Number(process.env.BENCH_AUDIT_LINGER_MS) } : {}) }),
});
process.stdout.write(JSON.stringify({ url: jf.url, enrollUrl: jf.enrollUrl }) + '\n');
const stop = async () => {
  clearInterval(scraper);
  await jf.close();
  await redis.close();
  await sub.close();
  await db.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
