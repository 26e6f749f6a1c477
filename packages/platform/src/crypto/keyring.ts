import { randomBytes } from 'node:crypto';
import { deriveBlindIndexKey } from './blind-index.js';
import { assertTenantId, generateDataKey, type DataKey, type DataKeyStore, type WrappedDataKey } from './data-keys.js';
import { InternalError } from '@controlplane/contracts';
import { KEY_BYTES, type KeyProvider } from './key-provider.js';

/**
 * Id of each tenant's blind-index root record in the DataKeyStore. It is wrapped by the KEK like a data
 * key (so KEK rotation re-wraps it too) but is never current and never decrypts a field.
 */
export const BLIND_INDEX_KEY_ID = 'blind-index-root-v1';

export interface KeyringOptions {
  provider: KeyProvider;
  store: DataKeyStore;
  /**
   * How long an unwrapped key, or a tenant's "current key" answer, is kept in memory. Bounds both the
   * exposure of key material and how long another replica's rotation takes to be noticed. Default 5 min.
   */
  cacheTtlMs?: number;
  /** Most unwrapped keys held at once; the least recently used goes first. Default 10 000. */
  maxCachedKeys?: number;
  /** Milliseconds clock, for tests. */
  clock?: () => number;
}

interface CacheEntry<T> {
  value: T;
  expiresAt: number;
}

/**
 * Per-tenant data keys over a KeyProvider (KEK) and a DataKeyStore: creates a tenant's first key on
 * demand, rotates, re-wraps under a new KEK, and caches unwrapped keys for a bounded time.
 */
export class Keyring {
  readonly provider: KeyProvider;
  readonly store: DataKeyStore;
  private readonly ttlMs: number;
  private readonly maxKeys: number;
  private readonly clock: () => number;
  private readonly keys = new Map<string, CacheEntry<DataKey>>();
  private readonly currentIds = new Map<string, CacheEntry<string>>();
  // Concurrent callers share one load, so a burst of first writes for a tenant creates one key, not many.
  private readonly inflight = new Map<string, Promise<DataKey>>();

  constructor(options: KeyringOptions) {
    this.provider = options.provider;
    this.store = options.store;
    this.ttlMs = options.cacheTtlMs ?? 5 * 60_000;
    this.maxKeys = options.maxCachedKeys ?? 10_000;
    this.clock = options.clock ?? Date.now;
    if (!(this.ttlMs >= 0) || !(this.maxKeys >= 1)) throw new RangeError('cacheTtlMs must be >= 0 and maxCachedKeys >= 1');
  }

  /** The key new encryptions for the tenant use; created (and made current) if the tenant has none. */
  async currentDataKey(tenantId: string): Promise<DataKey> {
    assertTenantId(tenantId);
    const cachedId = this.fresh(this.currentIds.get(tenantId));
    if (cachedId !== undefined) {
      const key = await this.dataKey(tenantId, cachedId);
      if (key) return key;
    }
    return this.once(`current\n${tenantId}`, async () => {
      const record = (await this.store.current(tenantId)) ?? (await this.createFirst(tenantId));
      // Encrypting under the index root would reuse one secret for two purposes; a store saying so is broken.
      if (record.id === BLIND_INDEX_KEY_ID) throw new InternalError('CP_KEYRING_DATA_KEY_IS_INDEX_ROOT', { params: { tenantId } });
      const key = await this.unwrapRecord(record);
      this.remember(key);
      this.currentIds.set(tenantId, { value: key.id, expiresAt: this.clock() + this.ttlMs });
      return key;
    });
  }

  /** A tenant's data key by id, or undefined if the tenant has no such key. */
  async dataKey(tenantId: string, keyId: string): Promise<DataKey | undefined> {
    assertTenantId(tenantId);
    if (keyId === BLIND_INDEX_KEY_ID) return undefined;
    return this.load(tenantId, keyId);
  }

  /** Creates a new data key and makes it current. Old keys stay readable. */
  async rotateDataKey(tenantId: string): Promise<DataKey> {
    assertTenantId(tenantId);
    const key = generateDataKey(tenantId);
    await this.store.put(await this.wrapKey(key));
    await this.store.setCurrent(tenantId, key.id);
    this.remember(key);
    this.currentIds.set(tenantId, { value: key.id, expiresAt: this.clock() + this.ttlMs });
    return key;
  }

  /**
   * Re-wraps one stored key (data key or the blind-index root) under the current KEK. Returns false
   * if it already is. A KEK rotation runs this over every record before retiring the old KEK.
   */
  async rewrapDataKey(tenantId: string, keyId: string): Promise<boolean> {
    const record = await this.store.get(tenantId, keyId);
    if (!record) throw new InternalError('CP_KEYRING_DATA_KEY_NOT_FOUND', { params: { keyId, tenantId } });
    if (record.kekId === this.provider.currentKekId()) return false;
    const key = await this.unwrapRecord(record);
    await this.store.put(await this.wrapKey(key));
    return true;
  }

  /** The HMAC key for the tenant's blind indexes in `scope` (see deriveBlindIndexKey). */
  async blindIndexKey(tenantId: string, scope = ''): Promise<Buffer> {
    assertTenantId(tenantId);
    const root = await this.load(tenantId, BLIND_INDEX_KEY_ID);
    return deriveBlindIndexKey((root ?? (await this.createIndexRoot(tenantId))).key, tenantId, scope);
  }

  /** Drops every unwrapped key from memory. */
  clearCache(): void {
    this.keys.clear();
    this.currentIds.clear();
  }

  private async load(tenantId: string, keyId: string): Promise<DataKey | undefined> {
    const slot = slotOf(tenantId, keyId);
    const entry = this.keys.get(slot);
    if (entry) {
      this.keys.delete(slot);
      if (this.fresh(entry)) {
        // Re-inserting keeps Map order = least recently used first, which is what eviction takes. The
        // expiry is not extended: a key in constant use is still re-read from the store every TTL.
        this.keys.set(slot, entry);
        return entry.value;
      }
    }
    const record = await this.store.get(tenantId, keyId);
    if (!record) return undefined;
    return this.once(`key\n${slot}`, async () => {
      const key = await this.unwrapRecord(record);
      this.remember(key);
      return key;
    });
  }

  private async createFirst(tenantId: string): Promise<WrappedDataKey> {
    const record = await this.wrapKey(generateDataKey(tenantId));
    await this.store.put(record);
    // Another replica may be creating the tenant's first key at the same moment: whichever becomes
    // current is used by both, and the other key stays stored, unused but harmless.
    if ((await this.store.current(tenantId)) === undefined) await this.store.setCurrent(tenantId, record.id);
    const current = await this.store.current(tenantId);
    if (!current) throw new InternalError('CP_KEYRING_DATA_KEY_CURRENT_LOST', { params: { tenantId } });
    return current;
  }

  private async createIndexRoot(tenantId: string): Promise<DataKey> {
    return this.once(`index\n${tenantId}`, async () => {
      const candidate: DataKey = { id: BLIND_INDEX_KEY_ID, tenantId, key: randomBytes(KEY_BYTES) };
      // First writer wins: two replicas indexing with different roots would make equal values unequal.
      const stored = await this.store.putIfAbsent(await this.wrapKey(candidate));
      const key = await this.unwrapRecord(stored);
      this.remember(key);
      return key;
    });
  }

  private async wrapKey(key: DataKey): Promise<WrappedDataKey> {
    const { kekId, wrapped } = await this.provider.wrap(key.key, { tenantId: key.tenantId, dataKeyId: key.id });
    return { id: key.id, tenantId: key.tenantId, kekId, wrapped };
  }

  private async unwrapRecord(record: WrappedDataKey): Promise<DataKey> {
    const key = await this.provider.unwrap(record.kekId, record.wrapped, { tenantId: record.tenantId, dataKeyId: record.id });
    if (key.length !== KEY_BYTES) {
      throw new InternalError('CP_KEYRING_UNWRAP_OUTPUT_LENGTH', {
        params: { dataKeyId: record.id, tenantId: record.tenantId, length: key.length, expected: KEY_BYTES },
      });
    }
    return { id: record.id, tenantId: record.tenantId, key };
  }

  private remember(key: DataKey): void {
    const slot = slotOf(key.tenantId, key.id);
    this.keys.delete(slot);
    this.keys.set(slot, { value: key, expiresAt: this.clock() + this.ttlMs });
    while (this.keys.size > this.maxKeys) {
      const oldest = this.keys.keys().next().value;
      if (oldest === undefined) break;
      this.keys.delete(oldest);
    }
    if (this.currentIds.size > this.maxKeys) this.currentIds.clear();
  }

  private fresh<T>(entry: CacheEntry<T> | undefined): T | undefined {
    return entry && entry.expiresAt > this.clock() ? entry.value : undefined;
  }

  private once(name: string, work: () => Promise<DataKey>): Promise<DataKey> {
    const pending = this.inflight.get(name);
    if (pending) return pending;
    const started = work().finally(() => this.inflight.delete(name));
    this.inflight.set(name, started);
    return started;
  }
}

function slotOf(tenantId: string, keyId: string): string {
  return JSON.stringify([tenantId, keyId]);
}
