import { sqlFolder } from '../storage/index.js';

/** The gateway's statements (packages/server/sql/gateway). */
export const gatewaySql = sqlFolder('gateway');
