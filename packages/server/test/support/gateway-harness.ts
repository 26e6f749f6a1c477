// Everything a gateway e2e test needs: real PostgreSQL, Redis, PKI and JobForge, a stand-in
// TruthCore (a real mTLS service that echoes what the gateway forwarded), an in-memory audit sink,
// tenants with a key per role, and an HTTPS client that can sign requests.
import { randomUUID } from 'node:crypto';
import { Agent, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { AppError } from '@controlplane/contracts';
import { createLogger, mtlsServerOptions, principalFromSocket, signRequest, SIGNATURE_HEADER, type Logger } from '@controlplane/platform';
import {
  createApiKey,
  createHttpApp,
  createPostgresDatabase,
  createTenant,
  migrate,
  PostgresQueue,
  startGateway,
  startJobforge,
  type AuditEvent,
  type AuditReader,
  type AuditSink,
  type CreatedApiKey,
  type Database,
  type GatewayLimits,
  type GatewayServer,
  type HttpApp,
  type JobforgeServer,
  type RedisKeys,
  type Role,
} from '@controlplane/server';
import type { Redis } from 'ioredis';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/postgres.js';
import { createTestRedis, type TestRedis } from '../../../../test/support/redis.js';
import { createPkiFixture, TRUST_DOMAIN, type PkiFixture } from './pki-fixture.js';

export const logger: Logger = createLogger({ service: 'test', level: 'silent' });

/** The audit sink and reader the gateway is given: events in memory, filtered like the real store. */
export class MemoryAudit implements AuditSink, AuditReader {
  readonly events: AuditEvent[] = [];
  async record(event: AuditEvent): Promise<void> {
    this.events.push(event);
  }
  async query(filter: Parameters<AuditReader['query']>[0]) {
    const events = this.events
      .filter((e) => filter.tenantId === undefined || e.tenantId === filter.tenantId)
      .filter((e) => filter.action === undefined || e.action === filter.action)
      .slice(-filter.limit)
      .reverse();
    return { events, nextCursor: null };
  }
}

export type FakeMode = 'ok' | 'fail503' | 'fail500' | 'hang';

/** A TruthCore stand-in on mTLS: accepts only the gateway's certificate and echoes what it got. */
export interface FakeTruthcore {
  url: string;
  mode: FakeMode;
  hits: number;
  close(): Promise<void>;
}

export async function startFakeTruthcore(pki: PkiFixture): Promise<FakeTruthcore> {
  const app: HttpApp = createHttpApp({
    service: 'truthcore',
    logger,
    https: mtlsServerOptions(pki.material('truthcore'), { trustDomain: TRUST_DOMAIN }),
  });
  const state = { mode: 'ok' as FakeMode, hits: 0 };
  const echo = async (req: FastifyRequest) => {
    state.hits += 1;
    const peer = principalFromSocket(req.raw.socket as TLSSocket, { trustDomain: TRUST_DOMAIN });
    if (!peer || peer.kind !== 'service' || peer.id !== 'gateway') throw new AppError('FORBIDDEN');
    if (state.mode === 'hang') await sleep(5_000);
    if (state.mode === 'fail503') throw new AppError('SERVICE_UNAVAILABLE', { retryAfter: 2 });
    if (state.mode === 'fail500') throw new Error('truthcore exploded at /srv/truthcore/store.ts:12 (SELECT * FROM assertions)');
    return {
      path: req.url,
      tenant: req.headers['x-cp-tenant'],
      actor: req.headers['x-cp-actor'],
      correlationId: req.headers['x-correlation-id'],
      body: req.body ?? null,
    };
  };
  app.post('/v1/assert', echo);
  app.post('/v1/query', echo);
  app.get('/v1/assertions/:id', echo);
  app.get('/v1/jobs/:id/provenance', echo);
  app.get('/v1/subscribe', echo);
  await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url: `https://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    get mode() {
      return state.mode;
    },
    set mode(m: FakeMode) {
      state.mode = m;
    },
    get hits() {
      return state.hits;
    },
    set hits(n: number) {
      state.hits = n;
    },
    close: () => app.close(),
  };
}

export interface KeyFixture {
  id: string;
  key: string;
  privateKey: string;
  tenantId: string;
  role: Role;
}

const asFixture = (k: CreatedApiKey): KeyFixture => ({
  id: k.id,
  key: k.key,
  privateKey: k.signingPrivateKeyPem!,
  tenantId: k.tenantId,
  role: k.role,
});

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  text: string;
}

export interface CallOptions {
  key?: KeyFixture | string | undefined;
  /** true: sign with the calling key; a key: sign with that one; absent/false: unsigned. */
  sign?: KeyFixture | boolean;
  body?: unknown;
  /** Sent as is (not JSON-encoded) when given. */
  rawBody?: string;
  headers?: Record<string, string>;
  signAt?: Date;
  /** Send this signature header verbatim (replays). */
  signature?: string;
}

export interface GatewayClient {
  agent: Agent;
  call(base: string, method: string, path: string, o?: CallOptions): Promise<Reply & { signature?: string | undefined }>;
}

export function createGatewayClient(pki: PkiFixture): GatewayClient {
  const agent = new Agent({ ca: pki.ca.certPem, keepAlive: true, maxSockets: 64 });
  return {
    agent,
    call(base, method, path, o = {}) {
      const text = o.rawBody ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
      const headers: Record<string, string> = { accept: 'application/json', ...o.headers };
      if (text !== undefined) headers['content-type'] ??= 'application/json';
      const key = typeof o.key === 'string' ? o.key : o.key?.key;
      if (key !== undefined) headers.authorization = `Bearer ${key}`;
      let signature = o.signature;
      const signer = o.sign === true ? (typeof o.key === 'object' ? o.key : undefined) : o.sign || undefined;
      if (signature === undefined && signer) {
        signature = signRequest({ method, url: path, body: text, keyId: signer.id, privateKey: signer.privateKey, now: o.signAt });
      }
      if (signature !== undefined) headers[SIGNATURE_HEADER] = signature;
      return new Promise((resolve, reject) => {
        const req = httpsRequest(`${base}${path}`, { method, agent, headers, timeout: 20_000 }, (res) => {
          let t = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (t += c));
          res.on('end', () => {
            let parsed: unknown = undefined;
            try {
              parsed = t ? JSON.parse(t) : undefined;
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text: t, signature });
          });
        });
        // A request that never answers fails the test instead of hanging it.
        req.on('timeout', () => req.destroy(new Error(`${method} ${path} got no answer within 20 s`)));
        req.on('error', reject);
        req.end(text);
      });
    },
  };
}

export interface GatewayHarness {
  pki: PkiFixture;
  tdb: TestDatabase;
  db: Database;
  redis: TestRedis;
  jf: JobforgeServer;
  truthcore: FakeTruthcore;
  audit: MemoryAudit;
  client: GatewayClient;
  /** Keys per role in tenant `ta`, an admin of `tb`, and a platform admin (tenant `system`). */
  keys: Record<Role, KeyFixture> & { otherTenantAdmin: KeyFixture; platformAdmin: KeyFixture };
  newKey(tenantId: string, role: Role, extra?: { expiresAt?: Date }): Promise<KeyFixture>;
  /**
   * Starts a gateway on this harness (closed by cleanup). `redisScope` gives its limits, failure
   * counts and nonces their own keys, so a test's tight limits see only that test's traffic.
   */
  startGateway(
    limits?: Partial<GatewayLimits>,
    o?: {
      redis?: boolean;
      jobforgeUrl?: string;
      truthcoreUrl?: string;
      redisScope?: string;
      db?: Database;
      redisConnection?: { client: Redis; keys: RedisKeys };
    },
  ): Promise<GatewayServer>;
  /** A job submitted straight to JobForge for `tenant` (bypassing the gateway). */
  seedJob(tenant: string): Promise<string>;
  cleanup(): Promise<void>;
}

/** Generous limits so tests that are not about limits never meet one. */
export const RELAXED_LIMITS: Partial<GatewayLimits> = {
  perAddress: { capacity: 100_000, refillPerSecond: 100_000 },
  perKey: { capacity: 100_000, refillPerSecond: 100_000 },
  perTenant: { capacity: 100_000, refillPerSecond: 100_000 },
  authFailures: { max: 10_000, windowSeconds: 60 },
  upstreamTimeoutMs: 5_000,
  // The gateway under test shares the test worker's event loop, which a loaded machine can stall
  // for longer than the production bound; shedding on event-loop delay has tests of its own.
  maxEventLoopDelayMs: 10_000,
};

export async function createGatewayHarness(): Promise<GatewayHarness> {
  const pki = await createPkiFixture();
  const tdb = await createTestDatabase();
  // The test's own observer connection sees every tenant; JobForge and the gateways get a pool with
  // the production default, so any of their work outside a data scope sees nothing and fails here.
  const db = createPostgresDatabase({ unscoped: 'system', connectionString: tdb.url, maxConnections: 4, applicationName: 'gateway-test' });
  const serviceDb = createPostgresDatabase({ connectionString: tdb.url, maxConnections: 10, applicationName: 'gateway-service' });
  await migrate(db);
  await createTenant(db, { id: 'ta', name: 'Tenant A' });
  await createTenant(db, { id: 'tb', name: 'Tenant B' });
  const redis = await createTestRedis();
  const jf = await startJobforge({
    db: serviceDb,
    queue: ({ db, store }) => new PostgresQueue(db, store),
    logger,
    tls: pki.material('jobforge'),
    trustDomain: TRUST_DOMAIN,
    ca: pki.ca,
    listen: { host: '127.0.0.1', port: 0 },
    enrollListen: { host: '127.0.0.1', port: 0 },
    duties: false,
  });
  const truthcore = await startFakeTruthcore(pki);
  const audit = new MemoryAudit();
  const client = createGatewayClient(pki);
  const newKey = async (tenantId: string, role: Role, extra: { expiresAt?: Date } = {}) =>
    asFixture(
      await createApiKey(db, {
        tenantId,
        role,
        name: `${tenantId}-${role}-${randomUUID().slice(0, 8)}`,
        createdBy: 'test',
        ...(extra.expiresAt ? { expiresAt: extra.expiresAt } : {}),
      }),
    );
  const keys = {
    admin: await newKey('ta', 'admin'),
    operator: await newKey('ta', 'operator'),
    submitter: await newKey('ta', 'submitter'),
    viewer: await newKey('ta', 'viewer'),
    otherTenantAdmin: await newKey('tb', 'admin'),
    platformAdmin: await newKey('system', 'admin'),
  };
  const gateways: GatewayServer[] = [];
  const jobforgeAgent = pki.serviceAgent('gateway', 'jobforge');
  const truthcoreAgent = pki.serviceAgent('gateway', 'truthcore');
  const gatewayTls = pki.material('gateway');
  return {
    pki,
    tdb,
    db,
    redis,
    jf,
    truthcore,
    audit,
    client,
    keys,
    newKey,
    async startGateway(limits = {}, o = {}) {
      const gw = await startGateway({
        db: o.db ?? serviceDb,
        redis:
          o.redis === false
            ? undefined
            : (o.redisConnection ?? { client: redis.client, keys: o.redisScope ? redis.keys.child(o.redisScope) : redis.keys }),
        logger,
        tls: { cert: gatewayTls.cert, key: gatewayTls.key },
        listen: { host: '127.0.0.1', port: 0 },
        upstreams: {
          jobforge: { url: o.jobforgeUrl ?? jf.url, agent: jobforgeAgent },
          truthcore: { url: o.truthcoreUrl ?? truthcore.url, agent: truthcoreAgent },
        },
        limits: { ...RELAXED_LIMITS, ...limits },
        auditSink: audit,
        auditQuery: audit,
      });
      gateways.push(gw);
      return gw;
    },
    async seedJob(tenant) {
      const id = randomUUID();
      await jf.jobs.submission.submit(tenant, 'apikey:seed', {
        id,
        type: 'echo',
        payload: { type: 'echo', data: { n: 1 } },
        metadata: { source: 'gateway-test', createdAt: new Date().toISOString() },
      });
      return id;
    },
    async cleanup() {
      await Promise.all(gateways.map((g) => g.close()));
      client.agent.destroy();
      await truthcore.close();
      await jf.close();
      pki.cleanup();
      await redis.cleanup();
      await serviceDb.close();
      await db.close();
      await tdb.drop();
    },
  };
}

export function jobRequest(overrides: Record<string, unknown> = {}) {
  return {
    id: randomUUID(),
    type: 'echo',
    payload: { type: 'echo', data: { n: 1 } },
    metadata: { source: 'gateway-test', createdAt: new Date().toISOString() },
    ...overrides,
  };
}

/** Nothing that names a host, port, path, library or internal service may reach the client. */
export function expectNoInternals(r: Reply): void {
  for (const leak of [
    '127.0.0.1',
    'ECONNREFUSED',
    'ECONNRESET',
    'jobforge',
    'truthcore',
    'postgres',
    'redis',
    'ioredis',
    '/v1/',
    '/srv/',
    'SELECT',
    'cockatiel',
    'stack',
    'Error:',
  ]) {
    expect(r.text.toLowerCase(), `leaks ${leak}`).not.toContain(leak.toLowerCase());
  }
}
