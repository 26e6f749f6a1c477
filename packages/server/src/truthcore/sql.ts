import { sqlFolder } from '../storage/index.js';

/** TruthCore's statements (packages/server/sql/truthcore). */
export const truthcoreSql = sqlFolder('truthcore');
