import { readFileSync } from 'node:fs';
import type { Agent } from 'node:https';
import { InternalError } from '@controlplane/contracts';
import {
  tracingFromConfig,
  type CertificateAuthority,
  type Config,
  type FieldCipher,
  type Logger,
  type TlsMaterial,
} from '@controlplane/platform';
import { AuditLog, queryAudit } from '../audit/index.js';
import { startGateway, type GatewayLimits, type GatewayServer } from '../gateway/index.js';
import type { HealthProbe } from '../http/index.js';
import { PostgresQueue, RedisQueue, startJobforge, type JobforgeServer } from '../jobforge/index.js';
import type { RedisConnection } from '../redis/index.js';
import { dropToServiceRole, migrate, type Database } from '../storage/index.js';
import { startTruthcore, type TruthcoreServer } from '../truthcore/index.js';
import type { ServerMetrics } from '../observability/index.js';
import { startAuditCheckpoints } from './audit-anchor.js';
import { encryptionProbes, openCipherFromConfig, requiredKeyringFile, STORED_IN_CLEAR } from './encryption.js';
import { jobforgeCertificateAuthority, loadServiceMaterial, serviceAgent, type ServiceName } from './service-tls.js';
import { startProcessMetrics } from './process-metrics.js';
import { openDatabaseFromConfig, openRedisFromConfig } from './storage.js';

/** What a service shares with the others in its process. */
export interface ServiceDeps {
  config: Readonly<Config>;
  db: Database;
  /** Field encryption at rest, when `encryption.keyringFile` is configured. */
  cipher?: FieldCipher | undefined;
  /** Absent in embedded mode: in-process queue, limiter and nonce cache. */
  redis?: RedisConnection | undefined;
  logger: Logger;
  version?: string;
  /** More /health probes: what the composition wants every service to report. */
  healthProbes?: readonly HealthProbe[];
  /** The process's metrics (one registry per process, served by its metrics listener). */
  metrics?: ServerMetrics | undefined;
}

/** The gateway's limits from `gateway.*` in the config (the rest keep their defaults). */
export function gatewayLimitsFrom(config: Readonly<Config>): Partial<GatewayLimits> {
  const g = config.gateway;
  return {
    bodyLimitBytes: g.bodyLimitBytes,
    jsonMaxDepth: g.jsonMaxDepth,
    requestTimeoutMs: g.requestTimeoutMs,
    headersTimeoutMs: g.headersTimeoutMs,
    keepAliveTimeoutMs: g.keepAliveTimeoutMs,
    sessionIdleSeconds: g.sessionIdleSeconds,
    sessionAbsoluteSeconds: g.sessionAbsoluteSeconds,
    ...(g.rateLimits.perAddress ? { perAddress: g.rateLimits.perAddress } : {}),
    ...(g.rateLimits.perKey ? { perKey: g.rateLimits.perKey } : {}),
    ...(g.rateLimits.perTenant ? { perTenant: g.rateLimits.perTenant } : {}),
  };
}

/** The audit log a service records into, timed for the metrics. */
function auditLogFor(d: ServiceDeps, service: ServiceName): AuditLog {
  const m = d.metrics;
  return new AuditLog(d.db, {
    onAppend: m
      ? (seconds, ok) => {
          m.auditAppend.observe({ service }, seconds);
          if (!ok) m.auditAppendFailures.inc({ service });
        }
      : undefined,
  });
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new InternalError('CP_COMPOSE_FILE_UNREADABLE', {
      params: { what, file, reason: (err as NodeJS.ErrnoException).code ?? (err as Error).message },
      cause: err,
    });
  }
}

export async function startTruthcoreFromConfig(
  d: ServiceDeps & { tls: TlsMaterial; listen?: { host: string; port: number } },
): Promise<TruthcoreServer> {
  d.metrics?.watchCertificates('truthcore', { service: d.tls.cert, ca: d.tls.ca[0] });
  const tracing = tracingFromConfig(d.config, 'truthcore', d.version);
  const tc = await withAuditCheckpoints(d, 'truthcore', (audit, healthProbes) =>
    startTruthcore({
      metrics: d.metrics,
      tracing,
      db: d.db,
      logger: d.logger,
      tls: d.tls,
      trustDomain: d.config.trustDomain,
      // Results must be signed by runner certificates of our own CA(s).
      caCertPem: d.tls.ca.join('\n'),
      listen: d.listen ?? d.config.truthcore.listen,
      audit,
      cipher: d.cipher,
      healthProbes,
      ...(d.version ? { version: d.version } : {}),
    }),
  ).catch(async (err: unknown) => {
    await tracing.shutdown();
    throw err;
  });
  return {
    ...tc,
    async close() {
      await tc.close();
      await tracing.shutdown();
    },
  };
}

/**
 * Starts a service with its audit checkpoints (compose/audit-anchor.ts): refused when the checkpoint
 * directory cannot be written; on close, the service stops first and a last checkpoint follows.
 */
async function withAuditCheckpoints<S extends { close(): Promise<void> }>(
  d: ServiceDeps & { tls: TlsMaterial },
  service: ServiceName,
  start: (audit: AuditLog, healthProbes: HealthProbe[]) => Promise<S>,
): Promise<S> {
  const audit = auditLogFor(d, service);
  const { checkpointer, probe } = startAuditCheckpoints({ config: d.config, db: d.db, audit, tls: d.tls, service, logger: d.logger });
  try {
    const server = await start(audit, [...(d.healthProbes ?? []), probe]);
    // Anchored from the start, not only after the first interval: a failure here is what /health
    // and doctor then report (the checkpointer keeps it), not a refused start.
    await checkpointer.checkpoint().catch(() => undefined);
    return {
      ...server,
      async close() {
        await server.close();
        await checkpointer.close();
      },
    };
  } catch (err) {
    await checkpointer.close();
    throw err;
  }
}

export async function startJobforgeFromConfig(
  d: ServiceDeps & {
    tls: TlsMaterial;
    ca: CertificateAuthority;
    /** A second Redis connection for queue wake-ups between replicas (pub/sub). */
    subscriber?: RedisConnection | undefined;
    /** Where recorded results go; default `truthcore.url`. */
    truthcoreUrl?: string;
    /** Deliver recorded results to TruthCore (the result outbox); default true. */
    deliverResults?: boolean;
    listen?: { host: string; port: number };
    enrollListen?: { host: string; port: number };
  },
): Promise<JobforgeServer> {
  const toTruthcore = serviceAgent(d.tls, d.config.trustDomain, 'truthcore');
  const redis = d.redis;
  d.metrics?.watchCertificates('jobforge', { service: d.tls.cert, ca: d.tls.ca[0] });
  const unwatchRedis = d.metrics?.watchRedis('jobforge', { main: redis?.client, wake: d.subscriber?.client });
  const tracing = tracingFromConfig(d.config, 'jobforge', d.version);
  try {
    const jf = await withAuditCheckpoints(d, 'jobforge', (audit, healthProbes) =>
      startJobforge({
        db: d.db,
        queue: async ({ db, store }) => {
          if (!redis) return new PostgresQueue(db, store);
          const q = new RedisQueue({
            redis: redis.client,
            keys: redis.keys,
            db,
            store,
            logger: d.logger,
            subscriber: d.subscriber?.client,
          });
          await q.start();
          return q;
        },
        logger: d.logger,
        tls: d.tls,
        trustDomain: d.config.trustDomain,
        ca: d.ca,
        listen: d.listen ?? d.config.jobforge.listen,
        enrollListen: d.enrollListen ?? d.config.jobforge.enrollListen,
        ...(d.config.jobforge.advertisedUrl ? { advertisedUrl: d.config.jobforge.advertisedUrl } : {}),
        ...(d.deliverResults === false ? {} : { truthcore: { url: d.truthcoreUrl ?? d.config.truthcore.url, agent: toTruthcore } }),
        audit,
        cipher: d.cipher,
        healthProbes,
        metrics: d.metrics,
        tracing,
        ...(d.version ? { version: d.version } : {}),
      }),
    );
    return {
      ...jf,
      async close() {
        unwatchRedis?.();
        await jf.close();
        toTruthcore.destroy();
        await tracing.shutdown();
      },
    };
  } catch (err) {
    unwatchRedis?.();
    toTruthcore.destroy();
    await tracing.shutdown();
    throw err;
  }
}

export async function startGatewayFromConfig(
  d: ServiceDeps & {
    tls: TlsMaterial;
    /** Upstream URLs; default `jobforge.url` and `truthcore.url`. */
    jobforgeUrl?: string;
    truthcoreUrl?: string;
    listen?: { host: string; port: number };
  },
): Promise<GatewayServer> {
  const g = d.config.gateway;
  const publicTls =
    g.publicCertFile && g.publicKeyFile
      ? { cert: readPem(g.publicCertFile, 'gateway certificate'), key: readPem(g.publicKeyFile, 'gateway key') }
      : { cert: d.tls.cert, key: d.tls.key };
  const agents: Agent[] = [serviceAgent(d.tls, d.config.trustDomain, 'jobforge'), serviceAgent(d.tls, d.config.trustDomain, 'truthcore')];
  d.metrics?.watchCertificates('gateway', { service: d.tls.cert, public: publicTls.cert, ca: d.tls.ca[0] });
  const unwatchRedis = d.metrics?.watchRedis('gateway', { main: d.redis?.client });
  const tracing = tracingFromConfig(d.config, 'gateway', d.version);
  try {
    const gw = await withAuditCheckpoints(d, 'gateway', (audit, healthProbes) =>
      startGateway({
        db: d.db,
        redis: d.redis ? { client: d.redis.client, keys: d.redis.keys } : undefined,
        logger: d.logger,
        tls: publicTls,
        listen: d.listen ?? g.listen,
        upstreams: {
          jobforge: { url: d.jobforgeUrl ?? d.config.jobforge.url, agent: agents[0]! },
          truthcore: { url: d.truthcoreUrl ?? d.config.truthcore.url, agent: agents[1]! },
        },
        limits: gatewayLimitsFrom(d.config),
        auditSink: audit,
        auditQuery: { query: (filter) => queryAudit(d.db, filter) },
        healthProbes,
        metrics: d.metrics,
        tracing,
        ...(d.version ? { version: d.version } : {}),
      }),
    );
    return {
      ...gw,
      async close() {
        unwatchRedis?.();
        await gw.close();
        for (const a of agents) a.destroy();
        await tracing.shutdown();
      },
    };
  } catch (err) {
    unwatchRedis?.();
    await tracing.shutdown();
    for (const a of agents) a.destroy();
    throw err;
  }
}

/** One service started on its own (`controlplane gateway|jobforge|truthcore`). */
export interface RunningService {
  service: ServiceName;
  /** The main listener. */
  url: string;
  /** JobForge's enrolment listener. */
  enrollUrl?: string;
  /** The metrics listener (`GET /metrics`), unless `metrics.enabled` is false. */
  metricsUrl?: string;
  close(): Promise<void>;
}

/**
 * Starts one service from configuration, with its own database pool and Redis connection(s), as
 * a production process does. Runs the migrations first: they take an advisory lock, so replicas
 * starting together apply them once.
 */
export async function startServiceFromConfig(
  service: ServiceName,
  config: Readonly<Config>,
  o: { logger: Logger; version?: string },
): Promise<RunningService> {
  if (config.database.mode !== 'postgres') {
    throw new InternalError('CP_COMPOSE_EMBEDDED_DATABASE', { params: { service } });
  }
  // Refused before anything is opened: a forgotten keyring must not mean payloads in clear.
  const keyringFile = service === 'gateway' ? undefined : requiredKeyringFile(config, service);
  const tls = loadServiceMaterial(config, service);
  const ca = service === 'jobforge' ? jobforgeCertificateAuthority(config, tls) : undefined;
  const { db } = await openDatabaseFromConfig(config, { applicationName: `controlplane-${service}`, logger: o.logger });
  const opened: Array<{ close(): Promise<void> }> = [];
  const closeAll = async () => {
    for (const r of opened.reverse()) await r.close().catch((err: unknown) => o.logger.warn({ err }, 'close failed'));
    await db.close();
  };
  try {
    const observed = await startProcessMetrics(config, service);
    if (observed.listener) opened.push(observed.listener);
    const metrics = observed.metrics;
    const metricsUrl = observed.listener ? { metricsUrl: observed.listener.url } : {};
    await migrate(db);
    if (db.kind === 'pglite') await dropToServiceRole(db);
    else await warnIfRowLevelSecurityBypassed(db, o.logger);
    let cipher: FieldCipher | undefined;
    if (keyringFile) {
      const keys = await openCipherFromConfig(config, db, keyringFile, {
        applicationName: `controlplane-${service}-keys`,
        logger: o.logger,
      });
      opened.push(keys);
      cipher = keys.cipher;
    }
    const healthProbes = encryptionProbes(config);
    if (config.encryption.enabled === false) o.logger.warn({ encryption: 'off' }, STORED_IN_CLEAR);
    if (service !== 'truthcore') {
      const redis = await openRedisFromConfig(config, { connectionName: `controlplane-${service}`, logger: o.logger });
      if (redis) opened.push(redis);
      else
        o.logger.warn(
          'redis.mode is embedded: rate limits, nonces and the queue index live in this process only; run one replica, or set REDIS_URL',
        );
      const subscriber =
        service === 'jobforge' && redis
          ? await openRedisFromConfig(config, { connectionName: `controlplane-${service}-wake`, logger: o.logger })
          : undefined;
      if (subscriber) opened.push(subscriber);
      const deps = { config, db, redis, logger: o.logger, healthProbes, metrics, ...(o.version ? { version: o.version } : {}) };
      if (service === 'gateway') {
        const gw = await startGatewayFromConfig({ ...deps, tls });
        opened.push(gw);
        return { service, url: gw.url, ...metricsUrl, close: closeAll };
      }
      const jf = await startJobforgeFromConfig({ ...deps, tls, ca: ca!, subscriber, cipher });
      opened.push(jf);
      return { service, url: jf.url, enrollUrl: jf.enrollUrl, ...metricsUrl, close: closeAll };
    }
    const tc = await startTruthcoreFromConfig({
      config,
      db,
      logger: o.logger,
      tls,
      cipher,
      healthProbes,
      metrics,
      ...(o.version ? { version: o.version } : {}),
    });
    opened.push(tc);
    return { service, url: tc.url, ...metricsUrl, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** A superuser or BYPASSRLS role skips every row-level policy: say so loudly at start. */
async function warnIfRowLevelSecurityBypassed(db: Database, logger: Logger): Promise<void> {
  const { rows } = await db.query<{ name: string; rolsuper: boolean; rolbypassrls: boolean }>(
    'select current_user as name, rolsuper, rolbypassrls from pg_roles where rolname = current_user',
  );
  const role = rows[0];
  if (role && (role.rolsuper || role.rolbypassrls)) {
    logger.warn(
      { role: role.name, superuser: role.rolsuper, bypassRls: role.rolbypassrls },
      'the database role bypasses row-level security; run the services as a role that is neither superuser nor BYPASSRLS (docs/deployment.md)',
    );
  }
}
