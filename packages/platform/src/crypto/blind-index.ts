import { createHmac, hkdfSync } from 'node:crypto';
import { canonicalJson } from '@controlplane/contracts';

const INDEX_KEY_BYTES = 32;
const HKDF_SALT = Buffer.from('controlplane/blind-index/v1', 'utf8');

/**
 * The HMAC key for one tenant's blind indexes, derived with HKDF-SHA256 from the tenant's index root
 * key (a per-tenant secret kept apart from its data keys, so rotating data keys leaves indexes valid).
 * `scope` (e.g. `"jobs.payload.email"`) gives a column its own key, so equal values in two columns
 * do not show as equal; the empty scope is the tenant-wide key.
 */
export function deriveBlindIndexKey(rootKey: Buffer, tenantId: string, scope = ''): Buffer {
  const info = Buffer.from(canonicalJson(['cp-blind-index:v1', tenantId, scope]), 'utf8');
  return Buffer.from(hkdfSync('sha256', rootKey, HKDF_SALT, info, INDEX_KEY_BYTES));
}

/**
 * Blind index of a value for equality lookups over encrypted columns: lowercase hex HMAC-SHA256 of the
 * value's canonical JSON (sorted keys, no whitespace), so `{a:1,b:2}` and `{b:2,a:1}` index equally.
 * It reveals which rows hold equal values, and nothing else, to whoever reads the column.
 */
export function blindIndex(indexKey: Buffer, value: unknown): string {
  if (indexKey.length < 32) throw new TypeError('a blind-index key must be at least 32 bytes');
  if (value === undefined) throw new TypeError('undefined has no blind index');
  return createHmac('sha256', indexKey).update(canonicalJson(value), 'utf8').digest('hex');
}
