// The SQL port's contract as one suite, run against both storage adapters.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '@controlplane/server';

/**
 * The behaviour both storage adapters promise (see packages/server/src/storage/sql-port.ts), as one
 * suite that storage.pg.test.ts and storage.pglite.test.ts run against their adapter. `open` gives a
 * database to an empty schema; the suite closes it.
 */
export function describeSqlPortContract(label: string, open: () => Promise<Database>): void {
  describe(`SQL port contract: ${label}`, () => {
    let db: Database;

    beforeAll(async () => {
      db = await open();
      await db.query(`create table port_items (
        id int primary key,
        label text,
        big bigint,
        doc jsonb,
        at timestamptz,
        day date,
        blob bytea,
        uid uuid,
        flag boolean,
        amount numeric(12, 2),
        bigs bigint[],
        tags text[]
      )`);
    });

    afterAll(async () => {
      await db?.close();
    });

    it('maps parameters and column types the same way', async () => {
      const at = new Date('2024-05-06T07:08:09.123Z');
      const blob = Buffer.from([0, 1, 2, 254, 255]);
      const uid = '7b0c3f4e-2c7a-4f7e-9a51-3f1f4c9f8e10';
      const inserted = await db.query(
        `insert into port_items (id, label, big, doc, at, day, blob, uid, flag, amount, bigs, tags)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [
          1,
          "it's",
          9007199254740993n,
          { nested: { n: 1 }, list: [1, 'two'] },
          at,
          '2024-02-29',
          blob,
          uid,
          true,
          '12.50',
          ['1', 9007199254740993n],
          ['a', 'b,c'],
        ],
      );
      expect(inserted.rowCount).toBe(1);

      const { rows, rowCount } = await db.query('select * from port_items where id = $1', [1]);
      expect(rowCount).toBe(1);
      expect(rows).toEqual([
        {
          id: 1,
          label: "it's",
          big: '9007199254740993',
          doc: { nested: { n: 1 }, list: [1, 'two'] },
          at,
          day: '2024-02-29',
          blob,
          uid,
          flag: true,
          amount: '12.50',
          bigs: ['1', '9007199254740993'],
          tags: ['a', 'b,c'],
        },
      ]);
      const row = rows[0] as Record<string, unknown>;
      expect(row.at).toBeInstanceOf(Date);
      expect(Buffer.isBuffer(row.blob)).toBe(true);

      const counted = await db.query<{ n: string; small: number; none: null }>(
        'select count(*) as n, 2::int as small, null::text as none from port_items',
      );
      expect(counted.rows).toEqual([{ n: '1', small: 2, none: null }]);
    });

    it('sends a plain object as JSON and accepts JSON text for a jsonb array', async () => {
      const { rows } = await db.query<{ o: unknown; t: string; a: unknown }>('select $1::jsonb as o, $1::text as t, $2::jsonb as a', [
        { k: 'v' },
        JSON.stringify([1, 2]),
      ]);
      expect(rows[0]?.o).toEqual({ k: 'v' });
      expect(JSON.parse(rows[0]?.t ?? 'null')).toEqual({ k: 'v' });
      expect(rows[0]?.a).toEqual([1, 2]);
    });

    it('runs several statements when no values are given and returns the last result', async () => {
      const result = await db.query<{ n: number }>(
        'create temporary table port_multi (n int); insert into port_multi values (1), (2); select n from port_multi order by n',
      );
      expect(result.rows).toEqual([{ n: 1 }, { n: 2 }]);
      expect(result.rowCount).toBe(2);
      const updated = await db.query('update port_items set label = $1 where id >= $2', ['x', 0]);
      expect(updated.rowCount).toBe(1);
      expect((await db.query('create temporary table port_ddl (n int)')).rowCount).toBe(0);
    });

    it('reports SQLSTATE codes on database errors', async () => {
      await expect(db.query('insert into port_items (id) values ($1)', [1])).rejects.toMatchObject({ code: '23505' });
      await expect(db.query('select * from no_such_table')).rejects.toMatchObject({ code: '42P01' });
    });

    it('commits a transaction and returns the callback result', async () => {
      const result = await db.transaction(async (tx) => {
        await tx.query('insert into port_items (id, label) values ($1, $2)', [10, 'committed']);
        const [a, b] = await Promise.all([tx.query('select 1 as one'), tx.query('select label from port_items where id = $1', [10])]);
        return [a.rows[0], b.rows[0]];
      });
      expect(result).toEqual([{ one: 1 }, { label: 'committed' }]);
      expect((await db.query('select label from port_items where id = $1', [10])).rows).toEqual([{ label: 'committed' }]);
    });

    it('rolls back on throw and rethrows the original error', async () => {
      const original = new Error('handler failed');
      const attempt = db.transaction(async (tx) => {
        await tx.query('insert into port_items (id, label) values ($1, $2)', [11, 'rolled back']);
        throw original;
      });
      await expect(attempt).rejects.toBe(original);
      expect((await db.query('select * from port_items where id = $1', [11])).rowCount).toBe(0);
    });

    it('refuses to commit when the callback swallowed a failed statement', async () => {
      const attempt = db.transaction(async (tx) => {
        await tx.query('insert into port_items (id, label) values ($1, $2)', [12, 'lost']);
        await tx.query('select 1 / 0').catch(() => undefined);
        return 'done';
      });
      await expect(attempt).rejects.toMatchObject({ name: 'InternalError', code: 'CP_STORAGE_TRANSACTION_ABORTED' });
      expect((await db.query('select * from port_items where id = $1', [12])).rowCount).toBe(0);
    });

    it('makes settings visible inside the transaction only', async () => {
      const inside = await db.transaction(
        async (tx) => (await tx.query<{ tenant: string }>(`select current_setting('app.tenant_id', true) as tenant`)).rows[0]?.tenant,
        { settings: { 'app.tenant_id': 't1' } },
      );
      expect(inside).toBe('t1');
      for (let i = 0; i < 3; i++) {
        const outside = (await db.query<{ tenant: string | null }>(`select current_setting('app.tenant_id', true) as tenant`)).rows[0]
          ?.tenant;
        expect(outside ?? '').toBe('');
        const otherTx = await db.transaction(
          async (tx) =>
            (await tx.query<{ tenant: string | null }>(`select current_setting('app.tenant_id', true) as tenant`)).rows[0]?.tenant,
        );
        expect(otherTx ?? '').toBe('');
      }
    });

    it('applies isolation level and read-only mode', async () => {
      const level = await db.transaction(
        async (tx) => (await tx.query<{ l: string }>(`select current_setting('transaction_isolation') as l`)).rows[0]?.l,
        {
          isolation: 'serializable',
        },
      );
      expect(level).toBe('serializable');
      await expect(db.transaction((tx) => tx.query('insert into port_items (id) values (13)'), { readOnly: true })).rejects.toMatchObject({
        code: '25006',
      });
    });

    it('refuses direct use of the database inside its own transaction callback', async () => {
      const nested = { name: 'InternalError', code: 'CP_STORAGE_NESTED_TRANSACTION' };
      await expect(db.transaction(() => db.query('select 1'))).rejects.toMatchObject(nested);
      await expect(db.transaction(() => db.transaction(async () => 1))).rejects.toMatchObject(nested);
      expect((await db.query('select 1 as ok')).rows).toEqual([{ ok: 1 }]);
    });

    it('never runs a query issued outside an open transaction inside it', async () => {
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => (entered = resolve));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const failing = db.transaction(async (tx) => {
        await tx.query('insert into port_items (id, label) values ($1, $2)', [20, 'inside']);
        entered();
        await gate;
        throw new Error('roll back the transaction');
      });
      await inside;
      const outside = db.query('insert into port_items (id, label) values ($1, $2)', [21, 'outside']);
      await sleep(50);
      release();
      await expect(failing).rejects.toThrow('roll back the transaction');
      await outside;
      const { rows } = await db.query<{ id: number }>('select id from port_items where id in (20, 21) order by id');
      expect(rows).toEqual([{ id: 21 }]);
    });
  });
}
