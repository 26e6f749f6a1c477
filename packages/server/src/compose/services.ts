import { readFileSync } from 'node:fs';
import type { Agent } from 'node:https';
import { InternalError } from '@controlplane/contracts';
import type { CertificateAuthority, Config, FieldCipher, Logger, TlsMaterial } from '@controlplane/platform';
import { openFieldEncryption } from '../keys/index.js';
import { AuditLog, queryAudit } from '../audit/index.js';
import { startGateway, type GatewayLimits, type GatewayServer } from '../gateway/index.js';
import { PostgresQueue, RedisQueue, startJobforge, type JobforgeServer } from '../jobforge/index.js';
import type { RedisConnection } from '../redis/index.js';
import { dropToServiceRole, migrate, type Database } from '../storage/index.js';
import { startTruthcore, type TruthcoreServer } from '../truthcore/index.js';
import { jobforgeCertificateAuthority, loadServiceMaterial, serviceAgent, type ServiceName } from './service-tls.js';
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
  return startTruthcore({
    db: d.db,
    logger: d.logger,
    tls: d.tls,
    trustDomain: d.config.trustDomain,
    // Results must be signed by runner certificates of our own CA(s).
    caCertPem: d.tls.ca.join('\n'),
    listen: d.listen ?? d.config.truthcore.listen,
    audit: new AuditLog(d.db),
    cipher: d.cipher,
    ...(d.version ? { version: d.version } : {}),
  });
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
  try {
    const jf = await startJobforge({
      db: d.db,
      queue: async ({ db, store }) => {
        if (!redis) return new PostgresQueue(db, store);
        const q = new RedisQueue({ redis: redis.client, keys: redis.keys, db, store, logger: d.logger, subscriber: d.subscriber?.client });
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
      audit: new AuditLog(d.db),
      cipher: d.cipher,
      ...(d.version ? { version: d.version } : {}),
    });
    return {
      ...jf,
      async close() {
        await jf.close();
        toTruthcore.destroy();
      },
    };
  } catch (err) {
    toTruthcore.destroy();
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
  try {
    const gw = await startGateway({
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
      auditSink: new AuditLog(d.db),
      auditQuery: { query: (filter) => queryAudit(d.db, filter) },
      ...(d.version ? { version: d.version } : {}),
    });
    return {
      ...gw,
      async close() {
        await gw.close();
        for (const a of agents) a.destroy();
      },
    };
  } catch (err) {
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
  const tls = loadServiceMaterial(config, service);
  const ca = service === 'jobforge' ? jobforgeCertificateAuthority(config, tls) : undefined;
  const { db } = await openDatabaseFromConfig(config, { applicationName: `controlplane-${service}`, logger: o.logger });
  const opened: Array<{ close(): Promise<void> }> = [];
  const closeAll = async () => {
    for (const r of opened.reverse()) await r.close().catch((err: unknown) => o.logger.warn({ err }, 'close failed'));
    await db.close();
  };
  try {
    await migrate(db);
    if (db.kind === 'pglite') await dropToServiceRole(db);
    else await warnIfRowLevelSecurityBypassed(db, o.logger);
    // The data-key store gets a pool of its own: keys are fetched while the services' own
    // transactions are open (see PostgresDataKeyStore).
    let cipher: FieldCipher | undefined;
    if (config.encryption.keyringFile && service !== 'gateway') {
      const { db: keyDb } = await openDatabaseFromConfig(config, {
        applicationName: `controlplane-${service}-keys`,
        maxConnections: 2,
        logger: o.logger,
      });
      opened.push({ close: () => keyDb.close() });
      cipher = (await openFieldEncryption({ keyringFile: config.encryption.keyringFile, keyDb })).cipher;
    } else if (service !== 'gateway') {
      o.logger.warn('encryption.keyringFile is not set: job payloads and results are stored without field encryption (docs/encryption.md)');
    }
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
      const deps = { config, db, redis, logger: o.logger, ...(o.version ? { version: o.version } : {}) };
      if (service === 'gateway') {
        const gw = await startGatewayFromConfig({ ...deps, tls });
        opened.push(gw);
        return { service, url: gw.url, close: closeAll };
      }
      const jf = await startJobforgeFromConfig({ ...deps, tls, ca: ca!, subscriber, cipher });
      opened.push(jf);
      return { service, url: jf.url, enrollUrl: jf.enrollUrl, close: closeAll };
    }
    const tc = await startTruthcoreFromConfig({ config, db, logger: o.logger, tls, cipher, ...(o.version ? { version: o.version } : {}) });
    opened.push(tc);
    return { service, url: tc.url, close: closeAll };
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
