import { once } from 'node:events';
import { ValidationError } from '@controlplane/contracts';
import { keysetCursor, type Sql, asSystem } from '../storage/index.js';
import { recordFromRow, type AuditRecord, type AuditRow } from './audit-chain.js';
import { auditSql as sql } from './sql.js';

export interface AuditQuery {
  /** A tenant's events; `null` for platform-level events only; absent for all. */
  tenantId?: string | null | undefined;
  action?: string | undefined;
  actorId?: string | undefined;
  outcome?: string | undefined;
  correlationId?: string | undefined;
  /** Only events that occurred strictly after / before this instant. */
  after?: Date | string | undefined;
  before?: Date | string | undefined;
  /** Page size, 1–1000 (default 100). */
  limit?: number | undefined;
  /** `nextCursor` of the previous page. */
  cursor?: string | null | undefined;
}

export interface AuditPage {
  /** Newest first. */
  events: AuditRecord[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export const AUDIT_QUERY_MAX_LIMIT = 1000;
const DEFAULT_LIMIT = 100;

function instant(value: Date | string, path: string): string {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) throw new ValidationError([{ path: [path], message: 'must be an ISO 8601 date-time' }]);
  return date.toISOString();
}

// The cursor is the (occurred_at, seq) of the last row shown; occurred_at stays the text the row
// holds, since a Date would drop its microseconds.
const OCCURRED_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3,6}Z$/;
const SEQ = /^[1-9][0-9]{0,18}$/;
const auditCursor = keysetCursor<{ occurredAt: string; seq: string }>({
  parts: (k) => [k.occurredAt, k.seq],
  parse(parts) {
    const [occurredAt, seq] = parts;
    if (parts.length !== 2 || occurredAt === undefined || seq === undefined) return undefined;
    return OCCURRED_AT.test(occurredAt) && SEQ.test(seq) ? { occurredAt, seq } : undefined;
  },
});

/** The tenant filter's values: a tenant's events, platform-level events only (`null`), or all (absent). */
function tenantValues(tenantId: string | null | undefined) {
  return { tenant_id: tenantId ?? null, platform_only: tenantId === null };
}

/** One page of audit events for the admin API, newest first, with keyset pagination. */
export async function queryAudit(db: Sql, query: AuditQuery = {}): Promise<AuditPage> {
  const limit = query.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > AUDIT_QUERY_MAX_LIMIT) {
    throw new ValidationError([{ path: ['limit'], message: `must be an integer from 1 to ${AUDIT_QUERY_MAX_LIMIT}` }]);
  }
  const filters = {
    ...tenantValues(query.tenantId),
    action: query.action ?? null,
    actor_id: query.actorId ?? null,
    outcome: query.outcome ?? null,
    correlation_id: query.correlationId ?? null,
    after: query.after !== undefined ? instant(query.after, 'after') : null,
    before: query.before !== undefined ? instant(query.before, 'before') : null,
  };
  const cursor = query.cursor ? auditCursor.decode(query.cursor) : undefined;
  // One row more than asked tells whether there is a next page without a count.
  const { rows } = await sql('query_events').run<AuditRow>(db, {
    ...filters,
    cursor_at: cursor?.occurredAt ?? null,
    cursor_seq: cursor?.seq ?? null,
    limit: limit + 1,
  });
  const events = rows.slice(0, limit).map(recordFromRow);
  const last = events[events.length - 1];
  return { events, nextCursor: rows.length > limit && last ? auditCursor.encode(last) : null };
}

export interface AuditExportFilter {
  tenantId?: string | null | undefined;
  /** Events that occurred at or after this instant. */
  since?: Date | string | undefined;
  /** Events that occurred strictly before this instant. */
  until?: Date | string | undefined;
  /** Seqs per query (default 5000). */
  batchSize?: number | undefined;
}

export interface AuditExportResult {
  count: number;
  firstSeq: string | null;
  lastSeq: string | null;
}

/**
 * Writes matching events to `out` as JSON Lines (one AuditRecord per line) in chain order, so an
 * unfiltered export can be verified offline with AuditChainVerifier. Streams in batches and
 * honours back-pressure; does not end `out`.
 */
export async function exportAudit(db: Sql, out: NodeJS.WritableStream, filter: AuditExportFilter = {}): Promise<AuditExportResult> {
  return asSystem('export the audit log', async () => {
    const batchSize = Math.min(50_000, Math.max(1, Math.trunc(filter.batchSize ?? 5000)));
    const filters = {
      ...tenantValues(filter.tenantId),
      since: filter.since !== undefined ? instant(filter.since, 'since') : null,
      until: filter.until !== undefined ? instant(filter.until, 'until') : null,
    };

    const { rows: headRows } = await sql('head_seq').run<{ head: string | null }>(db);
    const end = BigInt(headRows[0]?.head ?? '0');
    const step = BigInt(batchSize);
    let count = 0;
    let firstSeq: string | null = null;
    let lastSeq: string | null = null;
    // Windows of seq, as in verifyAuditChain: each query reads one bounded range through the
    // primary key and filters it (sql/audit/export_window.sql).
    for (let after = 0n; after < end; after += step) {
      const { rows } = await sql('export_window').run<AuditRow>(db, {
        ...filters,
        after: after.toString(),
        up_to: (after + step).toString(),
      });
      if (rows.length === 0) {
        // Jump over a gap wider than a window (the chain has none unless rows were removed or
        // renumbered) instead of stepping through it window by window.
        const next = (await sql('first_seq_after').run<{ seq: string | null }>(db, { after: (after + step).toString() })).rows[0]?.seq;
        if (next === null || next === undefined) break;
        after = BigInt(next) - 1n - step;
        continue;
      }
      const records = rows.map(recordFromRow);
      firstSeq ??= records[0]?.seq ?? null;
      lastSeq = records[records.length - 1]?.seq ?? lastSeq;
      count += records.length;
      if (!out.write(records.map((r) => `${JSON.stringify(r)}\n`).join(''))) await once(out, 'drain');
    }
    return { count, firstSeq, lastSeq };
  });
}
