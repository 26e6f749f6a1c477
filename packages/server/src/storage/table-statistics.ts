import type { Database } from './sql-port.js';

/** Advisory lock key: one replica refreshes statistics at a time ("cpstats" in ASCII). */
const STATISTICS_LOCK_KEY = 0x6370_7374_6174_73n;

export interface StatisticsRefresh {
  /** Tables analysed by this call. */
  analyzed: string[];
  /** Why nothing was done, when nothing was. */
  skipped?: 'autovacuum' | 'locked';
}

/**
 * Keeps the planner's statistics of hot tables fresh where nothing else does: a PostgreSQL
 * cluster with autovacuum turned off, and the embedded database (PGlite has no autovacuum).
 *
 * Without statistics the planner guesses that `tenant_id = $1` matches half a percent of the
 * rows, so it finds a few jobs by id through the tenant's whole list index instead of the
 * primary key — reading every job the tenant ever had, more with every job. A table is analysed
 * once it has changed by 500 rows plus a tenth of its size (autovacuum's own rule, with a larger
 * floor), and at most once a minute — except the first time, which is what matters most. With
 * autovacuum on this does nothing: autovacuum analyses by the same rule.
 */
export async function refreshTableStatistics(db: Database, tables: readonly string[]): Promise<StatisticsRefresh> {
  return db.transaction(async (tx): Promise<StatisticsRefresh> => {
    // PGlite reports autovacuum on but runs none. Taking the transaction-level lock when there is
    // nothing to do costs nothing: it goes with the transaction.
    const { rows: state } = await tx.query<{ autovacuum: boolean; got: boolean }>(
      `select current_setting('autovacuum')::boolean as autovacuum, pg_try_advisory_xact_lock($1::bigint) as got`,
      [STATISTICS_LOCK_KEY.toString()],
    );
    if (db.kind === 'postgres' && state[0]?.autovacuum) return { analyzed: [], skipped: 'autovacuum' };
    if (!state[0]?.got) return { analyzed: [], skipped: 'locked' };
    const { rows } = await tx.query<{ relname: string }>(
      `select relname from pg_stat_user_tables
        where schemaname = current_schema() and relname = any($1::text[])
          and n_mod_since_analyze >= 500 + 0.1 * greatest(n_live_tup, 0)
          -- at most once a minute per table (autovacuum's own pace): analysing a large table
          -- under heavy churn every few seconds would cost more than stale statistics
          and coalesce(greatest(last_analyze, last_autoanalyze) < now() - interval '1 minute', true)`,
      [tables],
    );
    const analyzed: string[] = [];
    for (const { relname } of rows) {
      // The name comes from the catalogue and from our own list; quoted all the same.
      await tx.query(`analyze "${relname.replace(/"/g, '""')}"`);
      analyzed.push(relname);
    }
    return { analyzed };
  });
}
