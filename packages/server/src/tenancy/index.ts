export { createTenant, getTenant, listTenants, SYSTEM_TENANT, TENANT_ID_PATTERN, type Tenant } from './tenants.js';
export {
  checkJobQuota,
  getTenantQuotas,
  payloadBytesOf,
  putTenantQuotas,
  runningJobHeadroom,
  TenantQuotasInput,
  type TenantQuotas,
} from './quotas.js';
