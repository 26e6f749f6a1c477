import { sqlFolder } from '../storage/index.js';

/** Tenants' and quotas' statements (packages/server/sql/tenancy). */
export const tenancySql = sqlFolder('tenancy');
