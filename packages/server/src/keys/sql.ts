import { sqlFolder } from '../storage/index.js';

/** The statements of data keys and key rotation (packages/server/sql/keys). */
export const keysSql = sqlFolder('keys');
