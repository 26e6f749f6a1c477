export { createTenant, getTenant, listTenants, SYSTEM_TENANT, TENANT_ID_PATTERN, type Tenant } from './tenants.js';
export { getTenantQuotas, putTenantQuotas, TenantQuotasInput, type TenantQuotas } from './quotas.js';
