import {
  PGlite,
  TransactionAbortedError as PgliteTransactionAbortedError,
  type ParserOptions,
  type Results,
  type Transaction,
} from '@electric-sql/pglite';
import { InternalError } from '@controlplane/contracts';
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

export interface PgliteDatabaseOptions {
  /** A directory for a persistent database; in memory when absent. */
  dataDir?: string;
  /** What work outside every data scope sees (see data-scope.ts); default 'none'. */
  unscoped?: UnscopedAccess;
}

const OID = { BYTEA: 17, INT8: 20, DATE: 1082 } as const;

// Make rows look like node-postgres's (see sql-port.ts). PGlite builds its array parsers from
// these element parsers, so int8[] and date[] follow too.
const parsers: ParserOptions = {
  [OID.INT8]: (value: string) => value,
  [OID.DATE]: (value: string) => value,
  [OID.BYTEA]: (value: string) => Buffer.from(value.slice(2), 'hex'),
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

// node-postgres sends a plain object as its JSON text whatever the parameter's type; PGlite would
// send "[object Object]" to a text parameter. Doing the same here keeps the adapters equal.
function prepareValues(values: readonly unknown[]): unknown[] {
  return values.map((value) => (isPlainObject(value) ? JSON.stringify(value) : value));
}

type Runner = Pick<Transaction, 'query' | 'exec'>;

function toResult<R>(result: Results<unknown> | undefined): SqlResult<R> {
  if (!result) return { rows: [], rowCount: 0 };
  return { rows: result.rows as R[], rowCount: result.rowCount ?? result.affectedRows ?? 0 };
}

async function run<R>(runner: Runner, text: string, values: readonly unknown[] | undefined): Promise<SqlResult<R>> {
  if (values && values.length > 0) return toResult<R>(await runner.query(text, prepareValues(values)));
  // Simple protocol, like node-postgres without values: several statements allowed, last result wins.
  const results = await runner.exec(text);
  return toResult<R>(results[results.length - 1]);
}

/** The settings as literals (tenant ids are a strict alphabet, checked again here). */
function setScopeLiteral(wanted: { tenantId: string; scope: string }): string {
  if (!/^[a-z0-9-]*$/.test(wanted.tenantId) || !/^[a-z]*$/.test(wanted.scope)) throw new TypeError('invalid data scope');
  return `select set_config('app.tenant_id', '${wanted.tenantId}', false), set_config('app.scope', '${wanted.scope}', false)`;
}

/**
 * PGlite is one connection. Serialisation is PGlite's own: `query` and `transaction` share one
 * mutex, so a query issued outside a transaction while another transaction is open waits until
 * that transaction has committed or rolled back — it never runs inside it. The consequence is that
 * awaiting `db.query` from inside a transaction callback would deadlock; TransactionScope turns
 * that into a CP_STORAGE_NESTED_TRANSACTION error.
 */
export async function createPgliteDatabase(options: PgliteDatabaseOptions = {}): Promise<Database> {
  const pglite = await PGlite.create({ ...(options.dataDir ? { dataDir: options.dataDir } : {}), parsers });
  const scope = new TransactionScope<OpenTransaction>();
  let closed: Promise<void> | undefined;
  // The row-level-security settings (see data-scope.ts) are set afresh inside the lock of every
  // statement or transaction: PGlite's one connection is shared by every caller, and a cache
  // consulted or updated outside that lock could be overtaken by another caller. In-process, the
  // extra statement costs microseconds.
  const applyScope = async (pgTx: Runner): Promise<void> => {
    const wanted = scopeSettings(effectiveDataScope(options.unscoped));
    await pgTx.query(SET_SCOPE_SQL, [wanted.tenantId, wanted.scope]);
  };

  const db: Database = {
    kind: 'pglite',

    async query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]) {
      scope.assertOutside();
      // The settings and the statement run as one unit, so no other caller's change of scope can
      // come between them. Without values the text may hold statements that refuse a transaction
      // block, so it runs as one exec call (atomic under PGlite's lock) with the settings in front.
      if (!values || values.length === 0) {
        const results = await pglite.exec(`${setScopeLiteral(scopeSettings(effectiveDataScope(options.unscoped)))};\n${text}`);
        return toResult<R>(results[results.length - 1]);
      }
      return pglite.transaction(async (pgTx) => {
        await applyScope(pgTx);
        return run<R>(pgTx, text, values);
      });
    },

    async transaction<T>(fn: (tx: Sql) => Promise<T>, txOptions: TransactionOptions = {}): Promise<T> {
      scope.assertOutside();
      const modes = transactionModes(txOptions);
      let callbackDone = false;
      try {
        return await pglite.transaction(async (pgTx) => {
          const tx: Sql = { query: (text, values) => run(pgTx, text, values) };
          // PGlite has already sent a plain BEGIN; SET TRANSACTION is valid as its first statement.
          if (modes) await pgTx.exec(`SET TRANSACTION ${modes}`);
          await applyScope(pgTx);
          await applySettings(tx, txOptions.settings);
          const open: OpenTransaction = { pgTx, independent: [] };
          try {
            const result = await scope.run(() => fn(tx), open);
            callbackDone = true;
            return result;
          } catch (err) {
            if (open.independent.length > 0) await keepIndependent(pgTx, open.independent, applyScope);
            throw err;
          }
        });
      } catch (err) {
        if (callbackDone && err instanceof PgliteTransactionAbortedError)
          throw new InternalError('CP_STORAGE_TRANSACTION_ABORTED', { cause: err });
        throw err;
      }
    },

    independent: {
      async query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]) {
        const open = scope.current();
        if (!open) return db.query<R>(text, values);
        const result = await run<R>(open.pgTx, text, values);
        open.independent.push({ text, values });
        return result;
      },
    },

    close() {
      closed ??= pglite.close();
      return closed;
    },
  };
  return db;
}

/** A transaction open on the one connection, and the independent statements run in it so far. */
interface OpenTransaction {
  pgTx: Runner;
  independent: Array<{ text: string; values: readonly unknown[] | undefined }>;
}

/**
 * The transaction failed: roll it back, run its independent statements again on their own (each
 * commits), and open an empty transaction for PGlite to roll back. All of it happens inside
 * PGlite's lock, so no other caller can act on a key the rolled-back work made before it is stored.
 */
async function keepIndependent(
  pgTx: Runner,
  statements: OpenTransaction['independent'],
  applyScope: (pgTx: Runner) => Promise<void>,
): Promise<void> {
  await pgTx.exec('ROLLBACK');
  try {
    await applyScope(pgTx);
    for (const s of statements) await run(pgTx, s.text, s.values);
  } finally {
    await pgTx.exec('BEGIN');
  }
}

/** The role the embedded database's services run as once migrations are done. */
export const PGLITE_SERVICE_ROLE = 'controlplane_service';

/**
 * Switches an embedded database's one connection from PGlite's superuser to a role that row-level
 * security applies to, granted what the services need and no more (no UPDATE or DELETE on the
 * audit log). Call it after `migrate`: migrations keep running as the superuser that owns the
 * schema. Idempotent; the switch lasts until the database is closed.
 */
export async function dropToServiceRole(db: Database): Promise<void> {
  if (db.kind !== 'pglite')
    throw new TypeError('dropToServiceRole is for the embedded (PGlite) database; on PostgreSQL, connect as the service role');
  await db.query(`do $$ begin
      create role ${PGLITE_SERVICE_ROLE} nologin nosuperuser nobypassrls;
    exception when duplicate_object then null;
    end $$;
    grant usage on schema public to ${PGLITE_SERVICE_ROLE};
    grant select, insert, update, delete on all tables in schema public to ${PGLITE_SERVICE_ROLE};
    revoke update, delete, truncate on audit_events from ${PGLITE_SERVICE_ROLE};
    revoke insert, update, delete on schema_migrations from ${PGLITE_SERVICE_ROLE};
    grant usage, select, update on all sequences in schema public to ${PGLITE_SERVICE_ROLE};
    grant execute on all functions in schema public to ${PGLITE_SERVICE_ROLE};
    set role ${PGLITE_SERVICE_ROLE}`);
}
