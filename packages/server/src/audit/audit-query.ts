import { once } from 'node:events';
import { ValidationError } from '@controlplane/contracts';
import { keysetCursor, type Sql, asSystem } from '../storage/index.js';
import { AUDIT_ROW_COLUMNS, recordFromRow, type AuditRecord, type AuditRow } from './audit-chain.js';

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
  if (Number.isNaN(date.getTime())) throw new ValidationError([{ path, message: 'must be an ISO 8601 date-time' }]);
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

function whereClause(filter: Omit<AuditQuery, 'limit' | 'cursor'>, values: unknown[]): string[] {
  const where: string[] = [];
  if (filter.tenantId === null) where.push('tenant_id is null');
  else if (filter.tenantId !== undefined) where.push(`tenant_id = $${values.push(filter.tenantId)}`);
  if (filter.action !== undefined) where.push(`action = $${values.push(filter.action)}`);
  if (filter.actorId !== undefined) where.push(`actor_id = $${values.push(filter.actorId)}`);
  if (filter.outcome !== undefined) where.push(`outcome = $${values.push(filter.outcome)}`);
  if (filter.correlationId !== undefined) where.push(`correlation_id = $${values.push(filter.correlationId)}`);
  if (filter.after !== undefined) where.push(`occurred_at > $${values.push(instant(filter.after, 'after'))}::timestamptz`);
  if (filter.before !== undefined) where.push(`occurred_at < $${values.push(instant(filter.before, 'before'))}::timestamptz`);
  return where;
}

/** One page of audit events for the admin API, newest first, with keyset pagination. */
export async function queryAudit(db: Sql, query: AuditQuery = {}): Promise<AuditPage> {
  const limit = query.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > AUDIT_QUERY_MAX_LIMIT) {
    throw new ValidationError([{ path: 'limit', message: `must be an integer from 1 to ${AUDIT_QUERY_MAX_LIMIT}` }]);
  }
  const values: unknown[] = [];
  const where = whereClause(query, values);
  if (query.cursor) {
    const cursor = auditCursor.decode(query.cursor);
    where.push(`(occurred_at, seq) < ($${values.push(cursor.occurredAt)}::timestamptz, $${values.push(cursor.seq)}::bigint)`);
  }
  // One row more than asked tells whether there is a next page without a count.
  const { rows } = await db.query<AuditRow>(
    `select ${AUDIT_ROW_COLUMNS} from audit_events
      ${where.length > 0 ? `where ${where.join(' and ')}` : ''}
      order by occurred_at desc, seq desc
      limit $${values.push(limit + 1)}`,
    values,
  );
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
    const base: unknown[] = [];
    const where = whereClause({ tenantId: filter.tenantId }, base);
    if (filter.since !== undefined) where.push(`occurred_at >= $${base.push(instant(filter.since, 'since'))}::timestamptz`);
    if (filter.until !== undefined) where.push(`occurred_at < $${base.push(instant(filter.until, 'until'))}::timestamptz`);

    const { rows: headRows } = await db.query<{ head: string | null }>('select max(seq) as head from audit_events');
    const end = BigInt(headRows[0]?.head ?? '0');
    const step = BigInt(batchSize);
    let count = 0;
    let firstSeq: string | null = null;
    let lastSeq: string | null = null;
    // Windows of seq, as in verifyAuditChain: each query reads one bounded range through the
    // primary key and filters it. The window is materialised so that the planner cannot start from
    // the tenant index instead and re-read a large tenant's every row for each window.
    for (let after = 0n; after < end; after += step) {
      const values = [...base];
      const { rows } = await db.query<AuditRow>(
        `with audit_window as materialized (
           select * from audit_events where seq > $${values.push(after.toString())}::bigint and seq <= $${values.push((after + step).toString())}::bigint
         )
         select ${AUDIT_ROW_COLUMNS} from audit_window
          ${where.length > 0 ? `where ${where.join(' and ')}` : ''}
          order by seq`,
        values,
      );
      if (rows.length === 0) {
        // Jump over a gap wider than a window (the chain has none unless rows were removed or
        // renumbered) instead of stepping through it window by window.
        const next = (
          await db.query<{ seq: string | null }>('select min(seq) as seq from audit_events where seq > $1::bigint', [
            (after + step).toString(),
          ])
        ).rows[0]?.seq;
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
