// Starts one gateway (API keys, Redis rate limits, mTLS to JobForge) in front of the benchmark's
// JobForge, in its own process, and an API key for the benchmark's tenant. Prints its URL and the
// key as one JSON line.
import { buildSpiffeId, createLogger, createMtlsAgent, loadTlsMaterial, servicePkiFiles } from '@controlplane/platform';
import { AuditLog, createApiKey, createPostgresDatabase, createRedis, startGateway, withTenant } from '@controlplane/server';

const { BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_REDIS_PREFIX, BENCH_PKI_DIR, BENCH_TRUST_DOMAIN, BENCH_JOBFORGE_URL, BENCH_TENANT } =
  process.env;
const logger = createLogger({ service: 'gateway', level: 'warn', destination: process.stderr });
const db = createPostgresDatabase({ connectionString: BENCH_DATABASE_URL, maxConnections: 8 });
const redis = await createRedis({ url: BENCH_REDIS_URL, keyPrefix: BENCH_REDIS_PREFIX });
const tls = loadTlsMaterial(servicePkiFiles(BENCH_PKI_DIR, 'gateway'));
const toJobforge = createMtlsAgent(tls, {
  trustDomain: BENCH_TRUST_DOMAIN,
  expectedServerId: buildSpiffeId(BENCH_TRUST_DOMAIN, 'service', 'jobforge'),
  keepAlive: true,
  maxSockets: 64,
});
const key = await withTenant(BENCH_TENANT, () =>
  createApiKey(db, { tenantId: BENCH_TENANT, role: 'submitter', name: 'bench', createdBy: 'bench' }),
);
const gw = await startGateway({
  db,
  redis: { client: redis.client, keys: redis.keys },
  logger,
  tls,
  listen: { host: '127.0.0.1', port: 0 },
  upstreams: { jobforge: { url: BENCH_JOBFORGE_URL, agent: toJobforge } },
  // As deployed: every authenticated call is appended to the audit chain.
  auditSink: new AuditLog(db),
});
process.stdout.write(JSON.stringify({ url: gw.url, apiKey: key.key }) + '\n');
const stop = async () => {
  await gw.close();
  toJobforge.destroy();
  await redis.close();
  await db.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
