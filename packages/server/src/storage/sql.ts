import { sqlFolder } from './sql-statements.js';

/** The storage layer's own statements (packages/server/sql/storage). */
export const storageSql = sqlFolder('storage');
