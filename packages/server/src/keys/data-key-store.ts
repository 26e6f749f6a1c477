import { InternalError } from '@controlplane/contracts';
import { BLIND_INDEX_KEY_ID, type DataKeyStore, type WrappedDataKey } from '@controlplane/platform';
import { type Sql, asSystem } from '../storage/index.js';

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
    const res = await this.db.query<KeyRow>('select tenant_id, id, kek_id, wrapped from data_keys where tenant_id = $1 and id = $2', [
      tenantId,
      keyId,
    ]);
    return toRecord(res.rows[0]);
  }

  async current(tenantId: string): Promise<WrappedDataKey | undefined> {
    const res = await this.db.query<KeyRow>(
      `select k.tenant_id, k.id, k.kek_id, k.wrapped from data_key_current c
         join data_keys k on k.tenant_id = c.tenant_id and k.id = c.key_id
        where c.tenant_id = $1`,
      [tenantId],
    );
    return toRecord(res.rows[0]);
  }

  async put(record: WrappedDataKey): Promise<void> {
    checkId(record.id);
    // Replacing an existing record is a re-wrap: the key is the same, only its wrapping changes.
    await this.db.query(
      `insert into data_keys (tenant_id, id, kek_id, wrapped) values ($1, $2, $3, $4)
       on conflict (tenant_id, id) do update set kek_id = excluded.kek_id, wrapped = excluded.wrapped, rewrapped_at = now()`,
      [record.tenantId, record.id, record.kekId, record.wrapped],
    );
  }

  async putIfAbsent(record: WrappedDataKey): Promise<WrappedDataKey> {
    checkId(record.id);
    await this.db.query(
      `insert into data_keys (tenant_id, id, kek_id, wrapped) values ($1, $2, $3, $4) on conflict (tenant_id, id) do nothing`,
      [record.tenantId, record.id, record.kekId, record.wrapped],
    );
    // Read back rather than trust RETURNING: on a conflict it returns nothing, and the winner's row is what counts.
    const stored = await this.get(record.tenantId, record.id);
    if (!stored) throw new InternalError('CP_KEYRING_DATA_KEY_NOT_STORED', { params: { keyId: record.id, tenantId: record.tenantId } });
    return stored;
  }

  async setCurrent(tenantId: string, keyId: string): Promise<void> {
    if (keyId === BLIND_INDEX_KEY_ID) throw new InternalError('CP_KEYRING_DATA_KEY_IS_INDEX_ROOT', { params: { tenantId } });
    try {
      await this.db.query(
        `insert into data_key_current (tenant_id, key_id) values ($1, $2)
         on conflict (tenant_id) do update set key_id = excluded.key_id, updated_at = now()`,
        [tenantId, keyId],
      );
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
      const res = await this.db.query<{ tenant_id: string }>(
        `select tenant_id from data_key_current where ($1::text is null or tenant_id > $1) order by tenant_id limit $2`,
        [after, limit],
      );
      return res.rows.map((r) => r.tenant_id);
    });
  }

  /** Records wrapped by any KEK other than `kekId`: what a KEK rotation still has to re-wrap. */
  async wrappedByOtherKek(kekId: string, limit: number): Promise<Array<{ tenantId: string; id: string }>> {
    return asSystem('key rotation', async () => {
      const res = await this.db.query<{ tenant_id: string; id: string }>(
        `select tenant_id, id from data_keys where kek_id <> $1 order by tenant_id, id limit $2`,
        [kekId, limit],
      );
      return res.rows.map((r) => ({ tenantId: r.tenant_id, id: r.id }));
    });
  }

  /**
   * Marks every data key that is neither current nor the blind-index root as retired, once a
   * rotation has moved every stored value off it. The records stay: backups may still name them.
   */
  async retireNonCurrent(): Promise<number> {
    return asSystem('key rotation', async () => {
      const res = await this.db.query(
        `update data_keys k set retired_at = now()
          where k.retired_at is null and k.id <> $1
            and not exists (select 1 from data_key_current c where c.tenant_id = k.tenant_id and c.key_id = k.id)`,
        [BLIND_INDEX_KEY_ID],
      );
      return res.rowCount;
    });
  }

  async summary(): Promise<DataKeySummary> {
    return asSystem('key summary', async () => {
      const byKek = await this.db.query<{ kek_id: string; n: number }>(
        `select kek_id, count(*)::int as n from data_keys group by kek_id order by kek_id`,
      );
      const totals = await this.db.query<{ tenants: number; retired: number }>(
        `select (select count(*)::int from data_key_current) as tenants, (select count(*)::int from data_keys where retired_at is not null) as retired`,
      );
      return {
        byKek: byKek.rows.map((r) => ({ kekId: r.kek_id, records: r.n })),
        tenants: totals.rows[0]?.tenants ?? 0,
        retired: totals.rows[0]?.retired ?? 0,
      };
    });
  }
}
