import { randomBytes, randomUUID } from 'node:crypto';
import { KEY_BYTES } from './key-provider.js';
import { InternalError } from '@controlplane/contracts';

/** A tenant's AES-256 data key in clear. Lives only in process memory. */
export interface DataKey {
  readonly id: string;
  readonly tenantId: string;
  readonly key: Buffer;
}

/** The stored form of a data key: wrapped by a KEK, bound to its tenant and id. */
export interface WrappedDataKey {
  readonly id: string;
  readonly tenantId: string;
  readonly kekId: string;
  readonly wrapped: Buffer;
}

/**
 * Where wrapped data keys are kept (a PostgreSQL table keyed by (tenant_id, id) in production).
 * Records are never deleted while a ciphertext may name them.
 */
export interface DataKeyStore {
  get(tenantId: string, keyId: string): Promise<WrappedDataKey | undefined>;
  /** The record `setCurrent` last named for the tenant. */
  current(tenantId: string): Promise<WrappedDataKey | undefined>;
  /** Inserts, or replaces the record with the same (tenantId, id): re-wrapping under a new KEK replaces it. */
  put(record: WrappedDataKey): Promise<void>;
  /**
   * Inserts unless a record with the same (tenantId, id) exists, and returns the stored record (the
   * caller's or the one already there): `INSERT … ON CONFLICT DO NOTHING` then `SELECT`. Needed where
   * two replicas may create the same well-known record at once and both must end up using one key.
   */
  putIfAbsent(record: WrappedDataKey): Promise<WrappedDataKey>;
  /** Names the key new encryptions use; the record must exist. */
  setCurrent(tenantId: string, keyId: string): Promise<void>;
}

/** Data key ids appear inside `cpenc:v1:` strings, whose parts are `:`-separated. */
export const DATA_KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function generateDataKey(tenantId: string): DataKey {
  assertTenantId(tenantId);
  return { id: randomUUID(), tenantId, key: randomBytes(KEY_BYTES) };
}

export function assertTenantId(tenantId: string): void {
  if (typeof tenantId !== 'string' || tenantId.length === 0) {
    throw new TypeError('tenantId must be a non-empty string');
  }
}

/** For tests and the single-process development mode. */
export class InMemoryDataKeyStore implements DataKeyStore {
  private readonly records = new Map<string, WrappedDataKey>();
  private readonly currents = new Map<string, string>();

  async get(tenantId: string, keyId: string): Promise<WrappedDataKey | undefined> {
    const record = this.records.get(slot(tenantId, keyId));
    return record && copy(record);
  }

  async current(tenantId: string): Promise<WrappedDataKey | undefined> {
    const keyId = this.currents.get(tenantId);
    return keyId === undefined ? undefined : this.get(tenantId, keyId);
  }

  async put(record: WrappedDataKey): Promise<void> {
    if (!DATA_KEY_ID.test(record.id))
      throw new InternalError('CP_KEYRING_DATA_KEY_ID_INVALID', { params: { id: JSON.stringify(record.id), pattern: DATA_KEY_ID.source } });
    // Copied in and out so a caller mutating its buffer cannot change what is "stored".
    this.records.set(slot(record.tenantId, record.id), copy(record));
  }

  async putIfAbsent(record: WrappedDataKey): Promise<WrappedDataKey> {
    // No await between the check and the insert: that gap is exactly the race this method exists to close.
    const existing = this.records.get(slot(record.tenantId, record.id));
    if (existing) return copy(existing);
    if (!DATA_KEY_ID.test(record.id))
      throw new InternalError('CP_KEYRING_DATA_KEY_ID_INVALID', { params: { id: JSON.stringify(record.id), pattern: DATA_KEY_ID.source } });
    this.records.set(slot(record.tenantId, record.id), copy(record));
    return copy(record);
  }

  async setCurrent(tenantId: string, keyId: string): Promise<void> {
    if (!this.records.has(slot(tenantId, keyId))) {
      throw new InternalError('CP_KEYRING_DATA_KEY_NOT_FOUND', { params: { keyId, tenantId } });
    }
    this.currents.set(tenantId, keyId);
  }

  /** Every record, for tests that tamper with storage. */
  all(): WrappedDataKey[] {
    return [...this.records.values()].map(copy);
  }
}

function slot(tenantId: string, keyId: string): string {
  return JSON.stringify([tenantId, keyId]);
}

function copy(record: WrappedDataKey): WrappedDataKey {
  return { id: record.id, tenantId: record.tenantId, kekId: record.kekId, wrapped: Buffer.from(record.wrapped) };
}
