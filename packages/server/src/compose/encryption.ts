import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InternalError } from '@controlplane/contracts';
import { generateKeyringFile, type Config, type FieldCipher, type Logger } from '@controlplane/platform';
import type { HealthProbe } from '../http/index.js';
import { openFieldEncryption } from '../keys/index.js';
import type { Database } from '../storage/index.js';
import { pkiDirOf } from './service-tls.js';
import { openDatabaseFromConfig } from './storage.js';

/** The keyring `controlplane dev` makes on its first start: beside the CA, in `<dataDir>/pki`. */
export const DEV_KEYRING_FILE = 'keyring.json';

/** Said by the start-up log, `/health` and `doctor` when `encryption.enabled` is false. */
export const STORED_IN_CLEAR =
  'encryption at rest is off (encryption.enabled: false): job payloads, results, failures, progress messages and sensitive assertions are stored in clear';

export interface DevKeyring {
  file: string;
  /** True when this call made it (first start). */
  created: boolean;
}

/**
 * The keyring of `controlplane dev`: `encryption.keyringFile` when set, else `<dataDir>/pki/keyring.json`,
 * made (mode 0600) on the first start and reused afterwards. Undefined when `encryption.enabled` is false.
 */
export async function ensureDevKeyring(config: Readonly<Config>): Promise<DevKeyring | undefined> {
  if (config.encryption.enabled === false) return undefined;
  if (config.encryption.keyringFile) return { file: config.encryption.keyringFile, created: false };
  const file = join(pkiDirOf(config), DEV_KEYRING_FILE);
  if (existsSync(file)) return { file, created: false };
  await generateKeyringFile(file);
  return { file, created: true };
}

/**
 * The keyring a production service must have: `encryption.keyringFile`, or undefined when the
 * configuration says `encryption.enabled: false` in so many words. Anything else is refused, so a
 * forgotten setting never means payloads in clear.
 */
export function requiredKeyringFile(config: Readonly<Config>, service: string): string | undefined {
  if (config.encryption.enabled === false) return undefined;
  if (!config.encryption.keyringFile) throw new InternalError('CP_COMPOSE_KEYRING_REQUIRED', { params: { service } });
  return config.encryption.keyringFile;
}

/** The /health probe saying payloads are stored in clear, when the configuration chose that. */
export function encryptionProbes(config: Readonly<Config>): HealthProbe[] {
  if (config.encryption.enabled !== false) return [];
  return [{ name: 'encryption', critical: false, check: () => Promise.resolve({ status: 'degraded' as const, message: STORED_IN_CLEAR }) }];
}

export interface OpenedCipher {
  cipher: FieldCipher;
  close(): Promise<void>;
}

/**
 * A cipher over the data-key tables of `db`. On PostgreSQL the key store gets a small pool of its
 * own (keys are fetched while the services' transactions are open, and must commit on their own);
 * on the embedded database, which has one connection, it uses the database's independent statements,
 * which run inside an open transaction and survive its rollback.
 */
export async function openCipherFromConfig(
  config: Readonly<Config>,
  db: Database,
  keyringFile: string,
  o: { applicationName: string; logger: Logger },
): Promise<OpenedCipher> {
  if (db.kind === 'pglite') {
    if (!db.independent) throw new TypeError('the embedded database has no independent statements');
    const { cipher } = await openFieldEncryption({ keyringFile, keyDb: db.independent });
    return { cipher, close: async () => undefined };
  }
  const { db: keyDb } = await openDatabaseFromConfig(config, { applicationName: o.applicationName, maxConnections: 2, logger: o.logger });
  try {
    const { cipher } = await openFieldEncryption({ keyringFile, keyDb });
    return { cipher, close: () => keyDb.close() };
  } catch (err) {
    await keyDb.close();
    throw err;
  }
}
