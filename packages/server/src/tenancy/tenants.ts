import { AppError, isTenantId } from '@controlplane/contracts';
import type { Sql } from '../storage/index.js';

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
export async function createTenant(sql: Sql, input: { id: string; name: string }): Promise<Tenant> {
  if (!isTenantId(input.id)) {
    throw new AppError('VALIDATION_FAILED', {
      details: [{ path: 'id', message: 'must be 1-63 characters of a-z, 0-9 and -, starting with a letter or digit' }],
    });
  }
  const name = input.name.trim();
  if (name.length === 0 || name.length > 200)
    throw new AppError('VALIDATION_FAILED', { details: [{ path: 'name', message: 'must be 1-200 characters' }] });
  const res = await sql.query<TenantRow>(
    `insert into tenants (id, name) values ($1, $2) on conflict (id) do nothing returning id, name, status, created_at`,
    [input.id, name],
  );
  const row = res.rows[0];
  if (!row) throw new AppError('RESOURCE_CONFLICT', { params: { resource: 'tenant' } });
  return fromRow(row);
}

export async function getTenant(sql: Sql, id: string): Promise<Tenant | undefined> {
  const res = await sql.query<TenantRow>('select id, name, status, created_at from tenants where id = $1', [id]);
  return res.rows[0] ? fromRow(res.rows[0]) : undefined;
}

/** Tenants in id order, a page at a time (`after` is the last id of the previous page). */
export async function listTenants(sql: Sql, page: { limit: number; after?: string | undefined }): Promise<Tenant[]> {
  const res = await sql.query<TenantRow>(
    `select id, name, status, created_at from tenants where ($1::text is null or id > $1) order by id limit $2`,
    [page.after ?? null, page.limit],
  );
  return res.rows.map(fromRow);
}
