/**
 * One security-relevant action, as every service records it. The audit log (audit-chain.ts)
 * appends these to a hash-chained, append-only table; details must already be redacted.
 */
export interface AuditEvent {
  /** Tenant the action concerns; null for platform-level actions (e.g. service start-up). */
  tenantId: string | null;
  actor: { kind: 'apikey' | 'runner' | 'service' | 'system' | 'anonymous'; id: string };
  /** Dotted verb, e.g. `auth.failed`, `apikey.created`, `job.submitted`, `runner.revoked`. */
  action: string;
  resource?: { kind: string; id: string } | undefined;
  outcome: 'success' | 'failure' | 'denied';
  correlationId?: string | undefined;
  sourceAddress?: string | undefined;
  /** Redacted detail; never credentials, tokens or payloads. */
  details?: Record<string, unknown> | undefined;
}

/** Where services send audit events. */
export interface AuditSink {
  record(event: AuditEvent): Promise<unknown>;
}
