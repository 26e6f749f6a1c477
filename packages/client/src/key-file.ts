import { chmodSync, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { InternalError, isInternalError } from '@controlplane/contracts';
import type { SigningKey } from './request-signing.js';
import type { CreatedApiKey, Role } from './types.js';

/**
 * A credentials file: an API key with its signing private key, as `controlplane dev` and
 * `controlplane keys create --out` write it (mode 0600). Whoever can read it acts as the key.
 */
export interface KeyFile {
  kind: 'controlplane-api-key';
  version: 1;
  id: string;
  tenantId: string;
  role: Role;
  name: string;
  /** The bearer key (`cpk_…`). */
  key: string;
  signingKeyId: string;
  /** PKCS#8 PEM; absent for a key registered with a public key only (it cannot sign here). */
  signingPrivateKey?: string;
  createdAt: string;
}

export interface Credentials {
  apiKey: string;
  signingKey?: SigningKey;
  id: string;
  tenantId: string;
  role: Role;
}

export function keyFileFrom(created: CreatedApiKey): KeyFile {
  return {
    kind: 'controlplane-api-key',
    version: 1,
    id: created.id,
    tenantId: created.tenantId,
    role: created.role,
    name: created.name,
    key: created.key,
    signingKeyId: created.signingKeyId,
    ...(created.signingPrivateKey ? { signingPrivateKey: created.signingPrivateKey } : {}),
    createdAt: created.createdAt,
  };
}

/**
 * Reads a credentials file, refusing one that others can read (as ssh does with private keys).
 * Failures are InternalErrors with a CP_KEYFILE_* code (docs/errors.md).
 */
export function readKeyFile(path: string): Credentials {
  let text: string;
  try {
    const mode = statSync(path).mode & 0o777;
    if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
      throw new InternalError('CP_KEYFILE_INSECURE_PERMISSIONS', { params: { path, mode: mode.toString(8) } });
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (isInternalError(err, 'CP_KEYFILE_')) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new InternalError('CP_KEYFILE_NOT_FOUND', { params: { path }, cause: err });
    throw new InternalError('CP_KEYFILE_UNREADABLE', { params: { path, reason: (err as Error).message }, cause: err });
  }
  let parsed: Partial<KeyFile>;
  try {
    parsed = JSON.parse(text) as Partial<KeyFile>;
  } catch (err) {
    throw new InternalError('CP_KEYFILE_NOT_JSON', { params: { path }, cause: err });
  }
  if (
    parsed.kind !== 'controlplane-api-key' ||
    typeof parsed.key !== 'string' ||
    typeof parsed.id !== 'string' ||
    typeof parsed.tenantId !== 'string' ||
    typeof parsed.role !== 'string'
  ) {
    throw new InternalError('CP_KEYFILE_INVALID', { params: { path } });
  }
  return {
    apiKey: parsed.key,
    id: parsed.id,
    tenantId: parsed.tenantId,
    role: parsed.role,
    ...(typeof parsed.signingPrivateKey === 'string'
      ? { signingKey: { keyId: parsed.signingKeyId ?? parsed.id, privateKey: parsed.signingPrivateKey } }
      : {}),
  };
}

/**
 * Writes a credentials file with mode 0600 from the first byte (a temporary file renamed into
 * place), so the secret is never readable by others, not even briefly.
 */
export function writeKeyFile(path: string, file: KeyFile, options: { overwrite?: boolean } = {}): void {
  if (!options.overwrite && existsSync(path)) throw new InternalError('CP_KEYFILE_EXISTS', { params: { path } });
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(file, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    // The mode given to writeFile is filtered by the umask; set it exactly.
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
