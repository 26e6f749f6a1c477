import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, PRODUCT_VERSION } from '@controlplane/contracts';
import {
  CORRELATION_HEADER,
  DEFAULT_SIGNATURE_WINDOW_SECONDS,
  InMemoryNonceStore,
  SIGNATURE_HEADER,
  verifyRequestSignature,
  type Logger,
  type NonceStore,
} from '@controlplane/platform';
import type { AuditEvent, AuditSink } from '../audit/index.js';
import { createHttpApp, parseJsonBody, runHealthChecks, SECURITY_HEADERS, type HealthProbe, type HttpApp } from '../http/index.js';
import type { RedisKeys } from '../redis/index.js';
import type { Database } from '../storage/index.js';
import { checkJobQuota, payloadBytesOf } from '../tenancy/index.js';
import {
  auditQueryHandler,
  createKeyHandler,
  createTenantHandler,
  getQuotasHandler,
  listKeysHandler,
  listTenantsHandler,
  putQuotasHandler,
  revokeKeyHandler,
} from './admin-handlers.js';
import type { AuditReader } from './audit-port.js';
import { ApiKeyAuthenticator } from './authenticator.js';
import { DependencyGuard } from './dependency-guard.js';
import { LoadShedder } from './load-shedding.js';
import {
  InMemoryFailureCounter,
  InMemoryRateLimiter,
  RedisFailureCounter,
  RedisNonceStore,
  RedisRateLimiter,
  type FailureCounter,
  type FailureRule,
  type RateLimiter,
  type RateRule,
} from './rate-limits.js';
import { authorize, type GatewayPrincipal } from './rbac.js';
import { ROUTES, type RouteId, type RouteSpec, type UpstreamService } from './route-table.js';
import { Upstream, type UpstreamTarget } from './upstream.js';
import { enterSystem, enterTenant } from '../storage/data-scope.js';

export const GATEWAY_SERVICE = 'gateway';

declare module 'fastify' {
  interface FastifyRequest {
    principal: GatewayPrincipal | undefined;
    /** The body bytes exactly as received: what request signatures cover. */
    rawBody: Buffer | undefined;
    signatureVerified: boolean;
    /** Resource an audited route acted on, when the handler knows better than the path. */
    auditResource: { kind: string; id: string } | undefined;
  }
  interface FastifyContextConfig {
    spec?: RouteSpec;
  }
}

export interface GatewayLimits {
  bodyLimitBytes: number;
  jsonMaxDepth: number;
  /** Headers must arrive within this (slow-loris bound). */
  headersTimeoutMs: number;
  /** The whole request must arrive within this. */
  requestTimeoutMs: number;
  /** A connection idle this long is closed; keep it above the 15 s SSE keep-alive interval. */
  idleTimeoutMs: number;
  keepAliveTimeoutMs: number;
  perAddress: RateRule;
  perKey: RateRule;
  /** Default per-tenant bucket; tenant_quotas.requests_per_second / burst override it per tenant. */
  perTenant: RateRule;
  /** Authentication failures per source address before it is refused for the rest of the window. */
  authFailures: FailureRule;
  maxInFlight: number;
  maxEventLoopDelayMs: number;
  upstreamTimeoutMs: number;
  upstreamRetries: number;
  breakerThreshold: number;
  breakerHalfOpenAfterMs: number;
  upstreamMaxConcurrent: number;
  upstreamMaxQueued: number;
  signatureWindowSeconds: number;
  lastUsedIntervalSeconds: number;
}

export const DEFAULT_GATEWAY_LIMITS: Readonly<GatewayLimits> = Object.freeze({
  bodyLimitBytes: 1_048_576,
  jsonMaxDepth: 64,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  perAddress: { capacity: 300, refillPerSecond: 150 },
  perKey: { capacity: 100, refillPerSecond: 50 },
  perTenant: { capacity: 500, refillPerSecond: 250 },
  authFailures: { max: 20, windowSeconds: 300 },
  maxInFlight: 2_000,
  maxEventLoopDelayMs: 250,
  upstreamTimeoutMs: 10_000,
  upstreamRetries: 2,
  breakerThreshold: 5,
  breakerHalfOpenAfterMs: 5_000,
  upstreamMaxConcurrent: 256,
  upstreamMaxQueued: 1_024,
  signatureWindowSeconds: DEFAULT_SIGNATURE_WINDOW_SECONDS,
  lastUsedIntervalSeconds: 60,
});

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
}

export interface GatewayMetrics {
  inFlight: number;
  openStreams: number;
  eventLoopDelayMs: number;
  breakers: Record<string, 'open' | 'closed'>;
}

export interface GatewayServer {
  url: string;
  app: HttpApp;
  metrics(): GatewayMetrics;
  close(): Promise<void>;
}

type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** Answers the health check without authentication, limits or shedding, and without detail. */
const isHealth = (req: FastifyRequest) => req.routeOptions.config?.spec?.id === 'health';

export async function startGateway(o: GatewayOptions): Promise<GatewayServer> {
  const limits: GatewayLimits = { ...DEFAULT_GATEWAY_LIMITS, ...o.limits };
  const version = o.version ?? PRODUCT_VERSION;
  const guardOptions = { threshold: limits.breakerThreshold, halfOpenAfterMs: limits.breakerHalfOpenAfterMs };
  const dbGuard = new DependencyGuard('postgres', guardOptions);
  const redisGuard = new DependencyGuard('redis', guardOptions);

  let limiter: RateLimiter;
  let failures: FailureCounter;
  let nonces: NonceStore;
  if (o.redis) {
    limiter = new RedisRateLimiter(o.redis.client, o.redis.keys, redisGuard);
    failures = new RedisFailureCounter(o.redis.client, o.redis.keys, limits.authFailures, redisGuard);
    nonces = new RedisNonceStore(o.redis.client, o.redis.keys, redisGuard);
  } else {
    limiter = new InMemoryRateLimiter();
    failures = new InMemoryFailureCounter(limits.authFailures);
    nonces = new InMemoryNonceStore();
  }

  const policy = {
    timeoutMs: limits.upstreamTimeoutMs,
    retries: limits.upstreamRetries,
    breakerThreshold: limits.breakerThreshold,
    breakerHalfOpenAfterMs: limits.breakerHalfOpenAfterMs,
    maxConcurrent: limits.upstreamMaxConcurrent,
    maxQueued: limits.upstreamMaxQueued,
  };
  const upstreams: Partial<Record<UpstreamService, Upstream>> = {
    jobforge: new Upstream('jobforge', o.upstreams.jobforge, policy, o.logger),
    ...(o.upstreams.truthcore ? { truthcore: new Upstream('truthcore', o.upstreams.truthcore, policy, o.logger) } : {}),
  };
  const authenticator = new ApiKeyAuthenticator({
    db: o.db,
    guard: dbGuard,
    logger: o.logger,
    lastUsedIntervalSeconds: limits.lastUsedIntervalSeconds,
  });
  const shedder = new LoadShedder({ maxInFlight: limits.maxInFlight, maxEventLoopDelayMs: limits.maxEventLoopDelayMs });
  let openStreams = 0;

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
  });

  // Same parser as every service, but keeping the bytes: signatures cover the body as received.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: limits.bodyLimitBytes }, (req, body, done) => {
    const raw = body as Buffer;
    req.rawBody = raw;
    try {
      done(null, parseJsonBody(raw.toString('utf8'), limits.jsonMaxDepth));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.decorateRequest('principal', undefined);
  app.decorateRequest('rawBody', undefined);
  app.decorateRequest('signatureVerified', false);
  app.decorateRequest('auditResource', undefined);

  async function audit(
    req: FastifyRequest,
    event: Omit<AuditEvent, 'tenantId' | 'actor' | 'correlationId' | 'sourceAddress'> & {
      tenantId?: string | null;
      actor?: AuditEvent['actor'];
    },
  ): Promise<void> {
    const p = req.principal;
    try {
      await o.auditSink.record({
        tenantId: event.tenantId !== undefined ? event.tenantId : (p?.tenantId ?? null),
        actor: event.actor ?? (p ? { kind: 'apikey', id: p.keyId } : { kind: 'anonymous', id: req.ip }),
        action: event.action,
        resource: event.resource,
        outcome: event.outcome,
        correlationId: req.id,
        sourceAddress: req.ip,
        details: event.details,
      });
    } catch (err) {
      req.log.error({ err, action: event.action }, 'could not record an audit event');
    }
  }

  // Before anything else: shed load, then charge the source address. Unmatched routes pay too, so
  // scanning for routes is rate-limited like everything else.
  app.addHook('onRequest', async (req, reply) => {
    if (isHealth(req)) return;
    const release = shedder.admit();
    reply.raw.once('close', release);
    const d = await limiter.take(['addr', req.ip], limits.perAddress);
    if (!d.allowed) throw new AppError('RATE_LIMITED', { retryAfter: Math.ceil(d.retryAfterMs / 1000) });
  });

  async function authenticateAndAuthorize(req: FastifyRequest): Promise<void> {
    const spec = req.routeOptions.config.spec!;
    const presented = bearerToken(req.headers.authorization);
    if (presented === undefined) {
      authorize(spec, undefined);
      return;
    }
    // Blocked addresses are refused before the key is looked at, so guessing stops, not just slows.
    const blockedMs = await failures.blockedForMs(req.ip);
    if (blockedMs > 0) throw new AppError('RATE_LIMITED', { retryAfter: Math.ceil(blockedMs / 1000) });
    const outcome = await authenticator.authenticate(presented);
    if (!outcome.ok) {
      await failures.recordFailure(req.ip);
      await audit(req, {
        tenantId: null,
        action: 'auth.failed',
        outcome: 'failure',
        details: { reason: outcome.reason, ...(outcome.keyId ? { keyId: outcome.keyId } : {}), route: spec.id },
      });
      throw new AppError('AUTHENTICATION_FAILED');
    }
    const p = outcome.principal;
    req.principal = p;
    req.ctx.principal = { kind: 'apikey', id: p.keyId, tenantId: p.tenantId };
    // From here on the request's queries see only its tenant's rows; a platform administrator's
    // requests manage tenants and so see them all.
    if (p.platformAdmin) enterSystem('platform administrator');
    else enterTenant(p.tenantId);
    // Limits before the role check: refused requests cost a key its tokens too, so a key cannot
    // flood the audit log with access.denied events faster than it may make requests.
    const tenantRule: RateRule = {
      capacity: outcome.tenantRate.burst ?? outcome.tenantRate.requestsPerSecond ?? limits.perTenant.capacity,
      refillPerSecond: outcome.tenantRate.requestsPerSecond ?? limits.perTenant.refillPerSecond,
    };
    const [byKey, byTenant] = await Promise.all([
      limiter.take(['key', p.keyId], limits.perKey),
      limiter.take(['tenant', p.tenantId], tenantRule),
    ]);
    if (!byKey.allowed || !byTenant.allowed) {
      throw new AppError('RATE_LIMITED', { retryAfter: Math.ceil(Math.max(byKey.retryAfterMs, byTenant.retryAfterMs) / 1000) });
    }
    try {
      authorize(spec, p);
    } catch (err) {
      await audit(req, { action: 'access.denied', outcome: 'denied', details: { route: spec.id, role: p.role } });
      throw err;
    }
  }

  async function verifySignature(req: FastifyRequest): Promise<void> {
    const p = req.principal!;
    try {
      await verifyRequestSignature({
        method: req.method,
        url: req.url,
        body: req.rawBody,
        header: req.headers[SIGNATURE_HEADER],
        // Only the calling key's own public key verifies: a signature by any other key is invalid.
        publicKeyFor: async (keyId) => (keyId === p.keyId ? p.signingPublicKey : undefined),
        nonceStore: nonces,
        windowSeconds: limits.signatureWindowSeconds,
      });
    } catch (err) {
      const code = err instanceof AppError ? err.code : 'INTERNAL';
      await audit(req, { action: 'signature.failed', outcome: 'denied', details: { route: req.routeOptions.config.spec?.id, code } });
      throw err;
    }
    req.signatureVerified = true;
  }

  const forwardHeaders = (req: FastifyRequest): Record<string, string> => {
    const p = req.principal!;
    // Built from the authenticated key only: any x-cp-* header the client sent is dropped here.
    return { 'x-cp-tenant': p.tenantId, 'x-cp-actor': p.actor, [CORRELATION_HEADER]: req.id };
  };

  const upstreamFor = (service: UpstreamService): Upstream => {
    const u = upstreams[service];
    if (!u) throw new AppError('SERVICE_UNAVAILABLE', { retryAfter: 30, message: 'This operation is not available on this deployment.' });
    return u;
  };

  function forward(spec: RouteSpec): Handler {
    const up = spec.upstream;
    if (up.service === 'gateway') throw new Error(`route ${spec.id} is not forwarded`);
    return async (req, reply) => {
      const path = upstreamPath(up.path, req.params as Record<string, string>) + (up.method === 'GET' ? queryString(req.query) : '');
      const res = await upstreamFor(up.service).call({
        method: up.method,
        path,
        body: up.method === 'GET' ? undefined : req.body,
        headers: forwardHeaders(req),
      });
      return reply.code(res.status).send(res.body);
    };
  }

  async function streamEvents(req: FastifyRequest, reply: FastifyReply, spec: RouteSpec): Promise<void> {
    const up = spec.upstream as { service: UpstreamService; path: string };
    const headers = forwardHeaders(req);
    const lastEventId = req.headers['last-event-id'];
    if (typeof lastEventId === 'string' && /^\d{1,19}$/.test(lastEventId)) headers['last-event-id'] = lastEventId;
    const { response, abort } = await upstreamFor(up.service).openStream({
      path: upstreamPath(up.path, req.params as Record<string, string>) + queryString(req.query),
      headers,
    });
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'x-accel-buffering': 'no',
      [CORRELATION_HEADER]: req.id,
    });
    openStreams += 1;
    let closed = false;
    // Whichever side goes first, the other is closed: a client that leaves frees the upstream
    // stream (and JobForge's poller) at once, and an upstream that dies ends the client's stream.
    const finish = () => {
      if (closed) return;
      closed = true;
      openStreams -= 1;
      abort();
      response.destroy();
      if (!res.writableEnded) res.end();
    };
    res.once('close', finish);
    response.once('error', finish);
    response.once('end', finish);
    response.pipe(res, { end: false });
  }

  const admin = { db: o.db, auditQuery: o.auditQuery };
  const principal = (req: FastifyRequest) => req.principal!;
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
  ];

  const handlers: Record<RouteId, Handler> = {
    health: async (req, reply) => {
      const health = await runHealthChecks(GATEWAY_SERVICE, version, probes, req.log);
      return reply.code(health.status === 'unhealthy' ? 503 : 200).send(health);
    },
    'jobs.submit': async (req, reply) => {
      const body = req.body as { payload?: unknown } | undefined;
      await dbGuard.run(() => checkJobQuota(o.db, principal(req).tenantId, 1, payloadBytesOf(body?.payload)));
      return forward(routeSpec('jobs.submit'))(req, reply);
    },
    'jobs.submitBatch': async (req, reply) => {
      const jobs = (req.body as { jobs?: unknown } | undefined)?.jobs;
      if (Array.isArray(jobs) && jobs.length > 0) {
        const largest = Math.max(...jobs.map((j) => payloadBytesOf((j as { payload?: unknown } | null)?.payload)));
        await dbGuard.run(() => checkJobQuota(o.db, principal(req).tenantId, jobs.length, largest));
      }
      return forward(routeSpec('jobs.submitBatch'))(req, reply);
    },
    'jobs.list': forward(routeSpec('jobs.list')),
    'jobs.get': forward(routeSpec('jobs.get')),
    'jobs.cancel': forward(routeSpec('jobs.cancel')),
    'jobs.retry': forward(routeSpec('jobs.retry')),
    'jobs.events': (req, reply) => streamEvents(req, reply, routeSpec('jobs.events')),
    'jobs.attempts': forward(routeSpec('jobs.attempts')),
    'jobs.provenance': forward(routeSpec('jobs.provenance')),
    'truth.assert': forward(routeSpec('truth.assert')),
    'truth.query': forward(routeSpec('truth.query')),
    'truth.assertion': forward(routeSpec('truth.assertion')),
    'truth.subscribe': (req, reply) => streamEvents(req, reply, routeSpec('truth.subscribe')),
    'apiKeys.create': async (req, reply) => {
      const created = await createKeyHandler(admin, principal(req), req.body);
      req.auditResource = { kind: 'apikey', id: created.id };
      return reply.code(201).send(created);
    },
    'apiKeys.list': async (req) => listKeysHandler(admin, principal(req), req.query),
    'apiKeys.revoke': async (req) => revokeKeyHandler(admin, principal(req), req),
    'joinTokens.create': forward(routeSpec('joinTokens.create')),
    'runners.list': forward(routeSpec('runners.list')),
    'runners.revoke': forward(routeSpec('runners.revoke')),
    'jobTypes.list': forward(routeSpec('jobTypes.list')),
    'jobTypes.get': async (req) => {
      const type = (req.params as { type?: string }).type;
      const res = await upstreamFor('jobforge').call({ method: 'GET', path: '/v1/job-types', headers: forwardHeaders(req) });
      const found = (res.body as { jobTypes?: Array<{ type: string }> }).jobTypes?.find((t) => t.type === type);
      if (!found) throw new AppError('RESOURCE_NOT_FOUND', { params: { resource: 'job type' } });
      return found;
    },
    'jobTypes.put': forward(routeSpec('jobTypes.put')),
    'tenants.create': async (req, reply) => {
      const t = await createTenantHandler(admin, req.body);
      req.auditResource = { kind: 'tenant', id: t.id };
      return reply.code(201).send(t);
    },
    'tenants.list': async (req) => listTenantsHandler(admin, req.query),
    'quotas.put': async (req) => putQuotasHandler(admin, principal(req), req),
    'quotas.get': async (req) => getQuotasHandler(admin, principal(req), req),
    'audit.query': async (req) => auditQueryHandler(admin, principal(req), req.query),
  };

  for (const spec of ROUTES as readonly RouteSpec[]) {
    app.route({
      method: spec.method,
      url: spec.path,
      config: { spec },
      onRequest: spec.access === 'public' ? [] : [authenticateAndAuthorize],
      preHandler: spec.signed ? [verifySignature] : [],
      onResponse: spec.audit
        ? [
            async (req: FastifyRequest, reply: FastifyReply) => {
              if (!req.signatureVerified) return; // refusals before this point have their own events
              const params = req.params as { id?: string; type?: string };
              const id = params.id ?? params.type;
              await audit(req, {
                action: spec.audit!,
                outcome: reply.statusCode < 400 ? 'success' : 'failure',
                // The action names its resource kind: `runner.revoke` acts on the runner :id.
                resource: req.auditResource ?? (id ? { kind: spec.audit!.split('.')[0]!, id } : undefined),
                details: { status: reply.statusCode },
              });
            },
          ]
        : [],
      handler: handlers[spec.id as RouteId],
    });
  }

  try {
    await app.listen({ host: o.listen?.host ?? '127.0.0.1', port: o.listen?.port ?? 8443 });
  } catch (err) {
    shedder.stop();
    throw err;
  }
  const addr = app.server.address() as AddressInfo;
  const host = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  o.logger.info({ port: addr.port, mode: o.redis ? 'redis' : 'embedded' }, 'gateway listening');

  let closing: Promise<void> | undefined;
  return {
    url: `https://${host}:${addr.port}`,
    app,
    metrics: () => ({
      inFlight: shedder.inFlight,
      openStreams,
      eventLoopDelayMs: shedder.eventLoopDelayMs,
      breakers: Object.fromEntries(Object.values(upstreams).map((u) => [u.name, u.breakerOpen ? 'open' : 'closed'])),
    }),
    close() {
      closing ??= (async () => {
        await app.close();
        shedder.stop();
        await authenticator.drain();
      })();
      return closing;
    },
  };
}

function routeSpec(id: RouteId): RouteSpec {
  return ROUTES.find((r) => r.id === id)!;
}

/** `Authorization: Bearer <key>`; undefined when absent, '' (always invalid) when malformed. */
function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const m = /^Bearer +(\S{1,512})\s*$/i.exec(header);
  return m ? m[1]! : '';
}

/**
 * The upstream path from its template and the (router-decoded) parameters, each re-encoded as one
 * segment so a parameter like `../runners` cannot move the request to another upstream route.
 */
export function upstreamPath(template: string, params: Record<string, string | undefined>): string {
  return template.replace(/:([A-Za-z]+)/g, (_m, name: string) => {
    const v = params[name];
    if (v === undefined || v === '')
      throw new AppError('VALIDATION_FAILED', { details: [{ path: `params.${name}`, message: 'is required' }] });
    return encodeURIComponent(v);
  });
}

/** Rebuilt from the parsed query, so only name=value pairs (never raw bytes) reach the upstream. */
function queryString(query: unknown): string {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    for (const item of Array.isArray(v) ? v : [v]) if (typeof item === 'string') out.append(k, item);
  }
  const s = out.toString();
  return s ? `?${s}` : '';
}
