import { InternalError, sha256Hex } from '@controlplane/contracts';
import pg from 'pg';
import type { ConnectionOptions } from 'node:tls';
import {
  applySettings,
  TransactionScope,
  transactionModes,
  type Database,
  type Sql,
  type SqlResult,
  type TransactionOptions,
  type UnscopedAccess,
} from './sql-port.js';
import { effectiveDataScope, scopeSettings, SET_SCOPE_SQL } from './data-scope.js';

export interface PostgresDatabaseOptions {
  connectionString: string;
  maxConnections?: number;
  /** node-postgres TLS options; `false` or absent means no TLS (the config loader decides when that is allowed). */
  ssl?: false | ConnectionOptions;
  /** Server-side `statement_timeout` for every connection of the pool. */
  statementTimeoutMs?: number;
  applicationName?: string;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  /**
   * What work outside every data scope sees: 'none' (the default, for services: no tenant rows)
   * or 'system' (operator tools that span tenants by nature). See data-scope.ts.
   */
  unscoped?: UnscopedAccess;
  /**
   * Told about errors on idle connections (server restart, network drop). The pool has already
   * discarded the broken connection and opens a new one on demand.
   */
  onError?: (err: Error) => void;
}

const OID = { DATE: 1082, DATE_ARRAY: 1182, TEXT_ARRAY: 1009 } as const;

// pg-types types its ids as an enum that lacks most array types.
const builtinParser = pg.types.getTypeParser as (oid: number, format?: 'text' | 'binary') => unknown;

// Per-pool parsers, not pg.types.setTypeParser: that would change every pg user in the process.
const typeParsers: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (format !== 'binary') {
      if (oid === OID.DATE) return (value: string) => value;
      // A date array literal needs no quoting, so the text[] parser yields the same strings.
      if (oid === OID.DATE_ARRAY) return builtinParser(OID.TEXT_ARRAY, 'text');
    }
    return builtinParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

function toResult<R>(result: pg.QueryResult | pg.QueryResult[]): SqlResult<R> {
  // A multi-statement simple query answers with one result per statement; the port promises the last.
  const last = Array.isArray(result) ? result[result.length - 1] : result;
  if (!last) return { rows: [], rowCount: 0 };
  return { rows: last.rows as R[], rowCount: last.rowCount ?? 0 };
}

/**
 * Parameterised statements run as named prepared statements, one per distinct text and
 * connection: PostgreSQL parses and plans each text once per connection instead of on every
 * call (planning the lease and completion statements cost more than running them). Names are
 * derived from the text, so every connection agrees on them. Texts without parameters may hold
 * several statements (migrations), which the extended protocol cannot prepare; they run as they
 * are, and so does any text met after the bound below (a guard against unbounded dynamic SQL).
 */
const MAX_NAMED_STATEMENTS = 2_000;
const statementNames = new Map<string, string | null>();

function statementName(text: string): string | undefined {
  const known = statementNames.get(text);
  if (known !== undefined) return known ?? undefined;
  if (statementNames.size >= MAX_NAMED_STATEMENTS) return undefined;
  const name = `cp_${sha256Hex(text).slice(0, 32)}`;
  statementNames.set(text, name);
  return name;
}

/**
 * A prepared statement whose tables changed shape since it was planned (a migration run by a
 * live process) cannot run again on that connection: PostgreSQL refuses with "cached plan must
 * not change result type". The text is then run unnamed from now on.
 */
function isStalePlan(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '0A000' && /cached plan must not change result type/.test((err as Error).message);
}

async function run<R>(
  runner: pg.Pool | pg.PoolClient,
  text: string,
  values: readonly unknown[] | undefined,
  inTransaction: boolean,
): Promise<SqlResult<R>> {
  if (!values || values.length === 0) return toResult<R>((await runner.query(text)) as pg.QueryResult | pg.QueryResult[]);
  const name = statementName(text);
  if (name === undefined) return toResult<R>(await runner.query(text, values as unknown[]));
  try {
    return toResult<R>(await runner.query({ name, text, values: values as unknown[] }));
  } catch (err) {
    if (!isStalePlan(err)) throw err;
    statementNames.set(text, null);
    // Inside a transaction the error has aborted it; the caller's retry starts a new one.
    if (inTransaction) throw err;
    return toResult<R>(await runner.query(text, values as unknown[]));
  }
}

const SCOPE_KEY = Symbol('controlplane.dataScope');
type ScopedClient = pg.PoolClient & { [SCOPE_KEY]?: string };

/**
 * Brings a pooled connection's row-level-security settings in line with the current data scope
 * (see data-scope.ts). They are session settings, remembered per connection, so a connection
 * that already serves this scope costs nothing; a change costs one statement. Called only
 * between transactions, so a rollback can never undo them behind the cache's back.
 */
async function applyScope(client: ScopedClient, unscoped: UnscopedAccess | undefined): Promise<void> {
  const wanted = scopeSettings(effectiveDataScope(unscoped));
  if (client[SCOPE_KEY] === wanted.key) return;
  client[SCOPE_KEY] = undefined;
  await client.query(SET_SCOPE_SQL, [wanted.tenantId, wanted.scope]);
  client[SCOPE_KEY] = wanted.key;
}

/** A statement error leaves the connection usable; anything else (socket, protocol) does not. */
function isStatementError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

export function createPostgresDatabase(options: PostgresDatabaseOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    ...(options.ssl ? { ssl: options.ssl } : {}),
    ...(options.statementTimeoutMs !== undefined ? { statement_timeout: options.statementTimeoutMs } : {}),
    application_name: options.applicationName ?? 'controlplane',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
    types: typeParsers,
  });
  const onError = options.onError ?? (() => {});
  // Without a listener an idle connection's error would be thrown as an uncaught exception.
  pool.on('error', (err) => onError(err));
  const scope = new TransactionScope();
  let closed: Promise<void> | undefined;

  /**
   * Runs `work` on a checked-out connection with the current data scope applied. A checked-out
   * client has no pool listener: an error while we hold it must not crash the process, and a
   * client that `work` (or its socket) marks broken is destroyed on release rather than reused.
   */
  const withClient = async <T>(work: (client: pg.PoolClient, markBroken: (err: unknown) => void) => Promise<T>): Promise<T> => {
    const client: ScopedClient = await pool.connect();
    let broken: Error | undefined;
    const markBroken = (err: unknown) => {
      broken ??= err instanceof Error ? err : new Error(String(err));
    };
    const onClientError = (err: Error) => {
      markBroken(err);
      onError(err);
    };
    client.on('error', onClientError);
    try {
      try {
        await applyScope(client, options.unscoped);
      } catch (err) {
        markBroken(err);
        throw err;
      }
      return await work(client, markBroken);
    } finally {
      client.off('error', onClientError);
      client.release(broken);
    }
  };

  return {
    kind: 'postgres',

    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),

    async query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]) {
      scope.assertOutside();
      return withClient(async (client, markBroken) => {
        try {
          return await run<R>(client, text, values, false);
        } catch (err) {
          if (!isStatementError(err)) markBroken(err);
          throw err;
        }
      });
    },

    async transaction<T>(fn: (tx: Sql) => Promise<T>, txOptions: TransactionOptions = {}): Promise<T> {
      scope.assertOutside();
      return withClient(async (client, markBroken) => {
        let open = false;
        try {
          const modes = transactionModes(txOptions);
          await client.query(modes ? `BEGIN ${modes}` : 'BEGIN');
          open = true;
          const tx: Sql = { query: (text, values) => run(client, text, values, true) };
          await applySettings(tx, txOptions.settings);
          const result = await scope.run(() => fn(tx));
          open = false;
          const commit = await client.query('COMMIT');
          // COMMIT answered ROLLBACK: a statement failed and the callback caught its error. Nothing was written.
          if (commit.command === 'ROLLBACK') throw new InternalError('CP_STORAGE_TRANSACTION_ABORTED');
          return result;
        } catch (err) {
          if (open) {
            try {
              await client.query('ROLLBACK');
            } catch (rollbackErr) {
              markBroken(rollbackErr);
            }
          }
          throw err;
        }
      });
    },

    close() {
      closed ??= pool.end();
      return closed;
    },
  };
}
