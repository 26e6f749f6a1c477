// A running JobForge for end-to-end tests: a throwaway PKI, a fresh PostgreSQL database with the
// test tenants, Redis (or PostgreSQL) dispatch, real mTLS listeners, and the gateway's mTLS agent.
import type { Agent } from 'node:https';
import { createLogger, requestJson, type JsonResponse } from '@controlplane/platform';
import {
  createPostgresDatabase,
  migrate,
  PostgresQueue,
  RedisQueue,
  startJobforge,
  type Database,
  type JobforgeServer,
  type JobforgeServerOptions,
} from '@controlplane/server';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/postgres.js';
import { createTestRedis, type TestRedis } from '../../../../test/support/redis.js';
import { createPkiFixture, type PkiFixture, TRUST_DOMAIN } from './pki-fixture.js';
import { seedTenants } from './queue-conformance.js';

export interface JobforgeHarness {
  pki: PkiFixture;
  db: Database;
  jf: JobforgeServer;
  /** The gateway's mTLS agent towards JobForge. */
  gw: Agent;
  /** A service-API call as the gateway, on behalf of `tenant`. */
  asTenant(tenant: string, method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<JsonResponse<any>>;
  close(): Promise<void>;
}

export type HarnessOptions = Partial<
  Omit<JobforgeServerOptions, 'db' | 'queue' | 'logger' | 'tls' | 'trustDomain' | 'ca' | 'listen' | 'enrollListen'>
> & {
  dispatch?: 'redis' | 'postgres';
  /** Extra options computed from the database once it exists (e.g. an audit log on it). */
  withDb?: (db: Database) => Partial<JobforgeServerOptions>;
};

export const harnessLogger = createLogger({ service: 'test', level: 'silent' });

export async function startJobforgeHarness(o: HarnessOptions = {}): Promise<JobforgeHarness> {
  const pki = await createPkiFixture();
  const tdb: TestDatabase = await createTestDatabase();
  // The test's own observer connection sees every tenant; the service gets a pool of its own with
  // the production default, so any of its work outside a data scope sees nothing and fails here.
  const db = createPostgresDatabase({ unscoped: 'system', connectionString: tdb.url, maxConnections: 4 });
  const serviceDb = createPostgresDatabase({ connectionString: tdb.url, maxConnections: 10, applicationName: 'jobforge-service' });
  await migrate(db);
  await seedTenants(db);
  const redis: TestRedis | undefined = o.dispatch === 'postgres' ? undefined : await createTestRedis();
  const { dispatch: _dispatch, withDb, ...serverOptions } = o;
  const jf = await startJobforge({
    db: serviceDb,
    queue: async ({ db, store }) => {
      if (!redis) return new PostgresQueue(db, store);
      const q = new RedisQueue({ redis: redis.client, keys: redis.keys, db, store, logger: harnessLogger });
      await q.start();
      return q;
    },
    logger: harnessLogger,
    tls: pki.material('jobforge'),
    trustDomain: TRUST_DOMAIN,
    ca: pki.ca,
    listen: { host: '127.0.0.1', port: 0 },
    enrollListen: { host: '127.0.0.1', port: 0 },
    ...serverOptions,
    ...(withDb ? withDb(serviceDb) : {}),
  });
  const gw = pki.serviceAgent('gateway', 'jobforge');
  return {
    pki,
    db,
    jf,
    gw,
    asTenant: (tenant, method, path, body) =>
      requestJson({
        url: `${jf.url}${path}`,
        method,
        body,
        agent: gw,
        headers: { 'x-cp-tenant': tenant, 'x-cp-actor': `apikey:test-${tenant}` },
        timeoutMs: 10_000,
      }),
    async close() {
      await jf.close();
      pki.cleanup();
      await redis?.cleanup();
      await serviceDb.close();
      await db.close();
      await tdb.drop();
    },
  };
}
