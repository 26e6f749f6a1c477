import { AsyncLocalStorage } from 'node:async_hooks';
import { InternalError } from '@controlplane/contracts';

/**
 * The narrow port handlers use instead of a driver (pg-boss's `executeSql(text, values)`).
 *
 * Values and rows mean the same on both adapters:
 * - text, uuid → string; int2/int4/float → number; boolean → boolean
 * - int8 (bigint, count(*)) → string, never number or BigInt: a JS number silently loses precision
 *   above 2^53 and BigInt does not survive JSON.stringify. Cast to `::int` in SQL when a number is wanted.
 * - numeric → string; date → 'YYYY-MM-DD' string (a Date would move with the process time zone)
 * - timestamptz / timestamp → Date; jsonb/json → parsed value; bytea → Buffer
 * - arrays of these → arrays
 * Parameters: Date, Buffer/Uint8Array, bigint, number, boolean, string, arrays (as PostgreSQL
 * arrays) and plain objects (as JSON). A JSON *array* for a jsonb parameter must be passed as
 * `JSON.stringify(value)`: node-postgres sends a JS array as a PostgreSQL array literal.
 *
 * When `values` is absent or empty the text goes through the simple query protocol and may hold
 * several statements (migrations rely on this); the result is that of the last statement.
 */
export interface SqlResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Sql {
  query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<SqlResult<R>>;
}

/** What a connection's work outside every data scope may see (see data-scope.ts). */
export type UnscopedAccess = 'none' | 'system';

export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

export interface TransactionOptions {
  isolation?: IsolationLevel;
  readOnly?: boolean;
  /** Transaction-local settings, e.g. `{ 'app.tenant_id': 't1' }` for row-level security. */
  settings?: Record<string, string>;
}

export interface Database extends Sql {
  readonly kind: 'postgres' | 'pglite';
  /**
   * Runs `fn` in one transaction on one connection. Commits when `fn` resolves; rolls back and
   * rethrows the original error when it throws. Inside `fn` use `tx`: calling this database's
   * `query`/`transaction` from inside the callback is refused (CP_STORAGE_NESTED_TRANSACTION).
   */
  transaction<T>(fn: (tx: Sql) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * PGlite only (one connection, so nothing can have a pool of its own): statements whose effects
   * must last whether or not the transaction open in the caller's context commits — the data-key
   * store's. Inside a transaction they run in it (so they see and are seen by its work, and commit
   * with it); when it rolls back they are run again on their own. Outside one they run as `query`.
   */
  readonly independent?: Sql;
  /** The connection pool's counts, for metrics (PostgreSQL only; the embedded database has one connection). */
  poolStats?(): { total: number; idle: number; waiting: number };
  close(): Promise<void>;
}

const ISOLATION_SQL: Record<IsolationLevel, string> = {
  'read committed': 'ISOLATION LEVEL READ COMMITTED',
  'repeatable read': 'ISOLATION LEVEL REPEATABLE READ',
  serializable: 'ISOLATION LEVEL SERIALIZABLE',
};

/** Transaction modes as SQL (` ISOLATION LEVEL … READ ONLY`), validated so nothing else gets in. */
export function transactionModes(options: TransactionOptions): string {
  const modes: string[] = [];
  if (options.isolation !== undefined) {
    const sql = ISOLATION_SQL[options.isolation];
    if (!sql) throw new TypeError(`unknown isolation level: ${String(options.isolation)}`);
    modes.push(sql);
  }
  if (options.readOnly) modes.push('READ ONLY');
  return modes.join(' ');
}

export async function applySettings(tx: Sql, settings: Record<string, string> | undefined): Promise<void> {
  for (const [name, value] of Object.entries(settings ?? {})) {
    await tx.query('select set_config($1, $2, true)', [name, value]);
  }
}

/**
 * Tracks which async contexts are inside a transaction callback of one database, so direct use
 * of that database from inside can be refused. The scope object is closed when the transaction
 * ends, so work the callback left running afterwards is not refused.
 */
export class TransactionScope<T = undefined> {
  readonly #storage = new AsyncLocalStorage<{ open: boolean; data: T | undefined }>();

  /**
   * `db.query`/`db.transaction` called from inside a `db.transaction` callback. On PGlite (one
   * connection) that call would wait for the transaction that is waiting for it — a deadlock; on
   * PostgreSQL it would silently run outside the transaction on another connection. Refusing it on
   * both adapters makes the mistake show up in tests against either.
   */
  assertOutside(): void {
    if (this.#storage.getStore()?.open) throw new InternalError('CP_STORAGE_NESTED_TRANSACTION');
  }

  /** What `run` was given for the transaction open in this context, if one is. */
  current(): T | undefined {
    const scope = this.#storage.getStore();
    return scope?.open ? scope.data : undefined;
  }

  async run<R>(fn: () => Promise<R>, data?: T): Promise<R> {
    const scope = { open: true, data };
    try {
      return await this.#storage.run(scope, fn);
    } finally {
      scope.open = false;
    }
  }
}
