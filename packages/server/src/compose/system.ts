import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InternalError } from '@controlplane/contracts';
import {
  CA_CERT_FILE,
  initPki,
  loadCertificateAuthority,
  loadTlsMaterial,
  servicePkiFiles,
  type Config,
  type FieldCipher,
  type LoadedCertificateAuthority,
  type Logger,
} from '@controlplane/platform';
import type { GatewayServer } from '../gateway/index.js';
import type { JobforgeServer } from '../jobforge/index.js';
import type { RedisConnection } from '../redis/index.js';
import { dropToServiceRole, migrate, type Database } from '../storage/index.js';
import type { ServerMetrics } from '../observability/index.js';
import type { TruthcoreServer } from '../truthcore/index.js';
import { encryptionProbes, ensureDevKeyring, openCipherFromConfig, STORED_IN_CLEAR, type DevKeyring } from './encryption.js';
import { startGatewayFromConfig, startJobforgeFromConfig, startTruthcoreFromConfig } from './services.js';
import { pkiDirOf, type ServiceName } from './service-tls.js';
import { openDatabaseFromConfig, openRedisFromConfig } from './storage.js';

const SERVICES: readonly ServiceName[] = ['gateway', 'jobforge', 'truthcore'];

export interface DevPki {
  dir: string;
  ca: LoadedCertificateAuthority;
  /** True when this call made the CA (first start). */
  created: boolean;
}

/**
 * The development CA and service certificates in `<dataDir>/pki`: made on the first start and
 * reused afterwards, so certificates already handed to runners and clients stay valid.
 */
export async function ensureDevPki(config: Readonly<Config>): Promise<DevPki> {
  const dir = pkiDirOf(config);
  let created = false;
  if (!existsSync(join(dir, CA_CERT_FILE))) {
    await initPki({ dir, trustDomain: config.trustDomain });
    created = true;
  }
  const ca = await loadCertificateAuthority(dir);
  if (ca.trustDomain !== config.trustDomain) {
    throw new InternalError('CP_COMPOSE_TRUST_DOMAIN_MISMATCH', {
      params: { dir, caTrustDomain: ca.trustDomain, trustDomain: config.trustDomain },
    });
  }
  for (const s of SERVICES) loadTlsMaterial(servicePkiFiles(dir, s));
  return { dir, ca, created };
}

export interface RunningSystem {
  db: Database;
  database: { kind: 'embedded' | 'postgres'; where: string };
  redis: RedisConnection | undefined;
  /** The keyring that encrypts at rest; undefined only when `encryption.enabled` is false. */
  encryption: DevKeyring | undefined;
  gateway: GatewayServer;
  jobforge: JobforgeServer;
  truthcore: TruthcoreServer;
  /** Stops the services (gateway first, so no new work arrives), then closes Redis and the database. */
  close(): Promise<void>;
}

export interface StartSystemOptions {
  config: Readonly<Config>;
  pki: DevPki;
  /** A logger per service (they may share a destination). */
  loggerFor: (service: ServiceName) => Logger;
  version?: string;
  /** The process's metrics, which the three services fill (the caller serves them: startProcessMetrics). */
  metrics?: ServerMetrics | undefined;
}

/**
 * Gateway, JobForge and TruthCore in one process (`controlplane dev`), sharing one database pool,
 * each with its own certificate and talking to the others over mTLS exactly as separate processes do.
 */
export async function startSystem(o: StartSystemOptions): Promise<RunningSystem> {
  const { config } = o;
  const material = (s: ServiceName) => loadTlsMaterial(servicePkiFiles(o.pki.dir, s));
  const log = o.loggerFor('jobforge');
  const opened = await openDatabaseFromConfig(config, { applicationName: 'controlplane-dev', logger: log });
  const toClose: Array<{ close(): Promise<void> }> = [];
  const closeAll = async () => {
    for (const c of toClose.reverse()) await c.close().catch((err: unknown) => log.warn({ err }, 'close failed'));
    toClose.length = 0;
    await opened.db.close();
  };
  try {
    await migrate(opened.db);
    // Embedded: the services run as a role that row-level security applies to, as on PostgreSQL.
    if (opened.db.kind === 'pglite') await dropToServiceRole(opened.db);
    const redis = await openRedisFromConfig(config, { connectionName: 'controlplane-dev', logger: log });
    if (redis) toClose.push(redis);
    const subscriber = redis ? await openRedisFromConfig(config, { connectionName: 'controlplane-dev-wake', logger: log }) : undefined;
    if (subscriber) toClose.push(subscriber);
    // Encrypted at rest from the first start: the keyring is made beside the CA when there is none.
    const encryption = await ensureDevKeyring(config);
    let cipher: FieldCipher | undefined;
    if (encryption) {
      const keys = await openCipherFromConfig(config, opened.db, encryption.file, {
        applicationName: 'controlplane-dev-keys',
        logger: log,
      });
      toClose.push(keys);
      cipher = keys.cipher;
    } else {
      log.warn({ encryption: 'off' }, STORED_IN_CLEAR);
    }
    const healthProbes = encryptionProbes(config);
    const common = { healthProbes, ...(o.version ? { version: o.version } : {}), metrics: o.metrics };
    const truthcore = await startTruthcoreFromConfig({
      config,
      db: opened.db,
      cipher,
      logger: o.loggerFor('truthcore'),
      tls: material('truthcore'),
      ...common,
    });
    toClose.push(truthcore);
    const jobforge = await startJobforgeFromConfig({
      config,
      db: opened.db,
      redis,
      subscriber,
      logger: o.loggerFor('jobforge'),
      tls: material('jobforge'),
      ca: o.pki.ca,
      cipher,
      truthcoreUrl: truthcore.url,
      // The outbox deliverer calls TruthCore with no transaction open, so this works on the
      // single PGlite connection of the embedded mode as well.
      deliverResults: true,
      ...common,
    });
    toClose.push(jobforge);
    const gateway = await startGatewayFromConfig({
      config,
      db: opened.db,
      redis,
      logger: o.loggerFor('gateway'),
      tls: material('gateway'),
      jobforgeUrl: jobforge.url,
      truthcoreUrl: truthcore.url,
      ...common,
    });
    toClose.push(gateway);
    let closing: Promise<void> | undefined;
    return {
      db: opened.db,
      database: { kind: opened.kind, where: opened.where },
      redis,
      encryption,
      gateway,
      jobforge,
      truthcore,
      close: () => (closing ??= closeAll()),
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
