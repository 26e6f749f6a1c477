import { AppError } from '@controlplane/contracts';
import { CORRELATION_HEADER, injectTraceContext } from '@controlplane/platform';
import type { FastifyRequest } from 'fastify';
import type { RouteSpec, UpstreamService } from './route-table.js';
import type { Upstream } from './upstream.js';

/** The upstream services this gateway was given; TruthCore may be absent. */
export type Upstreams = Partial<Record<UpstreamService, Upstream>>;

/** Where a forwarded route goes: an internal service's route. */
export type UpstreamRoute = Exclude<RouteSpec['upstream'], { service: 'gateway' }>;

/** The upstream route of a table entry; an entry the gateway answers itself has none (a start-up error). */
export function upstreamRouteOf(spec: RouteSpec): UpstreamRoute {
  const up = spec.upstream;
  if (up.service === 'gateway') throw new Error(`route ${spec.id} is answered by the gateway, not forwarded`);
  return up;
}

export function upstreamOf(upstreams: Upstreams, service: UpstreamService): Upstream {
  const u = upstreams[service];
  if (!u) throw new AppError('SERVICE_UNAVAILABLE', { retryAfter: 30, message: 'This operation is not available on this deployment.' });
  return u;
}

/** The caller as the services see it. */
export function forwardedHeaders(req: FastifyRequest): Record<string, string> {
  const p = req.principal!;
  // Built from the authenticated key only: any x-cp-* header the client sent is dropped here.
  const headers: Record<string, string> = { 'x-cp-tenant': p.tenantId, 'x-cp-actor': p.actor, [CORRELATION_HEADER]: req.id };
  // The request's span is the parent of the upstream's (W3C traceparent), when tracing is on.
  injectTraceContext(headers);
  return headers;
}

/**
 * The upstream path from its template and the (router-decoded) parameters, each re-encoded as one
 * segment so a parameter like `../runners` cannot move the request to another upstream route.
 */
export function upstreamPath(template: string, params: Record<string, string | undefined>): string {
  return template.replace(/:([A-Za-z]+)/g, (_m, name: string) => {
    const v = params[name];
    if (v === undefined || v === '')
      throw new AppError('VALIDATION_FAILED', { details: [{ path: ['params', name], message: 'is required' }] });
    return encodeURIComponent(v);
  });
}

/** Rebuilt from the parsed query, so only name=value pairs (never raw bytes) reach the upstream. */
export function queryString(query: unknown): string {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    for (const item of Array.isArray(v) ? v : [v]) if (typeof item === 'string') out.append(k, item);
  }
  const s = out.toString();
  return s ? `?${s}` : '';
}
