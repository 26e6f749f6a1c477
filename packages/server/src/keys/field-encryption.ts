import { FieldCipher, Keyring, LocalFileKeyProvider } from '@controlplane/platform';
import type { Sql } from '../storage/index.js';
import { PostgresDataKeyStore } from './data-key-store.js';
import { ReloadingKeyProvider } from './reloading-key-provider.js';

export interface FieldEncryptionOptions {
  /** The local keyring file holding the KEKs (mode 0600; `controlplane keys init` creates one). */
  keyringFile: string;
  /**
   * Where the wrapped data keys are: a connection pool of its own on the application database
   * (see PostgresDataKeyStore for why it must not be the pool the services' transactions use).
   */
  keyDb: Sql;
  /** How long unwrapped keys are cached; a data-key rotation's grace period must be longer. Default 5 min. */
  cacheTtlMs?: number;
}

/** Everything a service needs to encrypt fields, built from a keyring file and the data-key tables. */
export interface FieldEncryption {
  cipher: FieldCipher;
  keyring: Keyring;
  store: PostgresDataKeyStore;
  provider: ReloadingKeyProvider;
}

/**
 * Loads the keyring file (refusing a missing one or one that group or others can read, with a
 * message saying what to do) and builds a FieldCipher over the PostgreSQL data-key store.
 */
export async function openFieldEncryption(o: FieldEncryptionOptions): Promise<FieldEncryption> {
  const provider = new ReloadingKeyProvider(await LocalFileKeyProvider.load(o.keyringFile));
  const store = new PostgresDataKeyStore(o.keyDb);
  const keyring = new Keyring({ provider, store, ...(o.cacheTtlMs !== undefined ? { cacheTtlMs: o.cacheTtlMs } : {}) });
  return { cipher: new FieldCipher(keyring), keyring, store, provider };
}
