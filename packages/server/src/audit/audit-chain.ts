import { randomUUID } from 'node:crypto';
import { InternalError, canonicalHash } from '@controlplane/contracts';
import { type Database, type Sql, GroupCommit } from '../storage/index.js';
import type { AuditEvent, AuditSink } from './audit-event.js';
import { redactAuditDetails, storableString } from './redaction.js';
import { auditSql as sql } from './sql.js';

/** prev_hash of the first event of a chain. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);

/** Domain tag inside every hashed object (docs/audit.md), as the provenance signatures do. */
export const AUDIT_HASH_DOMAIN = 'controlplane/audit-event/v1';

export const AUDIT_ACTOR_KINDS = ['apikey', 'runner', 'service', 'system', 'anonymous'] as const;
export const AUDIT_OUTCOMES = ['success', 'failure', 'denied'] as const;
export type AuditActorKind = AuditEvent['actor']['kind'];
export type AuditOutcome = AuditEvent['outcome'];

/** One stored audit event, as the query API returns it and `audit export` writes it (one per line). */
export interface AuditRecord {
  /** Position in the chain, 1-based and gapless; a decimal string (int8 does not fit a JS number). */
  seq: string;
  id: string;
  /** ISO 8601 in UTC with milliseconds, exactly the string that was hashed. */
  occurredAt: string;
  tenantId: string | null;
  actor: { kind: string; id: string };
  action: string;
  resource: { kind: string; id: string } | null;
  outcome: string;
  correlationId: string | null;
  sourceAddress: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/**
 * The object whose canonical JSON is hashed. Flat and named after the columns, so that anyone
 * can rebuild it from a row or an exported line (docs/audit.md shows how).
 */
export function auditHashInput(record: Omit<AuditRecord, 'hash'>): Record<string, unknown> {
  return {
    domain: AUDIT_HASH_DOMAIN,
    seq: record.seq,
    id: record.id,
    occurredAt: record.occurredAt,
    tenantId: record.tenantId,
    actorKind: record.actor.kind,
    actorId: record.actor.id,
    action: record.action,
    resourceKind: record.resource?.kind ?? null,
    resourceId: record.resource?.id ?? null,
    outcome: record.outcome,
    correlationId: record.correlationId,
    sourceAddress: record.sourceAddress,
    details: record.details,
    prevHash: record.prevHash,
  };
}

/** Lower-case hex SHA-256 of the canonical JSON of auditHashInput(record). */
export function computeAuditHash(record: Omit<AuditRecord, 'hash'>): string {
  return canonicalHash(auditHashInput(record));
}

/** `problem` completes "audit event …". */
function eventInvalid(problem: string): InternalError {
  return new InternalError('CP_AUDIT_EVENT_INVALID', { params: { problem } });
}

// Bounds for the scalar fields. Correlation ids and source addresses come from clients, so an
// over-long one is cut rather than allowed to make the audited request fail.
const LIMITS = { tenantId: 256, actorId: 512, resourceKind: 128, resourceId: 512, correlationId: 256, sourceAddress: 256 } as const;
const ACTION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

function bounded(value: string, max: number): string {
  const s = storableString(value);
  return s.length <= max ? s : s.slice(0, max);
}

function optionalString(value: unknown, field: keyof typeof LIMITS): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw eventInvalid(`${field} must be a string`);
  return bounded(value, LIMITS[field]);
}

/** The event's content as it is hashed and stored, before it has a place in the chain. */
type PreparedEvent = Omit<AuditRecord, 'seq' | 'occurredAt' | 'prevHash' | 'hash'>;

function prepare(event: AuditEvent): PreparedEvent {
  if (event === null || typeof event !== 'object') throw eventInvalid('must be an object');
  const { actor, resource } = event;
  if (!actor || !(AUDIT_ACTOR_KINDS as readonly string[]).includes(actor.kind)) {
    throw eventInvalid(`actor.kind must be one of ${AUDIT_ACTOR_KINDS.join(', ')}`);
  }
  if (typeof actor.id !== 'string') throw eventInvalid('actor.id must be a string');
  if (typeof event.action !== 'string' || !ACTION_PATTERN.test(event.action)) {
    throw eventInvalid(`action ${JSON.stringify(String(event.action)).slice(0, 140)} is not a dotted verb like "job.submitted"`);
  }
  if (!(AUDIT_OUTCOMES as readonly string[]).includes(event.outcome)) {
    throw eventInvalid(`outcome must be one of ${AUDIT_OUTCOMES.join(', ')}`);
  }
  if (resource !== undefined && resource !== null && (typeof resource.kind !== 'string' || typeof resource.id !== 'string')) {
    throw eventInvalid('resource needs a string kind and id');
  }
  return {
    id: randomUUID(),
    tenantId: optionalString(event.tenantId, 'tenantId'),
    actor: { kind: actor.kind, id: bounded(actor.id, LIMITS.actorId) },
    action: event.action,
    resource: resource ? { kind: bounded(resource.kind, LIMITS.resourceKind), id: bounded(resource.id, LIMITS.resourceId) } : null,
    outcome: event.outcome,
    correlationId: optionalString(event.correlationId, 'correlationId'),
    sourceAddress: optionalString(event.sourceAddress, 'sourceAddress'),
    details: redactAuditDetails(event.details),
  };
}

/**
 * Appends one event inside the caller's transaction, so a service can audit atomically with the
 * change it audits: both commit or neither does.
 *
 * The chain head is serialised with a transaction-level advisory lock, held until the caller's
 * transaction ends. Every audited transaction in the cluster therefore queues here for its last
 * moments: call this as late in the transaction as possible. The transaction must be READ
 * COMMITTED (PostgreSQL's default): the head is read after the lock is granted, and only a fresh
 * snapshot sees the row the previous holder committed. In an older snapshot the insert collides
 * on seq and fails with AUDIT_CHAIN_CONFLICT instead of forking the chain.
 */
export async function appendAuditEvent(tx: Sql, event: AuditEvent): Promise<AuditRecord> {
  // Validation and redaction happen before the lock, to keep the serialised part short.
  const prepared = prepare(event);
  if (isDatabase(tx)) {
    // Handed a pool rather than a transaction, the lock, the head read and the insert could each
    // run on a different connection, and the lock would protect nothing.
    return tx.transaction((inner) => insertEvent(inner, prepared), { isolation: 'read committed' });
  }
  return insertEvent(tx, prepared);
}

function isDatabase(sql: Sql): sql is Database {
  return typeof (sql as Partial<Database>).transaction === 'function';
}

async function insertEvent(tx: Sql, prepared: PreparedEvent): Promise<AuditRecord> {
  const [record] = await insertEvents(tx, [prepared]);
  return record!;
}

/** The chain head, and the database clock read under the chain lock (sql/audit/_chain_head.sql). */
type HeadRow = { seq: string | null; hash: string | null; now: string };

/**
 * Appends events as consecutive links of the chain, under one hold of the chain lock, with one
 * head read and one INSERT: a group costs the serialised part of a single event.
 *
 * `ownTransaction`: the transaction exists only for this append, so nothing after it needs the
 * caller's data scope back.
 */
async function insertEvents(tx: Sql, events: readonly PreparedEvent[], ownTransaction = false): Promise<AuditRecord[]> {
  // The head is the newest event of any tenant, which the caller's data scope may not see: widen
  // the scope to the system's for the head read and the insert (transaction-local), then put the
  // caller's back so the rest of its transaction stays as narrow as it was.
  let callerScope = 'system';
  let headRow: HeadRow | undefined;
  if (ownTransaction) {
    // The lock, the widened scope and the head read in one round trip.
    headRow = (await sql('lock_chain_and_head').run<HeadRow>(tx)).rows[0];
  } else {
    const { rows: lockRows } = await sql('lock_chain').run<{ scope: string | null }>(tx);
    callerScope = lockRows[0]?.scope ?? '';
    if (callerScope !== 'system') await sql('widen_scope').run(tx);
    headRow = (await sql('chain_head').run<HeadRow>(tx)).rows[0];
  }
  const head = headRow;
  if (!head) throw new Error('the audit chain head query returned no row');
  let seq = head.seq === null ? 0n : BigInt(head.seq);
  let prevHash = head.hash ?? AUDIT_GENESIS_HASH;
  // Each event's row is the object its hash is computed over (auditHashInput: flat and named
  // after the columns), plus the hash; the insert reads those names, and ignores `domain`.
  const rows: Array<Record<string, unknown>> = [];
  const records: AuditRecord[] = events.map((prepared) => {
    seq += 1n;
    const unsealed: Omit<AuditRecord, 'hash'> = { ...prepared, seq: seq.toString(), occurredAt: head.now, prevHash };
    const input = auditHashInput(unsealed);
    const record: AuditRecord = { ...unsealed, hash: canonicalHash(input) };
    rows.push({ ...input, hash: record.hash });
    prevHash = record.hash;
    return record;
  });
  try {
    await sql('insert_events').run(tx, { events: JSON.stringify(rows) });
  } catch (err) {
    const { code, constraint } = err as { code?: unknown; constraint?: unknown };
    if (code === '23505' && constraint !== 'audit_events_id_key') {
      throw new InternalError('CP_AUDIT_CHAIN_CONFLICT', { cause: err });
    }
    throw err;
  }
  if (callerScope !== 'system') await sql('restore_scope').run(tx, { scope: callerScope });
  return records;
}

/**
 * The audit log every service records into. `record` appends in a transaction of its own;
 * `append` joins the caller's transaction.
 */
export class AuditLog implements AuditSink {
  /**
   * Events recorded while the previous group is being appended are appended together, as
   * consecutive links under one hold of the chain lock (storage/group-commit.ts): the chain is
   * serialised across the cluster, so one lock, head read and commit per event would cap every
   * audited route at the rate of those round trips.
   */
  readonly #group: GroupCommit<PreparedEvent, AuditRecord>;

  /**
   * `lingerMs`: how long an event may wait for others to share its append (default 2 ms).
   * `onAppend`: told how long each group's append took and whether it committed (for metrics).
   */
  constructor(
    readonly db: Database,
    options: { lingerMs?: number; onAppend?: ((seconds: number, ok: boolean) => void) | undefined } = {},
  ) {
    const onAppend = options.onAppend;
    const commit = (events: PreparedEvent[]) => db.transaction((tx) => insertEvents(tx, events, true), { isolation: 'read committed' });
    this.#group = new GroupCommit({
      maxBatch: 200,
      lingerMs: options.lingerMs ?? 2,
      commit: onAppend
        ? async (events) => {
            const t0 = performance.now();
            try {
              const out = await commit(events);
              onAppend((performance.now() - t0) / 1000, true);
              return out;
            } catch (err) {
              onAppend((performance.now() - t0) / 1000, false);
              throw err;
            }
          }
        : commit,
    });
  }

  record(event: AuditEvent): Promise<AuditRecord> {
    let prepared: PreparedEvent;
    try {
      prepared = prepare(event);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#group.submit(prepared);
  }

  append(tx: Sql, event: AuditEvent): Promise<AuditRecord> {
    return appendAuditEvent(tx, event);
  }
}

/** A row of audit_events as the statements read it (sql/audit/_row_columns.sql), in the form the hash needs. */
export interface AuditRow {
  seq: string;
  id: string;
  occurred_at: string;
  tenant_id: string | null;
  actor_kind: string;
  actor_id: string;
  action: string;
  resource_kind: string | null;
  resource_id: string | null;
  outcome: string;
  correlation_id: string | null;
  source_address: string | null;
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

/**
 * Reads the timestamp as microsecond text, not as a Date: a Date drops microseconds, so an edit
 * below the millisecond would otherwise re-read as the hashed value. Rows written by
 * appendAuditEvent end in "000" microseconds and yield the hashed ISO string; any other value
 * yields a longer string and a hash mismatch.
 */
function isoFromText(text: string): string {
  const micro = /^(.*\.\d{3})(\d{3})$/.exec(text);
  if (!micro) return text;
  return micro[2] === '000' ? `${micro[1]}Z` : `${micro[1]}${micro[2]}Z`;
}

export function recordFromRow(row: AuditRow): AuditRecord {
  return {
    seq: String(row.seq),
    id: row.id,
    occurredAt: isoFromText(row.occurred_at),
    tenantId: row.tenant_id,
    actor: { kind: row.actor_kind, id: row.actor_id },
    action: row.action,
    resource: row.resource_kind === null && row.resource_id === null ? null : { kind: row.resource_kind ?? '', id: row.resource_id ?? '' },
    outcome: row.outcome,
    correlationId: row.correlation_id,
    sourceAddress: row.source_address,
    details: row.details,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
