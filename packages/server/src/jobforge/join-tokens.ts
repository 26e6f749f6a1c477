import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { AppError } from '@controlplane/contracts';
import type { Sql } from '../storage/index.js';

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
  const res = await q.query<{ expires_at: Date }>(
    `insert into join_tokens (id, tenant_id, pool, token_hash, expires_at, created_by)
     values ($1, $2, $3, $4, now() + make_interval(secs => $5::double precision / 1000), $6) returning expires_at`,
    [id, p.tenantId, p.pool, hashJoinToken(token), p.ttlMs, p.createdBy],
  );
  return { id, tenantId: p.tenantId, pool: p.pool, token, expiresAt: res.rows[0]!.expires_at };
}

/**
 * Uses a join token up. Single use is enforced by the conditional UPDATE: of two concurrent
 * enrolments with one token, exactly one matches the row. Unknown, used and expired tokens all
 * get the same answer so a caller learns nothing about which it was.
 */
export async function consumeJoinToken(q: Sql, token: string, usedBy: string): Promise<JoinTokenGrant> {
  if (!TOKEN_RE.test(token)) throw new AppError('JOIN_TOKEN_INVALID');
  const res = await q.query<{ id: string; tenant_id: string; pool: string }>(
    `update join_tokens set used_at = now(), used_by = $2
      where token_hash = $1 and used_at is null and expires_at > now()
      returning id, tenant_id, pool`,
    [hashJoinToken(token), usedBy],
  );
  const row = res.rows[0];
  if (!row) throw new AppError('JOIN_TOKEN_INVALID');
  return { id: row.id, tenantId: row.tenant_id, pool: row.pool };
}
