export { createTenant, getTenant, listTenants, tenantExists, SYSTEM_TENANT, type Tenant } from './tenants.js';
export { getTenantQuotas, putTenantQuotas, TenantQuotasInput, type TenantQuotas } from './quotas.js';
