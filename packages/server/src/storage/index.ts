export { type Database, type IsolationLevel, type Sql, type SqlResult, type TransactionOptions, type UnscopedAccess } from './sql-port.js';
export { createPostgresDatabase, type PostgresDatabaseOptions } from './postgres.js';
export { createPgliteDatabase, dropToServiceRole, PGLITE_SERVICE_ROLE, type PgliteDatabaseOptions } from './pglite.js';
export {
  appliedMigrations,
  DEFAULT_MIGRATIONS_DIR,
  migrate,
  readMigrations,
  type AppliedMigration,
  type MigrateOptions,
  type MigrateResult,
  type MigrationFile,
} from './migrations.js';
export { dumpSchema, SCHEMA_SNAPSHOT_FILE } from './schema-dump.js';
export { asSystem, currentDataScope, withTenant, type DataScope } from './data-scope.js';
export { GroupCommit, type GroupCommitOptions } from './group-commit.js';
export { refreshTableStatistics, type StatisticsRefresh } from './table-statistics.js';
export {
  DEFAULT_SQL_DIR,
  declaredSqlFolders,
  loadSqlStatements,
  sqlFolder,
  SqlStatement,
  type SqlFolder,
  type SqlMacros,
  type SqlParameter,
} from './sql-statements.js';
export { exactTimeIdCursor, keysetCursor, timeIdCursor, type KeysetCursor, type KeysetCursorSpec } from './keyset-cursor.js';
