import { setTimeout as sleep } from 'node:timers/promises';
import { InternalError, isInternalError } from '@controlplane/contracts';
import { dataKeyIdOf, FieldCipher, isEncrypted, type Keyring, type Logger } from '@controlplane/platform';
import { type Database, type Sql, asSystem } from '../storage/index.js';
import { assertOwnKeyPool, type PostgresDataKeyStore } from './data-key-store.js';
import {
  ASSERTION_OBJECT_FIELD,
  ASSERTION_OBJECT_INDEX_SCOPE,
  ENCRYPTED_TABLES,
  isEmptyContainer,
  isSensitiveAssertion,
  openSlots,
  resealSlots,
  sensitiveAssertionSql,
  type EncryptedTable,
} from './encrypted-fields.js';

/**
 * How long a rotation waits, after making new data keys current, before it sweeps: the default
 * key cache lifetime of a service's Keyring (5 min) plus a margin for encryptions already under
 * way. Until then a service may still encrypt with the old key, and a value it writes behind the
 * sweep's cursor would stay on the old key.
 */
export const DEFAULT_ROTATION_GRACE_MS = 5 * 60_000 + 30_000;

const ROTATE_KEYS_PHASE = 'rotate-keys';
const ASSERTIONS_PHASE = 'truth_assertions';
/** The order in which a run sweeps; a phase name is stored in the run row, so these never change meaning. */
export const SWEEP_PHASES: readonly string[] = [...ENCRYPTED_TABLES.map((t) => t.table), ASSERTIONS_PHASE];

export interface KeyRotationOptions {
  /** The application database: the tables holding ciphertext. */
  db: Database;
  /** A Keyring over `store`, whose provider has the KEKs of every stored record. */
  keyring: Keyring;
  /** On its own pool (see PostgresDataKeyStore), so key reads never wait on a sweep's transaction. */
  store: PostgresDataKeyStore;
  /** Rows per batch (one transaction each). Default 500. */
  batchSize?: number;
  /** See DEFAULT_ROTATION_GRACE_MS; set it to the services' Keyring `cacheTtlMs` plus a margin. */
  graceMs?: number;
  /** TruthCore's extra sensitive predicates (TruthStore option), so assertions stored in clear before encryption get encrypted. */
  sensitivePredicates?: readonly string[];
  logger?: Logger;
}

export interface RotationRun {
  id: string;
  status: 'running' | 'completed' | 'cancelled';
  phase: string;
  cursor: unknown[] | null;
  sweepAfter: Date | null;
  rowsScanned: number;
  rowsRewritten: number;
  startedBy: string | null;
  startedAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

export type RotationStep =
  /** No run is in progress. */
  | { state: 'idle' }
  /** Another process is running a batch of the run now. */
  | { state: 'busy' }
  /** New keys are current; the sweep starts when services can no longer be using the old ones. */
  | { state: 'waiting'; run: RotationRun; waitMs: number }
  /** A batch was done (`locked` rows were held by running transactions and will be retried). */
  | { state: 'progress'; run: RotationRun; rewritten: number; locked: number }
  | { state: 'completed'; run: RotationRun };

/** What a check of every stored encrypted value found. */
export interface StoredValueCheck {
  /** Encrypted values (and clear values in encrypted places) looked at. */
  values: number;
  /** Ciphertexts under a key other than the tenant's current one. */
  stale: number;
  /** Clear values where a ciphertext belongs (stored before encryption was on). */
  clear: number;
  /** Values that do not decrypt for their row. */
  unreadable: Array<{ table: string; rowId: string; reason: string }>;
}

interface RunRow {
  id: string;
  status: RotationRun['status'];
  phase: string;
  cursor: unknown[] | null;
  sweep_after: Date | null;
  rows_scanned: string;
  rows_rewritten: string;
  started_by: string | null;
  started_at: Date;
  updated_at: Date;
  finished_at: Date | null;
  wait_ms: number | null;
}

const RUN_COLUMNS = `id, status, phase, cursor, sweep_after, rows_scanned, rows_rewritten, started_by, started_at, updated_at, finished_at,
  greatest(0, ceil(extract(epoch from (sweep_after - now())) * 1000))::int as wait_ms`;

function toRun(r: RunRow): RotationRun {
  return {
    id: String(r.id),
    status: r.status,
    phase: r.phase,
    cursor: r.cursor,
    sweepAfter: r.sweep_after,
    rowsScanned: Number(r.rows_scanned),
    rowsRewritten: Number(r.rows_rewritten),
    startedBy: r.started_by,
    startedAt: r.started_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
  };
}

interface BatchOutcome {
  /** The phase has no rows left after the cursor it was given. */
  finished: boolean;
  /** The keyset position after this batch (null: from the start). */
  cursor: unknown[] | null;
  scanned: number;
  rewritten: number;
  locked: number;
}

/**
 * Key rotation while the system runs.
 *
 * - `rewrapAll` (after a new KEK was made current): re-wraps every stored data key under it. Field
 *   ciphertexts do not change. Restartable as it stands: it works from "records under another KEK".
 * - `start` + `step`/`runToCompletion` (data keys): makes a new data key current for every tenant,
 *   waits out the services' key caches, then re-encrypts every stored value in keyset order, one
 *   transaction per batch that commits the rows with the run's cursor. Rows are locked
 *   `FOR UPDATE SKIP LOCKED`: the sweep never waits on a running job's transaction (so it can never
 *   deadlock with one); a row it skipped stops the cursor just before it and is retried. Reads work
 *   throughout because old keys are kept and every ciphertext names its key.
 */
export class KeyRotation {
  readonly cipher: FieldCipher;
  readonly #batch: number;
  readonly #graceMs: number;
  readonly #sensitive: readonly string[];

  constructor(private readonly o: KeyRotationOptions) {
    this.cipher = new FieldCipher(o.keyring);
    this.#batch = o.batchSize ?? 500;
    this.#graceMs = o.graceMs ?? DEFAULT_ROTATION_GRACE_MS;
    this.#sensitive = o.sensitivePredicates ?? [];
    if (!(this.#batch >= 1) || !(this.#graceMs >= 0)) throw new RangeError('batchSize must be >= 1 and graceMs >= 0');
    assertOwnKeyPool(o.store, o.db);
    assertOwnKeyPool(o.keyring.store, o.db);
  }

  /** Re-wraps every data key (and blind-index root) not yet under the provider's current KEK. Returns how many. */
  async rewrapAll(): Promise<number> {
    return asSystem('key rotation', async () => {
      const kekId = this.o.keyring.provider.currentKekId();
      let total = 0;
      for (;;) {
        const records = await this.o.store.wrappedByOtherKek(kekId, this.#batch);
        if (records.length === 0) return total;
        for (const r of records) if (await this.o.keyring.rewrapDataKey(r.tenantId, r.id)) total++;
        this.o.logger?.info({ kekId, rewrapped: total }, 'data keys re-wrapped under the current KEK');
      }
    });
  }

  /** Starts a data-key rotation run; the keys change at its first step. */
  async start(startedBy: string | null = null): Promise<RotationRun> {
    return asSystem('key rotation', async () => {
      try {
        const res = await this.o.db.query<RunRow>(`insert into key_rotation_runs (started_by) values ($1) returning ${RUN_COLUMNS}`, [
          startedBy,
        ]);
        return toRun(res.rows[0]!);
      } catch (err) {
        if ((err as { code?: unknown }).code === '23505') {
          const running = await this.currentRun();
          throw new InternalError('CP_KEYS_ROTATION_IN_PROGRESS', { params: { runId: running?.id ?? '?' } });
        }
        throw err;
      }
    });
  }

  /** The run in progress, if any. */
  async currentRun(q: Sql = this.o.db): Promise<RotationRun | undefined> {
    return asSystem('key rotation', async () => {
      const res = await q.query<RunRow>(`select ${RUN_COLUMNS} from key_rotation_runs where status = 'running'`);
      return res.rows[0] && toRun(res.rows[0]);
    });
  }

  /** The most recent run, finished or not. */
  async latestRun(): Promise<RotationRun | undefined> {
    return asSystem('key rotation', async () => {
      const res = await this.o.db.query<RunRow>(`select ${RUN_COLUMNS} from key_rotation_runs order by id desc limit 1`);
      return res.rows[0] && toRun(res.rows[0]);
    });
  }

  /** Does one batch of the run in progress (any process may call it; one at a time gets the run). */
  async step(): Promise<RotationStep> {
    return asSystem('key rotation', async () => {
      return this.o.db.transaction(async (tx): Promise<RotationStep> => {
        const locked = await tx.query<RunRow>(
          `select ${RUN_COLUMNS} from key_rotation_runs where status = 'running' limit 1 for update skip locked`,
        );
        const row = locked.rows[0];
        if (!row) return (await this.currentRun(tx)) ? { state: 'busy' } : { state: 'idle' };
        const run = toRun(row);

        if (run.phase === ROTATE_KEYS_PHASE) {
          const after = typeof run.cursor?.[0] === 'string' ? run.cursor[0] : null;
          const tenants = await this.o.store.tenantsAfter(after, this.#batch);
          for (const tenantId of tenants) await this.o.keyring.rotateDataKey(tenantId);
          this.o.logger?.info({ runId: run.id, tenants: tenants.length }, 'new data keys made current');
          const done = tenants.length < this.#batch;
          const next = await this.#save(tx, run.id, {
            phase: done ? SWEEP_PHASES[0]! : ROTATE_KEYS_PHASE,
            cursor: done ? null : [tenants[tenants.length - 1]],
            startSweepClock: done,
            scanned: 0,
            rewritten: 0,
          });
          return { state: 'progress', run: next, rewritten: 0, locked: 0 };
        }

        if (row.wait_ms !== null && row.wait_ms > 0) return { state: 'waiting', run, waitMs: row.wait_ms };

        const outcome =
          run.phase === ASSERTIONS_PHASE
            ? await this.#sweepAssertions(tx, run.cursor)
            : await this.#sweepTable(tx, tableOf(run.phase), run.cursor);
        if (!outcome.finished) {
          const next = await this.#save(tx, run.id, {
            phase: run.phase,
            cursor: outcome.cursor,
            scanned: outcome.scanned,
            rewritten: outcome.rewritten,
          });
          return { state: 'progress', run: next, rewritten: outcome.rewritten, locked: outcome.locked };
        }
        const following = SWEEP_PHASES[SWEEP_PHASES.indexOf(run.phase) + 1];
        if (following !== undefined) {
          const next = await this.#save(tx, run.id, {
            phase: following,
            cursor: null,
            scanned: outcome.scanned,
            rewritten: outcome.rewritten,
          });
          return { state: 'progress', run: next, rewritten: outcome.rewritten, locked: outcome.locked };
        }
        const retired = await this.o.store.retireNonCurrent();
        const res = await tx.query<RunRow>(
          `update key_rotation_runs set status = 'completed', cursor = null, updated_at = now(), finished_at = now() where id = $1 returning ${RUN_COLUMNS}`,
          [run.id],
        );
        const done = toRun(res.rows[0]!);
        this.o.logger?.info(
          { runId: run.id, rowsScanned: done.rowsScanned, rowsRewritten: done.rowsRewritten, retiredKeys: retired },
          'key rotation completed',
        );
        return { state: 'completed', run: done };
      });
    });
  }

  /**
   * Steps until the run in progress completes (or none is in progress), sleeping while it waits
   * for the grace period or another process holds it. Returns the last run seen.
   */
  async runToCompletion(
    options: { signal?: AbortSignal; onStep?: (step: RotationStep) => void; pollMs?: number } = {},
  ): Promise<RotationRun | undefined> {
    return asSystem('key rotation', async () => {
      const pollMs = options.pollMs ?? 250;
      let last: RotationRun | undefined;
      for (;;) {
        options.signal?.throwIfAborted();
        const s = await this.step();
        options.onStep?.(s);
        switch (s.state) {
          case 'idle':
            return last ?? (await this.latestRun());
          case 'completed':
            return s.run;
          case 'busy':
            await sleep(pollMs, undefined, { signal: options.signal });
            break;
          case 'waiting':
            last = s.run;
            await sleep(Math.min(s.waitMs, 1_000), undefined, { signal: options.signal });
            break;
          case 'progress':
            last = s.run;
            // Rows held by running transactions: give them a moment instead of spinning on them.
            if (s.locked > 0) await sleep(20, undefined, { signal: options.signal });
            break;
        }
      }
    });
  }

  /**
   * Reads every stored encrypted value (without locking) and reports those not on their tenant's
   * current key, those still in clear, and those that do not decrypt for their row.
   */
  async checkStoredValues(): Promise<StoredValueCheck> {
    return asSystem('key rotation', async () => {
      const out: StoredValueCheck = { values: 0, stale: 0, clear: 0, unreadable: [] };
      const currents = new Map<string, string | undefined>();
      const currentOf = async (tenantId: string) => {
        if (!currents.has(tenantId)) currents.set(tenantId, (await this.o.store.current(tenantId))?.id);
        return currents.get(tenantId);
      };
      const judge = async (tenantId: string, value: unknown, table: string, rowId: string, open: () => Promise<unknown>) => {
        out.values++;
        if (!isEncrypted(value)) {
          out.clear++;
          return;
        }
        if (dataKeyIdOf(value) !== (await currentOf(tenantId))) out.stale++;
        try {
          await open();
        } catch (err) {
          out.unreadable.push({ table, rowId, reason: isInternalError(err, 'CP_CRYPTO_DECRYPT_') ? err.code : (err as Error).message });
        }
      };
      for (const t of ENCRYPTED_TABLES) {
        await this.#scan(t.table, t.key, [...new Set(['tenant_id', ...t.extra, ...t.columns.map((c) => c.name)])], t.where, async (row) => {
          const tenantId = String(row.tenant_id);
          const ref = { tenantId, table: t.table, rowId: t.rowId(row) };
          for (const c of t.columns) {
            for (const s of c.slots) {
              const value = getPath(row[c.name], s.path);
              if (value === undefined || isEmptyContainer(value)) continue;
              await judge(tenantId, value, t.table, ref.rowId, () => openSlots(this.cipher, ref, row[c.name], [s]));
            }
          }
        });
      }
      const values: unknown[] = [];
      const where = `(object_encrypted or ${sensitiveAssertionSql(this.#sensitive, values)})`;
      await this.#scan(
        ASSERTIONS_PHASE,
        ASSERTION_KEY,
        ['tenant_id', 'id', 'object', 'object_encrypted'],
        where,
        async (row) => {
          const tenantId = String(row.tenant_id);
          const aad = { tenantId, table: ASSERTIONS_PHASE, rowId: String(row.id), field: ASSERTION_OBJECT_FIELD };
          if (!row.object_encrypted) {
            out.values++;
            out.clear++;
            return;
          }
          await judge(tenantId, row.object, ASSERTIONS_PHASE, aad.rowId, () => this.cipher.decrypt(String(row.object), aad));
        },
        values,
      );
      return out;
    });
  }

  async #save(
    tx: Sql,
    id: string,
    u: { phase: string; cursor: unknown[] | null; scanned: number; rewritten: number; startSweepClock?: boolean },
  ): Promise<RotationRun> {
    const res = await tx.query<RunRow>(
      `update key_rotation_runs set phase = $2, cursor = $3::jsonb, rows_scanned = rows_scanned + $4, rows_rewritten = rows_rewritten + $5,
              sweep_after = case when $6 then now() + make_interval(secs => $7::double precision / 1000) else sweep_after end, updated_at = now()
        where id = $1 returning ${RUN_COLUMNS}`,
      [id, u.phase, u.cursor === null ? null : JSON.stringify(u.cursor), u.scanned, u.rewritten, u.startSweepClock === true, this.#graceMs],
    );
    return toRun(res.rows[0]!);
  }

  /** One batch of a table with encrypted slots. */
  async #sweepTable(tx: Sql, t: EncryptedTable, cursor: unknown[] | null): Promise<BatchOutcome> {
    const columns = [...new Set(['tenant_id', ...t.key.map((k) => k.column), ...t.extra, ...t.columns.map((c) => c.name)])];
    const batch = await this.#lockBatch(tx, t.table, t.key, columns, t.where, cursor, []);
    if (!batch) return { finished: true, cursor: null, scanned: 0, rewritten: 0, locked: 0 };
    const updates: Record<string, unknown>[] = [];
    for (const row of batch.rows) {
      const ref = { tenantId: String(row.tenant_id), table: t.table, rowId: t.rowId(row) };
      const update: Record<string, unknown> = {};
      let changed = false;
      for (const c of t.columns) {
        const next = await resealSlots(this.cipher, ref, row[c.name], c.slots);
        update[c.name] = next ?? null;
        update[`${c.name}_set`] = next !== undefined;
        changed ||= next !== undefined;
      }
      if (!changed) continue;
      for (const k of t.key) update[k.column] = row[k.column];
      updates.push(update);
    }
    if (updates.length > 0) {
      const recordType = [
        ...t.key.map((k) => `${k.column} ${k.type}`),
        ...t.columns.flatMap((c) => [`${c.name} jsonb`, `${c.name}_set boolean`]),
      ].join(', ');
      // Only the columns that changed are written: writing back an unchanged jsonb value through
      // JavaScript could alter it (a numeric such as 1.10 comes back as 1.1).
      await tx.query(
        `update ${t.table} t set ${t.columns.map((c) => `${c.name} = case when r.${c.name}_set then r.${c.name} else t.${c.name} end`).join(', ')}
           from jsonb_to_recordset($1::jsonb) as r(${recordType})
          where ${t.key.map((k) => `t.${k.column} = r.${k.column}`).join(' and ')}`,
        [JSON.stringify(updates)],
      );
    }
    return { finished: false, cursor: batch.cursor, scanned: batch.rows.length, rewritten: updates.length, locked: batch.skipped };
  }

  /** One batch of sensitive assertions: re-encrypts objects, and encrypts and re-indexes those stored in clear. */
  async #sweepAssertions(tx: Sql, cursor: unknown[] | null): Promise<BatchOutcome> {
    const values: unknown[] = [];
    const where = `(object_encrypted or ${sensitiveAssertionSql(this.#sensitive, values)})`;
    const batch = await this.#lockBatch(
      tx,
      ASSERTIONS_PHASE,
      ASSERTION_KEY,
      ['tenant_id', 'id', 'subject', 'predicate', 'object', 'object_encrypted', 'metadata'],
      where,
      cursor,
      values,
    );
    if (!batch) return { finished: true, cursor: null, scanned: 0, rewritten: 0, locked: 0 };
    const sensitive = new Set(this.#sensitive);
    const updates: Array<{ tenant_id: string; id: string; object: string; hash: string | null }> = [];
    for (const row of batch.rows) {
      const tenantId = String(row.tenant_id);
      const aad = { tenantId, table: ASSERTIONS_PHASE, rowId: String(row.id), field: ASSERTION_OBJECT_FIELD };
      if (row.object_encrypted) {
        const next = await this.cipher.reencrypt(String(row.object), aad);
        if (next !== row.object) updates.push({ tenant_id: tenantId, id: aad.rowId, object: next, hash: null });
      } else if (
        isSensitiveAssertion({ subject: String(row.subject), predicate: String(row.predicate), metadata: row.metadata }, sensitive)
      ) {
        const object = row.object as Parameters<FieldCipher['encrypt']>[0];
        updates.push({
          tenant_id: tenantId,
          id: aad.rowId,
          object: await this.cipher.encrypt(object, aad),
          hash: await this.cipher.blindIndex(tenantId, object, ASSERTION_OBJECT_INDEX_SCOPE),
        });
      }
    }
    if (updates.length > 0) {
      await tx.query(
        `update truth_assertions t set object = to_jsonb(r.object), object_encrypted = true, object_hash = coalesce(decode(r.hash, 'hex'), t.object_hash)
           from jsonb_to_recordset($1::jsonb) as r(tenant_id text, id uuid, object text, hash text)
          where t.tenant_id = r.tenant_id and t.id = r.id`,
        [JSON.stringify(updates)],
      );
    }
    return { finished: false, cursor: batch.cursor, scanned: batch.rows.length, rewritten: updates.length, locked: batch.skipped };
  }

  /**
   * The next `batchSize` keys after `cursor`, and those of their rows that no running transaction
   * holds, locked. The returned cursor stops just before the first row that was held, so that row
   * is tried again by the next batch. Undefined when no rows are left after `cursor`.
   */
  async #lockBatch(
    tx: Sql,
    table: string,
    key: EncryptedTable['key'],
    columns: readonly string[],
    where: string | undefined,
    cursor: unknown[] | null,
    values: unknown[],
  ): Promise<{ rows: Record<string, unknown>[]; cursor: unknown[] | null; skipped: number } | undefined> {
    const keyList = key.map((k) => k.column).join(', ');
    const conds = where ? [where] : [];
    if (cursor) conds.push(`(${keyList}) > (${key.map((k, i) => `$${values.push(cursor[i])}::${k.type}`).join(', ')})`);
    const range = await tx.query<Record<string, unknown>>(
      `select ${keyList} from ${table} ${conds.length ? `where ${conds.join(' and ')}` : ''} order by ${keyList} limit $${values.push(this.#batch)}`,
      values,
    );
    const last = range.rows[range.rows.length - 1];
    if (!last) return undefined;
    const lockValues = values.slice(0, values.length - 1);
    const lockConds = [...conds, `(${keyList}) <= (${key.map((k) => `$${lockValues.push(last[k.column])}::${k.type}`).join(', ')})`];
    const locked = await tx.query<Record<string, unknown>>(
      `select ${columns.join(', ')} from ${table} where ${lockConds.join(' and ')} order by ${keyList} for update skip locked`,
      lockValues,
    );
    const keyOf = (r: Record<string, unknown>) => JSON.stringify(key.map((k) => String(r[k.column])));
    const got = new Set(locked.rows.map(keyOf));
    const firstSkipped = range.rows.findIndex((r) => !got.has(keyOf(r)));
    const skipped = range.rows.filter((r) => !got.has(keyOf(r))).length;
    // Rows locked after a skipped one are done now as well; redoing them next time changes nothing.
    if (firstSkipped === -1) return { rows: locked.rows, cursor: key.map((k) => last[k.column]), skipped: 0 };
    const before = range.rows[firstSkipped - 1];
    return { rows: locked.rows, cursor: before ? key.map((k) => before[k.column]) : cursor, skipped };
  }

  async #scan(
    table: string,
    key: EncryptedTable['key'],
    columns: readonly string[],
    where: string | undefined,
    visit: (row: Record<string, unknown>) => Promise<void>,
    baseValues: readonly unknown[] = [],
  ): Promise<void> {
    const keyList = key.map((k) => k.column).join(', ');
    const cols = [...new Set([...key.map((k) => k.column), ...columns])].join(', ');
    let cursor: unknown[] | null = null;
    for (;;) {
      const values = [...baseValues];
      const conds = where ? [where] : [];
      if (cursor) {
        const c: unknown[] = cursor;
        conds.push(`(${keyList}) > (${key.map((k, i) => `$${values.push(c[i])}::${k.type}`).join(', ')})`);
      }
      const res = await this.o.db.query<Record<string, unknown>>(
        `select ${cols} from ${table} ${conds.length ? `where ${conds.join(' and ')}` : ''} order by ${keyList} limit $${values.push(this.#batch)}`,
        values,
      );
      for (const row of res.rows) await visit(row);
      const last = res.rows[res.rows.length - 1];
      if (!last || res.rows.length < this.#batch) return;
      cursor = key.map((k) => last[k.column]);
    }
  }
}

const ASSERTION_KEY: EncryptedTable['key'] = [
  { column: 'tenant_id', type: 'text' },
  { column: 'id', type: 'uuid' },
];

function tableOf(phase: string): EncryptedTable {
  const t = ENCRYPTED_TABLES.find((x) => x.table === phase);
  if (!t) throw new Error(`key rotation run is in an unknown phase ${JSON.stringify(phase)}`);
  return t;
}

function getPath(doc: unknown, path: readonly string[]): unknown {
  let node = doc;
  for (const k of path) {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || !Object.hasOwn(node, k)) return undefined;
    node = (node as Record<string, unknown>)[k];
  }
  return node;
}
