import { createHash, createPublicKey, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { AppError } from '@controlplane/contracts';
import { generateSigningKeyPair } from '@controlplane/platform';
import type { Sql } from '../storage/index.js';
import type { Role } from './route-table.js';
import { gatewaySql as sql } from './sql.js';

/**
 * API keys look like `cpk_<prefix>_<secret>`: the prefix (16 hex digits) is public and indexed, the
 * secret is 32 random bytes in base64url. Only SHA-256 of the whole text is stored. A fast hash is
 * enough because the secret has 256 bits of entropy: there is no dictionary to try, and a slow KDF
 * would only make every request (and a flood of bad keys) more expensive. A pepper would guard
 * low-entropy secrets against a stolen table; these have none to guard.
 */
export const API_KEY_PREFIX = 'cpk_';
const API_KEY_RE = /^cpk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export interface ParsedApiKey {
  prefix: string;
  text: string;
}

export function parseApiKey(text: string): ParsedApiKey | undefined {
  const m = API_KEY_RE.exec(text);
  return m ? { prefix: m[1]!, text } : undefined;
}

export function hashApiKey(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  prefix: string;
  role: Role;
  name: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  createdBy: string | null;
  createdAt: Date;
}

export interface CreatedApiKey extends ApiKeyRecord {
  /** The bearer key: shown once, never stored. */
  key: string;
  /** SPKI PEM of the Ed25519 key that verifies this key's signed requests (key id = `id`). */
  signingPublicKeyPem: string;
  /** PKCS#8 PEM, only when the server generated the pair: shown once, never stored. */
  signingPrivateKeyPem?: string | undefined;
}

export interface CreateApiKeyInput {
  tenantId: string;
  role: Role;
  name: string;
  expiresAt?: Date | null | undefined;
  createdBy?: string | null | undefined;
  /** An Ed25519 public key (SPKI PEM) the client made; when absent the server generates the pair. */
  signingPublicKeyPem?: string | undefined;
}

interface ApiKeyRow {
  id: string;
  tenant_id: string;
  prefix: string;
  role: Role;
  name: string;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  created_by: string | null;
  created_at: Date;
}

const fromRow = (r: ApiKeyRow): ApiKeyRecord => ({
  id: r.id,
  tenantId: r.tenant_id,
  prefix: r.prefix,
  role: r.role,
  name: r.name,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
  lastUsedAt: r.last_used_at,
  createdBy: r.created_by,
  createdAt: r.created_at,
});

/** Parses an SPKI PEM and insists on Ed25519 (the only algorithm CP-SIG-V1 verifies). */
export function signingPublicKeyFrom(pem: string, field = 'signingPublicKey'): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new AppError('VALIDATION_FAILED', { cause: err, details: [{ path: [field], message: 'is not a PEM public key' }] });
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new AppError('VALIDATION_FAILED', { details: [{ path: [field], message: 'must be an Ed25519 public key' }] });
  return key;
}

/**
 * Creates a key and returns its secret once. Also the bootstrap path (CLI, `controlplane dev`):
 * `createApiKey(db, { tenantId: 'system', role: 'admin', name: 'bootstrap' })` makes the first
 * platform administrator.
 */
export async function createApiKey(q: Sql, input: CreateApiKeyInput): Promise<CreatedApiKey> {
  const name = input.name.trim();
  if (name.length === 0 || name.length > 200)
    throw new AppError('VALIDATION_FAILED', { details: [{ path: ['name'], message: 'must be 1-200 characters' }] });
  let signingPublicKeyPem: string;
  let signingPrivateKeyPem: string | undefined;
  if (input.signingPublicKeyPem !== undefined) {
    signingPublicKeyPem = signingPublicKeyFrom(input.signingPublicKeyPem).export({ type: 'spki', format: 'pem' }).toString();
  } else {
    ({ publicKeyPem: signingPublicKeyPem, privateKeyPem: signingPrivateKeyPem } = generateSigningKeyPair());
  }
  const prefix = randomBytes(8).toString('hex');
  const key = `${API_KEY_PREFIX}${prefix}_${randomBytes(32).toString('base64url')}`;
  const res = await sql('api_key_create').run<ApiKeyRow>(q, {
    id: randomUUID(),
    tenant_id: input.tenantId,
    prefix,
    secret_hash: hashApiKey(key),
    role: input.role,
    name,
    signing_public_key: signingPublicKeyPem,
    expires_at: input.expiresAt ?? null,
    created_by: input.createdBy ?? null,
  });
  const row = res.rows[0];
  if (!row) throw new AppError('RESOURCE_NOT_FOUND', { params: { resource: 'tenant' } });
  return { ...fromRow(row), key, signingPublicKeyPem, signingPrivateKeyPem };
}

/** A tenant's keys, newest first, at most `limit`. */
export async function listApiKeys(q: Sql, tenantId: string, page: { limit: number }): Promise<ApiKeyRecord[]> {
  const res = await sql('api_key_list').run<ApiKeyRow>(q, { tenant_id: tenantId, limit: page.limit });
  return res.rows.map(fromRow);
}

/**
 * Revokes a key of `tenantId` (any tenant when null: platform administrators). A key of another
 * tenant answers RESOURCE_NOT_FOUND, like one that does not exist. Revoking twice keeps the first time.
 */
export async function revokeApiKey(q: Sql, tenantId: string | null, id: string): Promise<ApiKeyRecord> {
  const res = await sql('api_key_revoke').run<ApiKeyRow>(q, { id, tenant_id: tenantId });
  const row = res.rows[0];
  if (!row) throw new AppError('RESOURCE_NOT_FOUND', { params: { resource: 'API key' } });
  return fromRow(row);
}

/** What authentication needs about a key, its tenant and the tenant's rate quota, in one read. */
export interface ApiKeyCredential {
  id: string;
  tenantId: string;
  role: Role;
  secretHash: Buffer;
  signingPublicKeyPem: string;
  revoked: boolean;
  expired: boolean;
  tenantActive: boolean;
  lastUsedAt: Date | null;
  tenantRate: { requestsPerSecond: number | null; burst: number | null };
}

export async function findApiKeyCredential(q: Sql, prefix: string): Promise<ApiKeyCredential | undefined> {
  const res = await sql('api_key_credential').run<{
    id: string;
    tenant_id: string;
    role: Role;
    secret_hash: Buffer;
    signing_public_key: string;
    revoked: boolean;
    expired: boolean;
    tenant_active: boolean;
    last_used_at: Date | null;
    requests_per_second: number | null;
    burst: number | null;
  }>(q, { prefix });
  const r = res.rows[0];
  if (!r) return undefined;
  return {
    id: r.id,
    tenantId: r.tenant_id,
    role: r.role,
    secretHash: r.secret_hash,
    signingPublicKeyPem: r.signing_public_key,
    revoked: r.revoked,
    expired: r.expired,
    tenantActive: r.tenant_active,
    lastUsedAt: r.last_used_at,
    tenantRate: { requestsPerSecond: r.requests_per_second, burst: r.burst },
  };
}

/**
 * Records use, at most once per `minIntervalSeconds` per key across all replicas: the condition makes
 * a second replica's write within the interval a no-op instead of another row version.
 */
export async function touchApiKey(q: Sql, id: string, minIntervalSeconds: number): Promise<void> {
  await sql('api_key_touch').run(q, { id, min_interval_seconds: minIntervalSeconds });
}

/** Whether a key can still authenticate (exists, not revoked, not expired), judged by the database clock. */
export async function apiKeyUsable(q: Sql, id: string): Promise<boolean> {
  const res = await sql('api_key_usable').run<{ usable: boolean }>(q, { id });
  return res.rows[0]?.usable === true;
}
