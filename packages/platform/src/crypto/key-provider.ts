import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { canonicalJson } from '@controlplane/contracts';
import { InternalError } from '@controlplane/contracts';

/** What a wrapped data key is bound to: unwrapping under any other context fails. */
export interface KeyWrapContext {
  readonly tenantId: string;
  readonly dataKeyId: string;
}

export interface WrappedKeyMaterial {
  readonly kekId: string;
  readonly wrapped: Buffer;
}

/**
 * The key-encryption-key (KEK) holder. This is the plug-in point for a cloud KMS: an implementation
 * calls the KMS Encrypt/Decrypt API with `context` as the encryption context, and the KEK never
 * leaves the KMS. The local implementation below keeps KEKs in a 0600 file.
 */
export interface KeyProvider {
  /** The KEK that new wraps use. */
  currentKekId(): string;
  wrap(dataKey: Buffer, context: KeyWrapContext): Promise<WrappedKeyMaterial>;
  /** Throws if `kekId` is unknown or the wrap does not authenticate under `context`. */
  unwrap(kekId: string, wrapped: Buffer, context: KeyWrapContext): Promise<Buffer>;
}

export const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const WRAPPED_BYTES = IV_BYTES + KEY_BYTES + TAG_BYTES;
/** KEK ids are written into stored records and logs, so they are kept to a plain, bounded alphabet. */
const KEK_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

interface KeyringFile {
  current: string;
  keys: Record<string, string>;
}

function wrapAad(kekId: string, context: KeyWrapContext): Buffer {
  // The KEK id is bound too, so a wrap cannot be relabelled as belonging to another KEK.
  return Buffer.from(canonicalJson(['cp-dek-wrap:v1', kekId, context.tenantId, context.dataKeyId]), 'utf8');
}

/**
 * KEKs from a local keyring file (JSON `{ "current": "<kekId>", "keys": { "<kekId>": "<base64 32 bytes>" } }`).
 * Wraps with AES-256-GCM: `iv(12) || ciphertext(32) || tag(16)`, associated data binding tenant and data key id.
 */
export class LocalFileKeyProvider implements KeyProvider {
  private constructor(
    readonly path: string,
    private current: string,
    private keys: Map<string, Buffer>,
  ) {}

  /** Loads and checks a keyring file; refuses one that group or others can read. */
  static async load(path: string): Promise<LocalFileKeyProvider> {
    const { current, keys } = await readKeyringFile(path);
    return new LocalFileKeyProvider(path, current, keys);
  }

  /** Re-reads the file (after `addKekToKeyringFile`), keeping the old keyring if the new one is refused. */
  async reload(): Promise<void> {
    const { current, keys } = await readKeyringFile(this.path);
    this.current = current;
    this.keys = keys;
  }

  currentKekId(): string {
    return this.current;
  }

  kekIds(): string[] {
    return [...this.keys.keys()];
  }

  async wrap(dataKey: Buffer, context: KeyWrapContext): Promise<WrappedKeyMaterial> {
    if (dataKey.length !== KEY_BYTES) {
      throw new InternalError('CP_KEYRING_DATA_KEY_LENGTH_INVALID', { params: { expected: KEY_BYTES, length: dataKey.length } });
    }
    const kekId = this.current;
    const kek = this.kek(kekId);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', kek, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(wrapAad(kekId, context));
    const body = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    return { kekId, wrapped: Buffer.concat([iv, body, cipher.getAuthTag()]) };
  }

  async unwrap(kekId: string, wrapped: Buffer, context: KeyWrapContext): Promise<Buffer> {
    const kek = this.kek(kekId);
    if (wrapped.length !== WRAPPED_BYTES) {
      throw new InternalError('CP_KEYRING_UNWRAP_INPUT_LENGTH', {
        params: { dataKeyId: context.dataKeyId, length: wrapped.length, expected: WRAPPED_BYTES },
      });
    }
    const iv = wrapped.subarray(0, IV_BYTES);
    const body = wrapped.subarray(IV_BYTES, IV_BYTES + KEY_BYTES);
    const tag = wrapped.subarray(IV_BYTES + KEY_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', kek, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(wrapAad(kekId, context));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(body), decipher.final()]);
    } catch (err) {
      throw new InternalError('CP_KEYRING_UNWRAP_FAILED', {
        params: { dataKeyId: context.dataKeyId, tenantId: context.tenantId, kekId },
        cause: err,
      });
    }
  }

  private kek(kekId: string): Buffer {
    const kek = this.keys.get(kekId);
    if (!kek) {
      throw new InternalError('CP_KEYRING_KEK_NOT_FOUND', { params: { kekId, path: this.path } });
    }
    return kek;
  }
}

async function readKeyringFile(path: string): Promise<{ current: string; keys: Map<string, Buffer> }> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    throw new InternalError('CP_KEYRING_NOT_FOUND', { params: { path }, cause: err });
  }
  if (!info.isFile()) throw new InternalError('CP_KEYRING_NOT_A_FILE', { params: { path } });
  // POSIX modes mean nothing on Windows; everywhere else a KEK readable by another account is refused.
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
    throw new InternalError('CP_KEYRING_INSECURE_PERMISSIONS', { params: { path, mode } });
  }
  const text = await readFile(path, 'utf8');
  return parseKeyring(path, text);
}

function parseKeyring(path: string, text: string): { current: string; keys: Map<string, Buffer> } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InternalError('CP_KEYRING_NOT_JSON', { params: { path }, cause: err });
  }
  const invalid = (problem: string) => new InternalError('CP_KEYRING_INVALID', { params: { path, problem } });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid('expected an object { "current", "keys" }');
  const { current, keys } = raw as Record<string, unknown>;
  if (typeof keys !== 'object' || keys === null || Array.isArray(keys)) throw invalid('"keys" must be an object of kekId → base64 key');
  const out = new Map<string, Buffer>();
  for (const [kekId, value] of Object.entries(keys as Record<string, unknown>)) {
    if (!KEK_ID.test(kekId)) throw invalid(`KEK id ${JSON.stringify(kekId)} must match ${KEK_ID.source}`);
    // Decoding is checked strictly: Node's base64 decoder silently skips junk, which could shorten a key.
    if (typeof value !== 'string' || !BASE64.test(value)) throw invalid(`KEK ${kekId} is not base64`);
    const key = Buffer.from(value, 'base64');
    if (key.length !== KEY_BYTES) throw invalid(`KEK ${kekId} is ${key.length} bytes; AES-256 needs exactly ${KEY_BYTES}`);
    out.set(kekId, key);
  }
  if (typeof current !== 'string' || !out.has(current)) throw invalid('"current" must name a KEK present in "keys"');
  return { current, keys: out };
}

function newKekId(): string {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '');
  return `kek-${day}-${randomBytes(4).toString('hex')}`;
}

function serialise(file: KeyringFile): string {
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** Creates a keyring with one fresh KEK, mode 0600. Refuses to overwrite an existing file. */
export async function generateKeyringFile(path: string): Promise<{ kekId: string }> {
  const kekId = newKekId();
  const file: KeyringFile = { current: kekId, keys: { [kekId]: randomBytes(KEY_BYTES).toString('base64') } };
  let handle;
  try {
    handle = await open(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new InternalError('CP_KEYRING_EXISTS', { params: { path }, cause: err });
    }
    throw err;
  }
  try {
    // The umask can only remove bits, but chmod makes the mode explicit whatever created the inode.
    await handle.chmod(0o600);
    await handle.writeFile(serialise(file), 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { kekId };
}

/**
 * Adds a fresh KEK and makes it current, keeping every old KEK (data keys wrapped by them must stay
 * readable until they are re-wrapped). The file is replaced atomically, so a crash leaves either the
 * old or the new keyring, never a torn one. Not safe against two concurrent writers: it is an
 * operator action.
 */
export async function addKekToKeyringFile(path: string): Promise<{ kekId: string }> {
  const { keys } = await readKeyringFile(path);
  let kekId = newKekId();
  while (keys.has(kekId)) kekId = newKekId();
  const file: KeyringFile = { current: kekId, keys: {} };
  for (const [id, key] of keys) file.keys[id] = key.toString('base64');
  file.keys[kekId] = randomBytes(KEY_BYTES).toString('base64');

  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
  try {
    await handle.chmod(0o600);
    await handle.writeFile(serialise(file), 'utf8');
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  return { kekId };
}
