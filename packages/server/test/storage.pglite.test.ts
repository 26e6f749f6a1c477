import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPgliteDatabase, refreshTableStatistics } from '@controlplane/server';
import { describeSqlPortContract } from '../../../test/support/sql-port-contract.js';

describeSqlPortContract('PGlite (in memory)', () => createPgliteDatabase());

describe('PGlite adapter', () => {
  it('keeps data in dataDir across close and reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cp-pglite-'));
    try {
      const first = await createPgliteDatabase({ dataDir: dir });
      expect(first.kind).toBe('pglite');
      await first.query('create table kept (v text)');
      await first.query('insert into kept values ($1)', ['still here']);
      await first.close();

      const second = await createPgliteDatabase({ dataDir: dir });
      try {
        expect((await second.query('select v from kept')).rows).toEqual([{ v: 'still here' }]);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('serialises concurrent transactions instead of interleaving them', async () => {
    const db = await createPgliteDatabase();
    try {
      await db.query('create table events (tx int, step int, seq serial primary key)');
      const run = (tx: number) =>
        db.transaction(async (t) => {
          for (let step = 0; step < 3; step++) {
            await t.query('insert into events (tx, step) values ($1, $2)', [tx, step]);
            await new Promise((resolve) => setTimeout(resolve, 1));
          }
        });
      await Promise.all([run(1), run(2), run(3)]);
      const { rows } = await db.query<{ tx: number }>('select tx from events order by seq');
      const order = rows.map((r) => r.tx);
      // Each transaction's three rows are contiguous.
      expect(order).toHaveLength(9);
      for (let i = 0; i < 9; i += 3) expect(new Set(order.slice(i, i + 3)).size).toBe(1);
    } finally {
      await db.close();
    }
  });

  it('refreshes planner statistics of a table that changed enough (there is no autovacuum to do it)', async () => {
    const db = await createPgliteDatabase();
    try {
      await db.query('create table churn (id int primary key, tenant text)');
      await db.query(`insert into churn select g, 't1' from generate_series(1, 100) g`);
      expect((await refreshTableStatistics(db, ['churn'])).analyzed).toEqual([]);
      await db.query(`insert into churn select g, 't1' from generate_series(101, 1000) g`);
      // The counters reach the statistics views a moment after the change.
      let analyzed: string[] = [];
      for (let i = 0; i < 50 && analyzed.length === 0; i++) {
        analyzed = (await refreshTableStatistics(db, ['churn'])).analyzed;
        if (analyzed.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(analyzed).toEqual(['churn']);
      const stats = await db.query<{ n: number }>(
        `select count(*)::int as n from pg_stats where tablename = 'churn' and attname = 'tenant'`,
      );
      expect(stats.rows[0]!.n).toBe(1);
      expect((await refreshTableStatistics(db, ['churn'])).analyzed).toEqual([]);
    } finally {
      await db.close();
    }
  });
});
