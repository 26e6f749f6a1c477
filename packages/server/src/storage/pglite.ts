import {
  PGlite,
  TransactionAbortedError as PgliteTransactionAbortedError,
  type ParserOptions,
  type Results,
  type Transaction,
} from '@electric-sql/pglite';
import {
  applySettings,
  TransactionAbortedError,
  TransactionScope,
  transactionModes,
  type Database,
  type Sql,
  type SqlResult,
  type TransactionOptions,
} from './sql-port.js';

export interface PgliteDatabaseOptions {
  /** A directory for a persistent database; in memory when absent. */
  dataDir?: string;
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

/**
 * PGlite is one connection. Serialisation is PGlite's own: `query` and `transaction` share one
 * mutex, so a query issued outside a transaction while another transaction is open waits until
 * that transaction has committed or rolled back — it never runs inside it. The consequence is that
 * awaiting `db.query` from inside a transaction callback would deadlock; TransactionScope turns
 * that into a NestedTransactionError.
 */
export async function createPgliteDatabase(options: PgliteDatabaseOptions = {}): Promise<Database> {
  const pglite = await PGlite.create({ ...(options.dataDir ? { dataDir: options.dataDir } : {}), parsers });
  const scope = new TransactionScope();
  let closed: Promise<void> | undefined;

  return {
    kind: 'pglite',

    async query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]) {
      scope.assertOutside();
      return run<R>(pglite, text, values);
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
          await applySettings(tx, txOptions.settings);
          const result = await scope.run(() => fn(tx));
          callbackDone = true;
          return result;
        });
      } catch (err) {
        if (callbackDone && err instanceof PgliteTransactionAbortedError) throw new TransactionAbortedError({ cause: err });
        throw err;
      }
    },

    close() {
      closed ??= pglite.close();
      return closed;
    },
  };
}
