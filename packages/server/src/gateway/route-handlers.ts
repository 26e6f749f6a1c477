import { AppError } from '@controlplane/contracts';
import { injectTraceContext } from '@controlplane/platform';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { runHealthChecks, type HealthProbe } from '../http/index.js';
import type { Database } from '../storage/index.js';
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
import type { RecordAudit } from './gateway-audit.js';
import { sessionHandlers } from './session-handlers.js';
import { uiAssetHandler, type loadUiAssets } from './ui-assets.js';
import type { SessionLimits, SessionStore } from './ui-sessions.js';
import { ROUTES, routeById, type RouteId, type RouteSpec } from './route-table.js';
import { SubmissionCoalescer } from './submission-coalescer.js';
import { registerTableRoute, type RouteHandler } from './table-routes.js';
import { forwardedHeaders, queryString, upstreamOf, upstreamPath, upstreamRouteOf, type Upstreams } from './upstream-request.js';

export const GATEWAY_SERVICE = 'gateway';

type TableRoute = (typeof ROUTES)[number];
/** Routes the gateway answers itself: the table's entries with `upstream: gateway`. */
type LocalRouteId = Extract<TableRoute, { upstream: { service: 'gateway' } }>['id'];

export interface RouteHandlerOptions {
  db: Database;
  /** Read side of the audit log for `GET /admin/audit`; without it that route answers 503. */
  auditQuery?: AuditReader | undefined;
  upstreams: Upstreams;
  version: string;
  probes: readonly HealthProbe[];
  /** Carries single submissions to JobForge together; without it each is forwarded alone. */
  coalescer?: SubmissionCoalescer | undefined;
  sessions: SessionStore;
  sessionLimits: SessionLimits;
  audit: RecordAudit;
  uiAssets: ReturnType<typeof loadUiAssets>;
}

/**
 * Every route of the table that is not a stream: the ones the gateway answers itself (health,
 * API keys, tenants, quotas, the audit log) and the ones it forwards to their upstream service.
 */
export const routeHandlers: FastifyPluginAsync<RouteHandlerOptions> = async (app, o) => {
  const admin = { db: o.db, auditQuery: o.auditQuery };
  const principal = (req: FastifyRequest) => req.principal!;

  const jobTypesList = upstreamRouteOf(routeById('jobTypes.get'));
  const submitJob = forward(routeById('jobs.submit'));
  const coalescer = o.coalescer;
  const session = sessionHandlers({ sessions: o.sessions, limits: o.sessionLimits, audit: o.audit });
  // Every local route has its handler (the type says so); any other entry with one here is
  // answered here too, and the rest are forwarded as their entry says.
  const handlers: Record<LocalRouteId, RouteHandler> & Partial<Record<RouteId, RouteHandler>> = {
    // Submissions travel to JobForge together (submission-coalescer.ts); a big one on its own.
    'jobs.submit': async (req, reply) => {
      const length = Number(req.headers['content-length']);
      if (!coalescer || !SubmissionCoalescer.fits(Number.isSafeInteger(length) ? length : undefined)) return submitJob(req, reply);
      const p = principal(req);
      // The request's trace context travels with its item, as it would in the forwarded headers.
      const trace: Record<string, string> = {};
      injectTraceContext(trace);
      const res = await coalescer.submit({
        tenantId: p.tenantId,
        actor: p.actor,
        correlationId: req.id,
        job: req.body,
        ...(trace.traceparent ? { traceparent: trace.traceparent } : {}),
      });
      return reply.code(res.status).send(res.body);
    },
    health: async (req, reply) => {
      const health = await runHealthChecks(GATEWAY_SERVICE, o.version, o.probes, req.log);
      return reply.code(health.status === 'unhealthy' ? 503 : 200).send(health);
    },
    'ui.assets': uiAssetHandler(o.uiAssets),
    'session.create': session.create,
    'session.get': session.get,
    'session.end': session.end,
    // JobForge has no single-type read: its list is fetched and filtered here.
    'jobTypes.get': async (req) => {
      const type = (req.params as { type?: string }).type;
      const res = await upstreamOf(o.upstreams, jobTypesList.service).call({
        method: 'GET',
        path: jobTypesList.path,
        headers: forwardedHeaders(req),
      });
      const found = (res.body as { jobTypes?: Array<{ type: string }> }).jobTypes?.find((t) => t.type === type);
      if (!found) throw new AppError('RESOURCE_NOT_FOUND', { params: { resource: 'job type' } });
      return found;
    },
    'apiKeys.create': async (req, reply) => {
      const created = await createKeyHandler(admin, principal(req), req.body);
      req.auditResource = { kind: 'apikey', id: created.id };
      return reply.code(201).send(created);
    },
    'apiKeys.list': async (req) => listKeysHandler(admin, principal(req), req.query),
    'apiKeys.revoke': async (req) => revokeKeyHandler(admin, principal(req), req),
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

  function forward(spec: RouteSpec): RouteHandler {
    const up = upstreamRouteOf(spec);
    return async (req, reply) => {
      const path = upstreamPath(up.path, req.params as Record<string, string>) + (up.method === 'GET' ? queryString(req.query) : '');
      const res = await upstreamOf(o.upstreams, up.service).call({
        method: up.method,
        path,
        body: up.method === 'GET' ? undefined : req.body,
        headers: forwardedHeaders(req),
      });
      return reply.code(res.status).send(res.body);
    };
  }

  for (const spec of ROUTES as readonly RouteSpec[]) {
    if (spec.stream) continue; // served by the stream proxy
    registerTableRoute(app, spec, handlers[spec.id as RouteId] ?? forward(spec));
  }
};
