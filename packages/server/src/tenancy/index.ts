export { createTenant, getTenant, listTenants, SYSTEM_TENANT, type Tenant } from './tenants.js';
// The rule lives in the contracts; re-exported for the gateway's admin handlers, which import it from here.
export { TENANT_ID_PATTERN } from '@controlplane/contracts';
export {
  checkJobQuota,
  getTenantQuotas,
  payloadBytesOf,
  putTenantQuotas,
  runningJobHeadroom,
  TenantQuotasInput,
  type TenantQuotas,
} from './quotas.js';
