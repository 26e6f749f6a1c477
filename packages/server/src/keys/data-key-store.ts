import { InternalError } from '@controlplane/contracts';
import { BLIND_INDEX_KEY_ID, type DataKeyStore, type WrappedDataKey } from '@controlplane/platform';
import { type Sql, asSystem } from '../storage/index.js';
import { keysSql as sql } from './sql.js';

const DATA_KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;

interface KeyRow {
  tenant_id: string;
  id: string;
  kek_id: string;
  wrapped: Buffer;
}

function toRecord(row: KeyRow | undefined): WrappedDataKey | undefined {
  return row && { id: row.id, tenantId: row.tenant_id, kekId: row.kek_id, wrapped: row.wrapped };
}

function recordValues(record: WrappedDataKey) {
  return { tenant_id: record.tenantId, id: record.id, kek_id: record.kekId, wrapped: record.wrapped };
}

function checkId(id: string): void {
  if (!DATA_KEY_ID.test(id))
    throw new InternalError('CP_KEYRING_DATA_KEY_ID_INVALID', { params: { id: JSON.stringify(id), pattern: DATA_KEY_ID.source } });
}

/**
 * Refuses, at start-up, a data-key store on the very pool whose transactions encrypt: its first
 * cache miss inside a transaction would fail (CP_STORAGE_NESTED_TRANSACTION) instead of reading the key.
 */
export function assertOwnKeyPool(store: DataKeyStore, db: Sql): void {
  if (store instanceof PostgresDataKeyStore && store.db === db) {
    throw new Error(
      'the data-key store uses the same database pool as the tables it encrypts; give PostgresDataKeyStore a pool of its own (docs/encryption.md, "Using it")',
    );
  }
}

/** How many data-key records each KEK wraps, and each tenant's current key. */
export interface DataKeySummary {
  byKek: Array<{ kekId: string; records: number }>;
  tenants: number;
  retired: number;
}

/**
 * Wrapped per-tenant data keys in PostgreSQL (tables `data_keys` and `data_key_current`).
 *
 * Give it its own small connection pool, not the one the services' transactions use: a Keyring
 * reads this store on a cache miss while the caller may be inside a transaction, and using that
 * transaction's pool from inside it is refused (CP_STORAGE_NESTED_TRANSACTION) or, with a full pool,
 * would wait forever. A record must also commit on its own: a key cached as current whose insert
 * was rolled back with the caller's transaction would encrypt values nobody can read.
 */
export class PostgresDataKeyStore implements DataKeyStore {
  constructor(readonly db: Sql) {}

  async get(tenantId: string, keyId: string): Promise<WrappedDataKey | undefined> {
    const res = await sql('data_key_get').run<KeyRow>(this.db, { tenant_id: tenantId, id: keyId });
    return toRecord(res.rows[0]);
  }

  async current(tenantId: string): Promise<WrappedDataKey | undefined> {
    const res = await sql('data_key_current').run<KeyRow>(this.db, { tenant_id: tenantId });
    return toRecord(res.rows[0]);
  }

  async put(record: WrappedDataKey): Promise<void> {
    checkId(record.id);
    // Replacing an existing record is a re-wrap: the key is the same, only its wrapping changes.
    await sql('data_key_put').run(this.db, recordValues(record));
  }

  async putIfAbsent(record: WrappedDataKey): Promise<WrappedDataKey> {
    checkId(record.id);
    await sql('data_key_put_if_absent').run(this.db, recordValues(record));
    // Read back rather than trust RETURNING: on a conflict it returns nothing, and the winner's row is what counts.
    const stored = await this.get(record.tenantId, record.id);
    if (!stored) throw new InternalError('CP_KEYRING_DATA_KEY_NOT_STORED', { params: { keyId: record.id, tenantId: record.tenantId } });
    return stored;
  }

  async setCurrent(tenantId: string, keyId: string): Promise<void> {
    if (keyId === BLIND_INDEX_KEY_ID) throw new InternalError('CP_KEYRING_DATA_KEY_IS_INDEX_ROOT', { params: { tenantId } });
    try {
      await sql('data_key_set_current').run(this.db, { tenant_id: tenantId, key_id: keyId });
    } catch (err) {
      if ((err as { code?: unknown }).code === '23503') {
        throw new InternalError('CP_KEYRING_DATA_KEY_NOT_FOUND', { params: { keyId, tenantId }, cause: err });
      }
      throw err;
    }
  }

  /** Tenants that have a current data key (every tenant with ciphertext), in id order after `after`. */
  async tenantsAfter(after: string | null, limit: number): Promise<string[]> {
    return asSystem('key rotation', async () => {
      const res = await sql('data_key_tenants_after').run<{ tenant_id: string }>(this.db, { after, limit });
      return res.rows.map((r) => r.tenant_id);
    });
  }

  /** Records wrapped by any KEK other than `kekId`: what a KEK rotation still has to re-wrap. */
  async wrappedByOtherKek(kekId: string, limit: number): Promise<Array<{ tenantId: string; id: string }>> {
    return asSystem('key rotation', async () => {
      const res = await sql('data_key_wrapped_by_other_kek').run<{ tenant_id: string; id: string }>(this.db, { kek_id: kekId, limit });
      return res.rows.map((r) => ({ tenantId: r.tenant_id, id: r.id }));
    });
  }

  /**
   * Marks every data key that is neither current nor the blind-index root as retired, once a
   * rotation has moved every stored value off it. The records stay: backups may still name them.
   */
  async retireNonCurrent(): Promise<number> {
    return asSystem('key rotation', async () => {
      const res = await sql('data_key_retire_non_current').run(this.db, { blind_index_key_id: BLIND_INDEX_KEY_ID });
      return res.rowCount;
    });
  }

  async summary(): Promise<DataKeySummary> {
    return asSystem('key summary', async () => {
      const byKek = await sql('data_key_count_by_kek').run<{ kek_id: string; n: number }>(this.db);
      const totals = await sql('data_key_totals').run<{ tenants: number; retired: number }>(this.db);
      return {
        byKek: byKek.rows.map((r) => ({ kekId: r.kek_id, records: r.n })),
        tenants: totals.rows[0]?.tenants ?? 0,
        retired: totals.rows[0]?.retired ?? 0,
      };
    });
  }
}
