import { mkdirSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { InternalError } from '@controlplane/contracts';
import type { Config, Logger } from '@controlplane/platform';
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
 * The connection string with libpq's default user — the operating-system user — when the URL names
 * none. node-postgres would fall back to $USER instead, which containers and service managers often
 * leave unset, so `postgres://127.0.0.1:5432/db` would work with psql and fail here.
 */
export function postgresConnectionString(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  if (parsed.username || !/^postgres(ql)?:$/.test(parsed.protocol) || parsed.searchParams.has('user')) return url;
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    return url;
  }
  parsed.username = encodeURIComponent(name);
  return parsed.toString();
}

/** PostgreSQL when `database.mode` is `postgres`, else PGlite in `<dataDir>/db` (one process only). */
export async function openDatabaseFromConfig(
  config: Readonly<Config>,
  options: { applicationName: string; logger?: Logger; unscoped?: UnscopedAccess },
): Promise<OpenedDatabase> {
  const { database } = config;
  if (database.mode === 'postgres' && database.url) {
    const db = createPostgresDatabase({
      connectionString: postgresConnectionString(database.url),
      ssl: postgresSsl(database),
      maxConnections: database.maxConnections,
      statementTimeoutMs: database.statementTimeoutMs,
      applicationName: options.applicationName,
      ...(options.unscoped ? { unscoped: options.unscoped } : {}),
      onError: (err) => options.logger?.warn({ err }, 'idle PostgreSQL connection failed; the pool reconnects on demand'),
    });
    return { db, kind: 'postgres', where: displayDatabaseUrl(database.url) };
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
