import { createHash, createPublicKey, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { AppError } from '@controlplane/contracts';
import { generateSigningKeyPair } from '@controlplane/platform';
import type { Sql } from '../storage/index.js';
import type { Role } from './route-table.js';

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

const COLUMNS = 'id, tenant_id, prefix, role, name, expires_at, revoked_at, last_used_at, created_by, created_at';

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
    throw new AppError('VALIDATION_FAILED', { cause: err, details: [{ path: field, message: 'is not a PEM public key' }] });
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new AppError('VALIDATION_FAILED', { details: [{ path: field, message: 'must be an Ed25519 public key' }] });
  return key;
}

/**
 * Creates a key and returns its secret once. Also the bootstrap path (CLI, `controlplane dev`):
 * `createApiKey(db, { tenantId: 'system', role: 'admin', name: 'bootstrap' })` makes the first
 * platform administrator.
 */
export async function createApiKey(sql: Sql, input: CreateApiKeyInput): Promise<CreatedApiKey> {
  const name = input.name.trim();
  if (name.length === 0 || name.length > 200)
    throw new AppError('VALIDATION_FAILED', { details: [{ path: 'name', message: 'must be 1-200 characters' }] });
  let signingPublicKeyPem: string;
  let signingPrivateKeyPem: string | undefined;
  if (input.signingPublicKeyPem !== undefined) {
    signingPublicKeyPem = signingPublicKeyFrom(input.signingPublicKeyPem).export({ type: 'spki', format: 'pem' }).toString();
  } else {
    ({ publicKeyPem: signingPublicKeyPem, privateKeyPem: signingPrivateKeyPem } = generateSigningKeyPair());
  }
  const prefix = randomBytes(8).toString('hex');
  const key = `${API_KEY_PREFIX}${prefix}_${randomBytes(32).toString('base64url')}`;
  const res = await sql.query<ApiKeyRow>(
    `insert into api_keys (id, tenant_id, prefix, secret_hash, role, name, signing_public_key, expires_at, created_by)
     select $1, $2, $3, $4, $5, $6, $7, $8, $9 where exists (select 1 from tenants where id = $2)
     returning ${COLUMNS}`,
    [
      randomUUID(),
      input.tenantId,
      prefix,
      hashApiKey(key),
      input.role,
      name,
      signingPublicKeyPem,
      input.expiresAt ?? null,
      input.createdBy ?? null,
    ],
  );
  const row = res.rows[0];
  if (!row) throw new AppError('RESOURCE_NOT_FOUND', { params: { resource: 'tenant' } });
  return { ...fromRow(row), key, signingPublicKeyPem, signingPrivateKeyPem };
}

/** A tenant's keys, newest first, at most `limit`. */
export async function listApiKeys(sql: Sql, tenantId: string, page: { limit: number }): Promise<ApiKeyRecord[]> {
  const res = await sql.query<ApiKeyRow>(
    `select ${COLUMNS} from api_keys where tenant_id = $1 order by created_at desc, id desc limit $2`,
    [tenantId, page.limit],
  );
  return res.rows.map(fromRow);
}

/**
 * Revokes a key of `tenantId` (any tenant when null: platform administrators). A key of another
 * tenant answers RESOURCE_NOT_FOUND, like one that does not exist. Revoking twice keeps the first time.
 */
export async function revokeApiKey(sql: Sql, tenantId: string | null, id: string): Promise<ApiKeyRecord> {
  const res = await sql.query<ApiKeyRow>(
    `update api_keys set revoked_at = coalesce(revoked_at, now())
     where id = $1 and ($2::text is null or tenant_id = $2) returning ${COLUMNS}`,
    [id, tenantId],
  );
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

export async function findApiKeyCredential(sql: Sql, prefix: string): Promise<ApiKeyCredential | undefined> {
  // Expiry is judged by the database clock, the one clock every replica shares.
  const res = await sql.query<{
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
  }>(
    `select k.id, k.tenant_id, k.role, k.secret_hash, k.signing_public_key, k.last_used_at,
            k.revoked_at is not null as revoked,
            coalesce(k.expires_at <= now(), false) as expired,
            t.status = 'active' as tenant_active,
            q.requests_per_second, q.burst
     from api_keys k
     join tenants t on t.id = k.tenant_id
     left join tenant_quotas q on q.tenant_id = k.tenant_id
     where k.prefix = $1`,
    [prefix],
  );
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
export async function touchApiKey(sql: Sql, id: string, minIntervalSeconds: number): Promise<void> {
  await sql.query(
    `update api_keys set last_used_at = now()
     where id = $1 and (last_used_at is null or last_used_at < now() - make_interval(secs => $2::double precision))`,
    [id, minIntervalSeconds],
  );
}
