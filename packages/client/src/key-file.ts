import { chmodSync, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
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

export class KeyFileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeyFileError';
  }
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

/** Reads a credentials file, refusing one that others can read (as ssh does with private keys). */
export function readKeyFile(path: string): Credentials {
  let text: string;
  try {
    const mode = statSync(path).mode & 0o777;
    if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
      throw new KeyFileError(`${path} is readable by others (mode ${mode.toString(8)}); run \`chmod 600 ${path}\``);
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof KeyFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new KeyFileError(code === 'ENOENT' ? `no key file at ${path}` : `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  let parsed: Partial<KeyFile>;
  try {
    parsed = JSON.parse(text) as Partial<KeyFile>;
  } catch (err) {
    throw new KeyFileError(`${path} is not JSON`, { cause: err });
  }
  if (
    parsed.kind !== 'controlplane-api-key' ||
    typeof parsed.key !== 'string' ||
    typeof parsed.id !== 'string' ||
    typeof parsed.tenantId !== 'string' ||
    typeof parsed.role !== 'string'
  ) {
    throw new KeyFileError(`${path} is not a ControlPlane key file`);
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
  if (!options.overwrite && existsSync(path)) throw new KeyFileError(`${path} already exists; refusing to overwrite a key file`);
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
