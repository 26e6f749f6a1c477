import type { Logger } from '@controlplane/platform';
import type { AuditEvent, AuditSink } from '../audit/index.js';
import type { HttpApp } from './create-app.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The audit action recorded for every answer of this route (success, failure or denied). */
    audit?: string;
  }
}

/** An answer's status as an audit outcome: 2xx/3xx success, 401/403 denied, anything else failure. */
export function auditOutcomeOf(status: number): AuditEvent['outcome'] {
  return status < 400 ? 'success' : status === 401 || status === 403 ? 'denied' : 'failure';
}

/**
 * Records one audit event per answered request of a route that declares `config.audit`, with the
 * outcome taken from the status: 2xx success, 401/403 denied, anything else failure. Refused
 * requests are audited too: an attempt is as much a fact as an action. Only ids go into details.
 */
export function registerAuditHook(app: HttpApp, sink: AuditSink, logger: Logger): void {
  app.addHook('onResponse', async (req, reply) => {
    const action = req.routeOptions.config?.audit;
    if (!action) return;
    const status = reply.statusCode;
    const p = req.ctx?.principal;
    const params = (req.params ?? {}) as { id?: string; type?: string };
    const body = (req.body ?? {}) as { id?: unknown; jobId?: unknown };
    const bodyId = body.id ?? body.jobId;
    const id = params.id ?? params.type ?? (typeof bodyId === 'string' && /^[0-9a-f-]{36}$/i.test(bodyId) ? bodyId : undefined);
    const event: AuditEvent = {
      tenantId: p?.tenantId ?? null,
      actor: p
        ? { kind: p.kind === 'client' ? 'apikey' : p.kind === 'runner' ? 'runner' : 'service', id: p.id }
        : { kind: 'anonymous', id: 'unauthenticated' },
      action,
      ...(id ? { resource: { kind: action.split('.')[0]!, id } } : {}),
      outcome: auditOutcomeOf(status),
      correlationId: req.id,
      sourceAddress: req.ip,
      details: { status },
    };
    try {
      await sink.record(event);
    } catch (err) {
      logger.error({ err, action }, 'could not record an audit event');
    }
  });
}
