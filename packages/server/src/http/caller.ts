import { ACTOR_ID_PATTERN, AppError, isTenantId } from '@controlplane/contracts';
import { getVerifiedPrincipal, type Principal } from '@controlplane/platform';
import type { FastifyRequest } from 'fastify';
import { enterTenant } from '../storage/internal.js';

/** Headers by which the gateway forwards the authenticated client; trusted only from the gateway's certificate. */
export const FORWARDED_TENANT = 'x-cp-tenant';
export const FORWARDED_ACTOR = 'x-cp-actor';

/** An actor id as the gateway forwards it (`apikey:<id>`, …). */
export function isForwardedActor(value: unknown): value is string {
  return typeof value === 'string' && ACTOR_ID_PATTERN.test(value);
}

/** The verified certificate identity of a trusted service (the gateway); FORBIDDEN for any other peer. */
export function trustedServicePeer(req: FastifyRequest, trustedServices: ReadonlySet<string>): Principal {
  const p = peerPrincipal(req);
  if (p.kind !== 'service' || !trustedServices.has(p.id)) throw new AppError('FORBIDDEN');
  return p;
}

/** The verified certificate identity of the TLS peer; CERTIFICATE_REQUIRED without one. */
export function peerPrincipal(req: FastifyRequest): Principal {
  const p = getVerifiedPrincipal(req.raw.socket);
  if (!p) throw new AppError('CERTIFICATE_REQUIRED');
  return p;
}

export interface ForwardedCaller {
  tenantId: string;
  actor: string;
  via: string;
}

/**
 * The client on whose behalf a trusted service (the gateway) calls. Any other certificate identity
 * sending these headers is refused: a runner cannot pose as a tenant's API client.
 */
export function forwardedCaller(req: FastifyRequest, trustedServices: ReadonlySet<string>): ForwardedCaller {
  const p = trustedServicePeer(req, trustedServices);
  const tenant = req.headers[FORWARDED_TENANT];
  const actor = req.headers[FORWARDED_ACTOR];
  if (!isTenantId(tenant)) throw new AppError('AUTHENTICATION_REQUIRED', { message: 'The forwarded tenant is missing or malformed.' });
  if (!isForwardedActor(actor)) throw new AppError('AUTHENTICATION_REQUIRED', { message: 'The forwarded actor is missing or malformed.' });
  enterTenant(tenant);
  return { tenantId: tenant, actor, via: p.id };
}
