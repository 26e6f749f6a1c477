import type { FastifyRequest } from 'fastify';
import type { AuditEvent, AuditSink } from '../audit/index.js';

/** An audit event of a gateway request; tenant and actor default to the authenticated caller's. */
export type GatewayAuditEvent = Omit<AuditEvent, 'tenantId' | 'actor' | 'correlationId' | 'sourceAddress'> & {
  tenantId?: string | null;
  actor?: AuditEvent['actor'];
};

export type RecordAudit = (req: FastifyRequest, event: GatewayAuditEvent) => Promise<void>;

/**
 * Records audit events with the request's caller, correlation id and source address. A failed write
 * is logged and does not fail the request: the answer has already been decided by then.
 */
export function auditRecorder(sink: AuditSink): RecordAudit {
  return async (req, event) => {
    const p = req.principal;
    try {
      await sink.record({
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
  };
}
