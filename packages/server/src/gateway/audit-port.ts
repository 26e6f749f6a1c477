import type { AuditEvent } from '../audit/index.js';

/**
 * Filter of `GET /admin/audit`. The gateway sets `tenantId` from the caller, never from input alone.
 * Shaped like the audit store's own query (`queryAudit` in src/audit), so its adapter is one line:
 * `{ query: (filter) => queryAudit(db, filter) }`.
 */
export interface AuditReadFilter {
  /** A tenant's events; `null` for platform-level events only; absent for every event. */
  tenantId?: string | null | undefined;
  action?: string | undefined;
  actorId?: string | undefined;
  /** Only events strictly after / before this instant. */
  after?: Date | undefined;
  before?: Date | undefined;
  limit: number;
  /** `nextCursor` of the previous page. */
  cursor?: string | undefined;
}

export interface AuditReadPage {
  /** Stored events as the audit store presents them (already redacted). */
  events: ReadonlyArray<AuditEvent | object>;
  nextCursor: string | null;
}

/** The read side of the audit log, as the gateway needs it (the `auditQuery` gateway option). */
export interface AuditReader {
  query(filter: AuditReadFilter): Promise<AuditReadPage>;
}
