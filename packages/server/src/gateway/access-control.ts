import { AppError } from '@controlplane/contracts';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { enterSystem, enterTenant } from '../storage/internal.js';
import type { ApiKeyAuthenticator } from './authenticator.js';
import type { RecordAudit } from './gateway-audit.js';
import type { GatewayLimits } from './gateway-limits.js';
import type { LoadShedder } from './load-shedding.js';
import type { FailureCounter, RateLimiter, RateRule } from './rate-limits.js';
import { authorize, type GatewayPrincipal } from './rbac.js';
import { tableEntryOf, withHook } from './table-routes.js';
import { checkCrossSite, sessionTokenOf, type SessionStore, type UiSession } from './ui-sessions.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller; set by access control on every route that is not public. */
    principal: GatewayPrincipal | undefined;
    /** The dashboard session the request came with; absent for API key requests. */
    uiSession: UiSession | undefined;
  }
}

export interface AccessControlOptions {
  limits: Pick<GatewayLimits, 'perAddress' | 'perKey' | 'perTenant'>;
  shedder: LoadShedder;
  limiter: RateLimiter;
  failures: FailureCounter;
  authenticator: ApiKeyAuthenticator;
  sessions: SessionStore;
  audit: RecordAudit;
  /** Counts refusals by the bucket that refused them. */
  onRateLimited?: ((scope: 'address' | 'key' | 'tenant' | 'auth_failures') => void) | undefined;
}

/**
 * Load shedding and the per-address limit for every request (unmatched ones included), then, on
 * each route whose table entry is not `public`: the API key, the per-key and per-tenant limits and
 * the role check. Wrapped with fastify-plugin so its hooks reach the route plugins registered after
 * it; it must be registered before them.
 */
export const accessControl = fp<AccessControlOptions>(
  async (app, o) => {
    app.decorateRequest('principal', undefined);
    app.decorateRequest('uiSession', undefined);

    // Before anything else: shed load, then charge the source address. Unmatched routes pay too, so
    // scanning for routes is rate-limited like everything else. The health check pays nothing.
    app.addHook('onRequest', async (req, reply) => {
      if (req.routeOptions.config?.spec?.id === 'health') return;
      const release = o.shedder.admit();
      reply.raw.once('close', release);
      const d = await o.limiter.take(['addr', req.ip], o.limits.perAddress);
      if (!d.allowed) {
        o.onRateLimited?.('address');
        throw new AppError('RATE_LIMITED', { retryAfter: Math.ceil(d.retryAfterMs / 1000) });
      }
    });

    async function authenticateAndAuthorize(req: FastifyRequest): Promise<void> {
      const spec = req.routeOptions.config.spec!;
      const presented = bearerToken(req.headers.authorization);
      // Without an API key, a dashboard session cookie (ui-sessions.ts) stands for its key.
      const sessionToken = presented === undefined ? sessionTokenOf(req.headers.cookie) : undefined;
      if (presented === undefined && sessionToken === undefined) {
        authorize(spec, undefined);
        return;
      }
      // Blocked addresses are refused before the key is looked at, so guessing stops, not just slows.
      const blockedMs = await o.failures.blockedForMs(req.ip);
      if (blockedMs > 0) {
        o.onRateLimited?.('auth_failures');
        throw new AppError('RATE_LIMITED', { retryAfter: Math.ceil(blockedMs / 1000) });
      }
      const outcome =
        presented !== undefined ? await o.authenticator.authenticate(presented) : await o.sessions.authenticate(sessionToken!);
      if (!outcome.ok) {
        await o.failures.recordFailure(req.ip);
        await o.audit(req, {
          tenantId: null,
          action: 'auth.failed',
          outcome: 'failure',
          details: {
            reason: outcome.reason,
            ...(outcome.keyId ? { keyId: outcome.keyId } : {}),
            route: spec.id,
            ...(presented === undefined ? { via: 'session' } : {}),
          },
        });
        throw new AppError('AUTHENTICATION_FAILED');
      }
      const session = 'session' in outcome ? (outcome as { session: UiSession }).session : undefined;
      if (session) {
        // Before anything acts on the request: a forged cross-site request stops here.
        try {
          checkCrossSite(req, session.csrfToken);
        } catch (err) {
          await o.audit(req, {
            tenantId: outcome.principal.tenantId,
            actor: { kind: 'apikey', id: outcome.principal.keyId },
            action: 'access.denied',
            outcome: 'denied',
            details: { route: spec.id, reason: 'cross_site' },
          });
          throw err;
        }
        req.uiSession = session;
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
        capacity: outcome.tenantRate.burst ?? outcome.tenantRate.requestsPerSecond ?? o.limits.perTenant.capacity,
        refillPerSecond: outcome.tenantRate.requestsPerSecond ?? o.limits.perTenant.refillPerSecond,
      };
      const [byKey, byTenant] = await Promise.all([
        o.limiter.take(['key', p.keyId], o.limits.perKey),
        o.limiter.take(['tenant', p.tenantId], tenantRule),
      ]);
      if (!byKey.allowed || !byTenant.allowed) {
        o.onRateLimited?.(byKey.allowed ? 'tenant' : 'key');
        throw new AppError('RATE_LIMITED', { retryAfter: Math.ceil(Math.max(byKey.retryAfterMs, byTenant.retryAfterMs) / 1000) });
      }
      try {
        authorize(spec, p);
      } catch (err) {
        await o.audit(req, { action: 'access.denied', outcome: 'denied', details: { route: spec.id, role: p.role } });
        throw err;
      }
    }

    app.addHook('onRoute', (route) => {
      if (tableEntryOf(route).access === 'public') return;
      route.onRequest = withHook(route.onRequest, authenticateAndAuthorize);
    });
  },
  { name: 'gateway-access-control', fastify: '5.x' },
);

/** `Authorization: Bearer <key>`; undefined when absent, '' (always invalid) when malformed. */
function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const m = /^Bearer +(\S{1,512})\s*$/i.exec(header);
  return m ? m[1]! : '';
}
