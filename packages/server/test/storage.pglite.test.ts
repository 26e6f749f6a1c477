import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPgliteDatabase } from '@controlplane/server';
import { describeSqlPortContract } from '../../../test/support/postgres.js';

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
});
