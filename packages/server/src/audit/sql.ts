import { sqlFolder } from '../storage/index.js';

/** The audit log's statements (packages/server/sql/audit). */
export const auditSql = sqlFolder('audit');
