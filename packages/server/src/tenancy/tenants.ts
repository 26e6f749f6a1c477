import { AppError, isTenantId } from '@controlplane/contracts';
import type { Sql } from '../storage/index.js';
import { tenancySql as sql } from './sql.js';

/** The reserved tenant whose admin keys administer the platform (tenants, quotas). */
export const SYSTEM_TENANT = 'system';

export interface Tenant {
  id: string;
  name: string;
  status: 'active' | 'suspended';
  createdAt: Date;
}

interface TenantRow {
  id: string;
  name: string;
  status: 'active' | 'suspended';
  created_at: Date;
}

const fromRow = (r: TenantRow): Tenant => ({ id: r.id, name: r.name, status: r.status, createdAt: r.created_at });

/** Creates a tenant; RESOURCE_CONFLICT when the id is taken (including the reserved `system`). */
export async function createTenant(q: Sql, input: { id: string; name: string }): Promise<Tenant> {
  if (!isTenantId(input.id)) {
    throw new AppError('VALIDATION_FAILED', {
      details: [{ path: ['id'], message: 'must be 1-63 characters of a-z, 0-9 and -, starting with a letter or digit' }],
    });
  }
  const name = input.name.trim();
  if (name.length === 0 || name.length > 200)
    throw new AppError('VALIDATION_FAILED', { details: [{ path: ['name'], message: 'must be 1-200 characters' }] });
  const res = await sql('tenant_create').run<TenantRow>(q, { id: input.id, name });
  const row = res.rows[0];
  if (!row) throw new AppError('RESOURCE_CONFLICT', { params: { resource: 'tenant' } });
  return fromRow(row);
}

export async function getTenant(q: Sql, id: string): Promise<Tenant | undefined> {
  const res = await sql('tenant_get').run<TenantRow>(q, { id });
  return res.rows[0] ? fromRow(res.rows[0]) : undefined;
}

/** Tenants in id order, a page at a time (`after` is the last id of the previous page). */
export async function listTenants(q: Sql, page: { limit: number; after?: string | undefined }): Promise<Tenant[]> {
  const res = await sql('tenant_list').run<TenantRow>(q, { after: page.after ?? null, limit: page.limit });
  return res.rows.map(fromRow);
}

export async function tenantExists(q: Sql, id: string): Promise<boolean> {
  const res = await sql('tenant_exists').run(q, { id });
  return res.rows.length > 0;
}
