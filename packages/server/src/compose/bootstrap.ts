import { createApiKey, type CreatedApiKey } from '../gateway/index.js';
import { apiKeyUsable } from '../gateway/internal.js';
import { type Sql, asSystem } from '../storage/index.js';
import { createTenant, getTenant, type Tenant } from '../tenancy/index.js';

/** The tenant, made when it does not exist yet. */
export async function ensureTenant(sql: Sql, input: { id: string; name: string }): Promise<{ tenant: Tenant; created: boolean }> {
  return asSystem('bootstrap a tenant', async () => {
    const found = await getTenant(sql, input.id);
    if (found) return { tenant: found, created: false };
    return { tenant: await createTenant(sql, input), created: true };
  });
}

/** Whether a key can still authenticate (exists, not revoked, not expired), judged by the database clock. */
export async function isApiKeyUsable(sql: Sql, id: string): Promise<boolean> {
  return asSystem('bootstrap: check a key', () => apiKeyUsable(sql, id));
}

/** A tenant administrator key for the bootstrap (the server generates its signing key pair). */
export function createBootstrapAdminKey(sql: Sql, tenantId: string, name: string): Promise<CreatedApiKey> {
  return asSystem('bootstrap an admin key', () => createApiKey(sql, { tenantId, role: 'admin', name, createdBy: 'bootstrap' }));
}
