// SQL statements kept in files: the header is the truth about how a statement is called.
import { mkdtempSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SQL_DIR, declaredSqlFolders, jobforgeSql, loadSqlStatements, SqlStatement, type Sql } from '@controlplane/server';

const HEADER = '-- Finds things.\n-- :tenant_id  text  whose\n-- :ids        uuid[]\n';

describe('SQL statement files', () => {
  it('compiles named parameters to positions in header order, leaving casts, strings and comments alone', () => {
    const s = new SqlStatement(
      'find',
      `${HEADER}select ':ids', "a:b", x::text -- :nope\n  from t /* :nor */ where id = any(:ids::uuid[]) and tenant_id = :tenant_id and y = :tenant_id`,
    );
    expect(s.text).toBe(
      `select ':ids', "a:b", x::text -- :nope\n  from t /* :nor */ where id = any($2::uuid[]) and tenant_id = $1 and y = $1`,
    );
    expect(s.params.map((p) => [p.name, p.type, p.description])).toEqual([
      ['tenant_id', 'text', 'whose'],
      ['ids', 'uuid[]', ''],
    ]);
    expect(s.description).toBe('Finds things.');
  });

  it('refuses a header that is not the truth', () => {
    expect(() => new SqlStatement('a', `${HEADER}select :tenant_id, :ids, :other`)).toThrow(
      /uses :other, which its header does not declare/,
    );
    expect(() => new SqlStatement('b', `${HEADER}select :tenant_id`)).toThrow(/declares :ids but never uses it/);
    expect(() => new SqlStatement('c', 'select 1')).toThrow(expect.objectContaining({ code: 'CP_STORAGE_SQL_STATEMENT_INVALID' }));
    expect(() => new SqlStatement('d', `-- x\n-- :a int\n-- :a int\nselect :a`)).toThrow(/twice/);
    expect(() => new SqlStatement('e', `-- x\nselect @nope(1)`)).toThrow(/unknown macro @nope\(1\)/);
  });

  it('takes exactly the declared parameters, by name', async () => {
    const s = new SqlStatement('find', `${HEADER}select :ids, :tenant_id`);
    const seen: unknown[][] = [];
    const q: Sql = {
      query: async (_text, values) => {
        seen.push([...(values ?? [])]);
        return { rows: [], rowCount: 0 };
      },
    };
    await s.run(q, { ids: ['x'], tenant_id: 't1' });
    expect(seen).toEqual([['t1', ['x']]]);
    expect(() => s.valuesOf({ tenant_id: 't1' })).toThrow(/missing \[ids\]/);
    expect(() => s.valuesOf({ tenant_id: 't1', ids: [], extra: 1 })).toThrow(/extra \[extra\]/);
  });

  it('expands macros and includes fragments, whose parameters join the statement', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cp-sql-'));
    mkdirSync(join(dir, 'f'));
    writeFileSync(join(dir, 'f', '_cte.sql'), '-- A fragment.\n-- :limit int\npicked as (select id from t limit :limit)\n');
    writeFileSync(
      join(dir, 'f', 'main.sql'),
      `-- Main.\n-- :tenant_id text\nwith\n-- @include cte\nselect * from picked where s in (@list(a, b)) and t = :tenant_id\n`,
    );
    const statements = loadSqlStatements('f', { list: (...xs) => xs.map((x) => `'${x}'`).join(', ') }, dir);
    expect([...statements.keys()]).toEqual(['main']);
    const main = statements.get('main')!;
    expect(main.text).toBe("with\npicked as (select id from t limit $2)\nselect * from picked where s in ('a', 'b') and t = $1");
    expect(main.params.map((p) => p.name)).toEqual(['tenant_id', 'limit']);
  });

  it('lets a statement be one fragment, and refuses a fragment that nothing includes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cp-sql-'));
    mkdirSync(join(dir, 'g'));
    writeFileSync(join(dir, 'g', '_head.sql'), '-- A fragment.\n-- :id int\nselect :id\n');
    writeFileSync(join(dir, 'g', 'head.sql'), '-- The head, nothing more.\n-- @include head\n');
    const head = loadSqlStatements('g', {}, dir).get('head')!;
    expect(head.text).toBe('select $1');
    expect(head.description).toBe('The head, nothing more.');
    writeFileSync(join(dir, 'g', '_stray.sql'), '-- Never included.\nselect 1\n');
    expect(() => loadSqlStatements('g', {}, dir)).toThrow(/g\/_stray: is a fragment that no statement includes/);
  });

  it('loads every statement file of every folder, each with the macros its folder supplies', () => {
    const root = fileURLToPath(DEFAULT_SQL_DIR);
    const folders = readdirSync(root, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    // A folder no module declares would be loaded by nothing, and its headers never checked.
    expect([...declaredSqlFolders().keys()].sort()).toEqual(folders);
    for (const folder of folders) {
      const files = readdirSync(join(root, folder)).filter((f) => f.endsWith('.sql') && !f.startsWith('_'));
      const statements = declaredSqlFolders().get(folder)!.all();
      expect([...statements.keys()].sort(), folder).toEqual(files.map((f) => f.slice(0, -'.sql'.length)).sort());
    }
  });

  it("loads every JobForge statement with the state table's macros", () => {
    const lease = jobforgeSql('lease_next_ready');
    expect(lease.text).toContain("status in ('queued', 'retrying')");
    expect(lease.text).toContain("set status = 'running'");
    expect(lease.params.map((p) => p.name)).toEqual(['tenant_id', 'pool', 'types', 'max', 'runner_id', 'certificate_serial', 'lease_ms']);
    expect(jobforgeSql('move_to_queued_on_redrive').text).toContain("status in ('failed', 'cancelled')");
    expect(() => jobforgeSql('no_such_statement')).toThrow(expect.objectContaining({ code: 'CP_STORAGE_SQL_STATEMENT_INVALID' }));
  });
});
