import { z } from 'zod';

/**
 * A tenant id: 1–63 characters of a-z, 0-9 and `-`, not starting with `-`. The database's
 * tenants_id_format constraint holds the same rule; tenant ids travel into Redis keys,
 * certificate subjects, headers and SQL settings, so nothing outside it is ever accepted.
 */
export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const TenantId = z.string().regex(TENANT_ID_PATTERN, 'must be a tenant id');
export type TenantId = z.infer<typeof TenantId>;

/** True for a string that is a well-formed tenant id. */
export function isTenantId(value: unknown): value is TenantId {
  return typeof value === 'string' && TENANT_ID_PATTERN.test(value);
}

/** An actor id as services forward it (`apikey:<id>`, `runner:<id>`, …): no spaces, no quotes. */
export const ACTOR_ID_PATTERN = /^[A-Za-z0-9:._@-]{1,200}$/;

/**
 * A runner pool's name (job-type contracts, join tokens, runner certificates): the tenant-id rule,
 * for the same reasons.
 */
export const POOL_NAME_PATTERN = TENANT_ID_PATTERN;
export const PoolName = z.string().regex(POOL_NAME_PATTERN, 'must be a pool name');
export type PoolName = z.infer<typeof PoolName>;

/** The roles an API key carries (docs/rbac.md). */
export const ROLES = ['admin', 'operator', 'submitter', 'viewer'] as const;
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;
