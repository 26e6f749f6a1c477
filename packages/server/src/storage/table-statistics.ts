import type { Database } from './sql-port.js';
import { storageSql as sql } from './sql.js';

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
    // PGlite reports autovacuum on but runs none; the lock (one replica at a time) is only tried.
    const { rows: state } = await sql('statistics_lock').run<{ autovacuum: boolean; got: boolean }>(tx);
    if (db.kind === 'postgres' && state[0]?.autovacuum) return { analyzed: [], skipped: 'autovacuum' };
    if (!state[0]?.got) return { analyzed: [], skipped: 'locked' };
    const { rows } = await sql('stale_statistics').run<{ relname: string }>(tx, { tables });
    const analyzed: string[] = [];
    for (const { relname } of rows) {
      // A table name cannot be a parameter, so this statement stays in code. The name comes from the
      // catalogue and from our own list; quoted all the same.
      await tx.query(`analyze "${relname.replace(/"/g, '""')}"`);
      analyzed.push(relname);
    }
    return { analyzed };
  });
}
