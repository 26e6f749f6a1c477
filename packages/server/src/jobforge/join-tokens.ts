import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { AppError } from '@controlplane/contracts';
import type { Sql } from '../storage/index.js';
import { jobforgeSql as sql } from './sql.js';

/** Join tokens are shown once; only their SHA-256 is stored. The prefix makes leaked ones greppable. */
export const JOIN_TOKEN_PREFIX = 'cpjt_';
const TOKEN_RE = /^cpjt_[A-Za-z0-9_-]{43}$/;

export function hashJoinToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export interface JoinTokenGrant {
  id: string;
  tenantId: string;
  pool: string;
}

export interface CreatedJoinToken extends JoinTokenGrant {
  /** The secret itself: returned once, never stored. */
  token: string;
  expiresAt: Date;
}

export async function createJoinToken(
  q: Sql,
  p: { tenantId: string; pool: string; ttlMs: number; createdBy: string | null },
): Promise<CreatedJoinToken> {
  const token = JOIN_TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const id = randomUUID();
  const res = await sql('join_token_create').run<{ expires_at: Date }>(q, {
    id,
    tenant_id: p.tenantId,
    pool: p.pool,
    token_hash: hashJoinToken(token),
    ttl_ms: p.ttlMs,
    created_by: p.createdBy,
  });
  return { id, tenantId: p.tenantId, pool: p.pool, token, expiresAt: res.rows[0]!.expires_at };
}

/**
 * Uses a join token up. Single use is enforced by the conditional UPDATE: of two concurrent
 * enrolments with one token, exactly one matches the row. Unknown, used and expired tokens all
 * get the same answer so a caller learns nothing about which it was.
 */
export async function consumeJoinToken(q: Sql, token: string, usedBy: string): Promise<JoinTokenGrant> {
  if (!TOKEN_RE.test(token)) throw new AppError('JOIN_TOKEN_INVALID');
  const res = await sql('join_token_consume').run<{ id: string; tenant_id: string; pool: string }>(q, {
    token_hash: hashJoinToken(token),
    used_by: usedBy,
  });
  const row = res.rows[0];
  if (!row) throw new AppError('JOIN_TOKEN_INVALID');
  return { id: row.id, tenantId: row.tenant_id, pool: row.pool };
}
