import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { PRODUCT_VERSION } from '@controlplane/contracts';
import { InMemoryNonceStore, type Logger, type NonceStore, type Tracing } from '@controlplane/platform';
import type { AuditSink } from '../audit/index.js';
import { createHttpApp, type HealthProbe, type HttpApp } from '../http/index.js';
import { BREAKER_STATE, type ServerMetrics } from '../observability/index.js';
import type { RedisKeys } from '../redis/index.js';
import type { Database } from '../storage/index.js';
import { accessControl } from './access-control.js';
import type { AuditReader } from './audit-port.js';
import { ApiKeyAuthenticator } from './authenticator.js';
import { DependencyGuard } from './dependency-guard.js';
import { auditRecorder } from './gateway-audit.js';
import { DEFAULT_GATEWAY_LIMITS, type GatewayLimits } from './gateway-limits.js';
import { LoadShedder } from './load-shedding.js';
import {
  InMemoryFailureCounter,
  InMemoryRateLimiter,
  RedisFailureCounter,
  RedisNonceStore,
  RedisRateLimiter,
  type FailureCounter,
  type RateLimiter,
} from './rate-limits.js';
import { requestSignatures } from './request-signatures.js';
import { GATEWAY_SERVICE, routeHandlers } from './route-handlers.js';
import { streamProxy, type StreamGauge } from './stream-proxy.js';
import { SubmissionCoalescer } from './submission-coalescer.js';
import { loadUiAssets } from './ui-assets.js';
import { SessionStore } from './ui-sessions.js';
import { Upstream, type UpstreamTarget } from './upstream.js';
import type { Upstreams } from './upstream-request.js';

export interface GatewayOptions {
  db: Database;
  /** Shared Redis for limits and nonces across replicas; absent = embedded mode (in-process). */
  redis?: { client: Redis; keys: RedisKeys } | undefined;
  logger: Logger;
  /** The public HTTPS certificate (may be the gateway's service certificate). */
  tls: { cert: string | Buffer; key: string | Buffer };
  listen?: { host: string; port: number };
  upstreams: { jobforge: UpstreamTarget; truthcore?: UpstreamTarget | undefined };
  limits?: Partial<GatewayLimits>;
  auditSink: AuditSink;
  /** Read side of the audit log for `GET /admin/audit`; without it that route answers 503. */
  auditQuery?: AuditReader | undefined;
  version?: string;
  /** More /health probes (the composition's: encryption at rest, audit checkpoints). */
  healthProbes?: readonly HealthProbe[];
  /** The process's metrics: the gateway adds HTTP, rate-limit, breaker, pool and Redis metrics. */
  metrics?: ServerMetrics | undefined;
  /** A span per request, continuing the client's W3C traceparent, carried to the upstreams (off by default). */
  tracing?: Tracing | undefined;
  /** The built dashboard served at /ui/ (default: packages/web/dist); without a build /ui/ answers 404. */
  uiDir?: string | undefined;
}

export interface GatewayMetrics {
  inFlight: number;
  openStreams: number;
  eventLoopDelayMs: number;
  breakers: Record<string, 'open' | 'closed'>;
  /** Messages sent to JobForge carrying coalesced submissions, and the submissions they carried. */
  coalesced: { messages: number; submissions: number };
}

export interface GatewayServer {
  url: string;
  app: HttpApp;
  metrics(): GatewayMetrics;
  close(): Promise<void>;
}

/**
 * The gateway: one HTTPS listener whose routes all come from the route table (route-table.ts). Four
 * plugins divide the work, registered in this order because the first two attach their hooks to the
 * routes the last two register, as each table entry asks: access control (every route not public),
 * request signatures and the audit of critical operations (`signed`, `audit`), the stream proxy
 * (`stream`) and the route handlers (everything else, answered here or forwarded).
 */
export async function startGateway(o: GatewayOptions): Promise<GatewayServer> {
  const limits: GatewayLimits = { ...DEFAULT_GATEWAY_LIMITS, ...o.limits };
  const version = o.version ?? PRODUCT_VERSION;
  const guardOptions = { threshold: limits.breakerThreshold, halfOpenAfterMs: limits.breakerHalfOpenAfterMs };
  const dbGuard = new DependencyGuard('postgres', guardOptions);
  const redisGuard = new DependencyGuard('redis', guardOptions);
  const { limiter, failures, nonces } = sharedLimitState(o.redis, limits, redisGuard);

  const policy = {
    timeoutMs: limits.upstreamTimeoutMs,
    retries: limits.upstreamRetries,
    breakerThreshold: limits.breakerThreshold,
    breakerHalfOpenAfterMs: limits.breakerHalfOpenAfterMs,
    maxConcurrent: limits.upstreamMaxConcurrent,
    maxQueued: limits.upstreamMaxQueued,
  };
  const upstreams: Upstreams = {
    jobforge: new Upstream('jobforge', o.upstreams.jobforge, policy, o.logger),
    ...(o.upstreams.truthcore ? { truthcore: new Upstream('truthcore', o.upstreams.truthcore, policy, o.logger) } : {}),
  };
  const authenticator = new ApiKeyAuthenticator({
    db: o.db,
    guard: dbGuard,
    logger: o.logger,
    lastUsedIntervalSeconds: limits.lastUsedIntervalSeconds,
  });
  const sessions = new SessionStore({ db: o.db, guard: dbGuard, limits });
  const shedder = new LoadShedder({ maxInFlight: limits.maxInFlight, maxEventLoopDelayMs: limits.maxEventLoopDelayMs });
  const streams: StreamGauge = { open: 0 };
  const probes: HealthProbe[] = [
    { name: 'database', check: async () => void (await dbGuard.run(() => o.db.query('select 1'))) },
    ...(o.redis ? [{ name: 'redis', check: async () => void (await redisGuard.run(() => o.redis!.client.ping())) }] : []),
    ...Object.values(upstreams).map((u) => ({
      name: u.name,
      critical: false,
      check: async () => {
        if (u.breakerOpen) throw new Error(`${u.name} circuit open`);
      },
    })),
    ...(o.healthProbes ?? []),
  ];

  const app = createHttpApp({
    service: GATEWAY_SERVICE,
    logger: o.logger,
    https: { cert: o.tls.cert, key: o.tls.key, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' },
    bodyLimitBytes: limits.bodyLimitBytes,
    jsonMaxDepth: limits.jsonMaxDepth,
    headersTimeoutMs: limits.headersTimeoutMs,
    requestTimeoutMs: limits.requestTimeoutMs,
    idleTimeoutMs: limits.idleTimeoutMs,
    keepAliveTimeoutMs: limits.keepAliveTimeoutMs,
    metrics: o.metrics,
    tracing: o.tracing,
  });
  const audit = auditRecorder(o.auditSink);
  const metrics = o.metrics;
  await app.register(accessControl, {
    limits,
    shedder,
    limiter,
    failures,
    authenticator,
    sessions,
    audit,
    onRateLimited: metrics ? (scope) => metrics.rateLimited.inc({ scope }) : undefined,
  });
  await app.register(requestSignatures, { limits, nonces, audit });
  await app.register(streamProxy, { upstreams, gauge: streams });
  const coalescer = upstreams.jobforge ? new SubmissionCoalescer(upstreams.jobforge, o.logger) : undefined;
  await app.register(routeHandlers, {
    db: o.db,
    auditQuery: o.auditQuery,
    upstreams,
    version,
    probes,
    coalescer,
    sessions,
    sessionLimits: limits,
    audit,
    uiAssets: loadUiAssets(o.uiDir),
  });

  try {
    await app.listen({ host: o.listen?.host ?? '127.0.0.1', port: o.listen?.port ?? 8443 });
  } catch (err) {
    shedder.stop();
    throw err;
  }
  const addr = app.server.address() as AddressInfo;
  const host = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  o.logger.info({ port: addr.port, mode: o.redis ? 'redis' : 'embedded' }, 'gateway listening');
  const unwatch = metrics
    ? [
        metrics.onCollect(() => {
          const guards = [dbGuard, ...(o.redis ? [redisGuard] : [])];
          for (const g of guards) metrics.breakerState.set({ service: GATEWAY_SERVICE, dependency: g.name }, BREAKER_STATE[g.state]);
          for (const u of Object.values(upstreams))
            metrics.breakerState.set({ service: GATEWAY_SERVICE, dependency: u.name }, BREAKER_STATE[u.breakerState]);
        }),
        metrics.watchPool(GATEWAY_SERVICE, o.db.poolStats),
      ]
    : [];

  let closing: Promise<void> | undefined;
  return {
    url: `https://${host}:${addr.port}`,
    app,
    metrics: () => ({
      inFlight: shedder.inFlight,
      openStreams: streams.open,
      eventLoopDelayMs: shedder.eventLoopDelayMs,
      breakers: Object.fromEntries(Object.values(upstreams).map((u) => [u.name, u.breakerOpen ? 'open' : 'closed'])),
      coalesced: coalescer?.counts ?? { messages: 0, submissions: 0 },
    }),
    close() {
      closing ??= (async () => {
        for (const u of unwatch) u();
        await app.close();
        shedder.stop();
        await authenticator.drain();
      })();
      return closing;
    },
  };
}

/** Rate buckets, failure counts and signature nonces: in Redis, shared by every replica, or in process. */
function sharedLimitState(
  redis: GatewayOptions['redis'],
  limits: GatewayLimits,
  guard: DependencyGuard,
): { limiter: RateLimiter; failures: FailureCounter; nonces: NonceStore } {
  if (redis) {
    return {
      limiter: new RedisRateLimiter(redis.client, redis.keys, guard),
      failures: new RedisFailureCounter(redis.client, redis.keys, limits.authFailures, guard),
      nonces: new RedisNonceStore(redis.client, redis.keys, guard),
    };
  }
  return {
    limiter: new InMemoryRateLimiter(),
    failures: new InMemoryFailureCounter(limits.authFailures),
    nonces: new InMemoryNonceStore(),
  };
}
