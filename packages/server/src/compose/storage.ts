import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { InternalError } from '@controlplane/contracts';
import { resolvePostgresUrl, type Config, type Logger } from '@controlplane/platform';
import { createRedis, type RedisConnection } from '../redis/index.js';
import { createPgliteDatabase, createPostgresDatabase, type Database, type UnscopedAccess } from '../storage/index.js';

export interface OpenedDatabase {
  db: Database;
  kind: 'embedded' | 'postgres';
  /** Where it is, for messages: a directory or a URL without its password. */
  where: string;
}

/** The embedded database's directory: `<dataDir>/db`. */
export function embeddedDatabaseDir(config: Readonly<Config>): string {
  return join(config.dataDir, 'db');
}

/** node-postgres TLS options for `database.sslMode` (the config loader refuses combinations that fall back to plaintext). */
export function postgresSsl(database: Config['database']): false | ConnectionOptions {
  if (database.sslMode === 'disable') return false;
  if (database.sslMode === 'require') return { rejectUnauthorized: false };
  let ca: string | undefined;
  if (database.sslCaFile) {
    try {
      ca = readFileSync(database.sslCaFile, 'utf8');
    } catch (err) {
      throw new InternalError('CP_COMPOSE_DATABASE_CA_UNREADABLE', {
        params: { file: database.sslCaFile, reason: (err as Error).message },
        cause: err,
      });
    }
  }
  return { rejectUnauthorized: true, ...(ca ? { ca } : {}) };
}

export function displayDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<database url>';
  }
}

/**
 * The connection string node-postgres gets: `database.url` with every part it leaves out filled in
 * as libpq fills it, from PGHOST/PGPORT/PGUSER/PGDATABASE (read by the config loader) and then
 * libpq's defaults. Services and CLI alike connect where psql would.
 */
export function postgresConnectionString(database: Config['database']): string {
  if (!database.url) throw new InternalError('CP_COMPOSE_DATABASE_URL_MISSING');
  return resolvePostgresUrl(database.url, database.urlDefaults);
}

export interface OpenDatabaseOptions {
  /** Shown by PostgreSQL in pg_stat_activity. */
  applicationName: string;
  logger?: Logger;
  /** What work outside every data scope sees (see data-scope.ts); services keep the default, 'none'. */
  unscoped?: UnscopedAccess;
  /** Pool size; default `database.maxConnections`. */
  maxConnections?: number;
  /** Default `database.statementTimeoutMs`. */
  statementTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/**
 * Every database the code opens is opened here: PostgreSQL when `database.mode` is `postgres`
 * (TLS per `database.sslMode`, the URL completed as psql would), else PGlite in `<dataDir>/db`
 * (one process only).
 */
export async function openDatabaseFromConfig(config: Readonly<Config>, options: OpenDatabaseOptions): Promise<OpenedDatabase> {
  const { database } = config;
  if (database.mode === 'postgres') {
    const connectionString = postgresConnectionString(database);
    const db = createPostgresDatabase({
      connectionString,
      ssl: postgresSsl(database),
      maxConnections: options.maxConnections ?? database.maxConnections,
      statementTimeoutMs: options.statementTimeoutMs ?? database.statementTimeoutMs,
      ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
      applicationName: options.applicationName,
      ...(options.unscoped ? { unscoped: options.unscoped } : {}),
      onError: (err) => options.logger?.warn({ err }, 'idle PostgreSQL connection failed; the pool reconnects on demand'),
    });
    return { db, kind: 'postgres', where: displayDatabaseUrl(connectionString) };
  }
  const dir = embeddedDatabaseDir(config);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return {
    db: await createPgliteDatabase({ dataDir: dir, ...(options.unscoped ? { unscoped: options.unscoped } : {}) }),
    kind: 'embedded',
    where: dir,
  };
}

/** A Redis connection when `redis.mode` is `redis`; undefined in embedded mode. */
export async function openRedisFromConfig(
  config: Readonly<Config>,
  options: { connectionName: string; logger?: Logger },
): Promise<RedisConnection | undefined> {
  const { redis } = config;
  if (redis.mode !== 'redis' || !redis.url) return undefined;
  return createRedis({
    url: redis.url,
    keyPrefix: redis.keyPrefix,
    connectionName: options.connectionName,
    ...(redis.tlsCaFile ? { tls: { caFile: redis.tlsCaFile } } : {}),
    onError: (err) => options.logger?.warn({ err: { message: err.message } }, 'Redis connection error; reconnecting'),
  });
}
