import type { Sql } from './sql-port.js';

/** The committed snapshot that tests compare a freshly migrated database with. */
export const SCHEMA_SNAPSHOT_FILE = new URL('../../migrations/schema.snapshot.sql', import.meta.url);

const HEADER = [
  '-- Schema of the public schema after all migrations, written by src/scripts/dump-schema.ts',
  '-- (npm run schema:dump). Do not edit: tests compare it with freshly migrated PostgreSQL and PGlite databases.',
];

// Sorting happens here, not in SQL: ORDER BY follows the database collation, which differs
// between a PostgreSQL cluster (often en_US.UTF-8) and PGlite (C).
function byKey<T>(key: (item: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const [ka, kb] = [key(a), key(b)];
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  };
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** Collapses a multi-line definition (view, function body) so formatting differences between server versions vanish. */
function oneLine(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .join(' ');
}

/**
 * PostgreSQL 16 stopped qualifying column references in single-table view definitions
 * (`jobs.seq` became `seq`), so qualifiers are dropped from view bodies on every version. Composite
 * field access (`(col).field`) and numbers are untouched: the pattern needs a letter before the dot.
 */
function withoutQualifiers(sql: string): string {
  return sql.replace(/\b[A-Za-z_][A-Za-z0-9_]*\.(?=[A-Za-z_"])/g, '');
}

const POLICY_COMMANDS: Record<string, string> = { '*': 'ALL', r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE' };
const VOLATILITY: Record<string, string> = { i: 'IMMUTABLE', s: 'STABLE', v: 'VOLATILE' };
const RELATION_KINDS: Record<string, string> = { r: 'TABLE', p: 'PARTITIONED TABLE', v: 'VIEW', m: 'MATERIALIZED VIEW' };

interface RelationRow {
  name: string;
  kind: string;
  rls: boolean;
  force_rls: boolean;
  viewdef: string | null;
}
interface ColumnRow {
  rel: string;
  num: number;
  name: string;
  type: string;
  not_null: boolean;
  default_expr: string | null;
  identity: string;
  generated: string;
}
interface NamedDefRow {
  rel: string;
  name: string;
  def: string;
}
interface PolicyRow {
  rel: string;
  name: string;
  permissive: boolean;
  cmd: string;
  roles: string[];
  using_expr: string | null;
  check_expr: string | null;
}

// Objects created by an extension belong to the extension, not to our migrations.
const NOT_FROM_EXTENSION = (oid: string) => `not exists (select 1 from pg_catalog.pg_depend d where d.objid = ${oid} and d.deptype = 'e')`;

/**
 * A deterministic description of the `public` schema built from catalog queries (not pg_dump, which
 * PGlite lacks), identical on PostgreSQL 15 and PGlite's PostgreSQL 18 for the same migrations.
 * Owners and privileges are left out: they depend on who ran the migrations, not on the migrations.
 */
export async function dumpSchema(db: Sql): Promise<string> {
  const relations = (
    await db.query<RelationRow>(`
      select c.relname as name, c.relkind::text as kind,
             c.relrowsecurity as rls, c.relforcerowsecurity as force_rls,
             case when c.relkind in ('v', 'm') then pg_catalog.pg_get_viewdef(c.oid, true) end as viewdef
        from pg_catalog.pg_class c
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
       where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm')
         and ${NOT_FROM_EXTENSION('c.oid')}`)
  ).rows.sort(byKey((r) => r.name));

  const columns = groupBy(
    (
      await db.query<ColumnRow>(`
        select c.relname as rel, a.attnum::int as num, a.attname as name,
               pg_catalog.format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as not_null,
               pg_catalog.pg_get_expr(d.adbin, d.adrelid) as default_expr,
               a.attidentity::text as identity, a.attgenerated::text as generated
          from pg_catalog.pg_attribute a
          join pg_catalog.pg_class c on c.oid = a.attrelid
          join pg_catalog.pg_namespace n on n.oid = c.relnamespace
          left join pg_catalog.pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
         where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm')
           and a.attnum > 0 and not a.attisdropped`)
    ).rows.sort((a, b) => a.num - b.num),
    (c) => c.rel,
  );

  // PostgreSQL 18 records NOT NULL as constraints (contype 'n'); nullability is printed per column.
  const constraints = groupBy(
    (
      await db.query<NamedDefRow>(`
        select c.relname as rel, k.conname as name, pg_catalog.pg_get_constraintdef(k.oid, true) as def
          from pg_catalog.pg_constraint k
          join pg_catalog.pg_class c on c.oid = k.conrelid
          join pg_catalog.pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and k.contype <> 'n'`)
    ).rows.sort(byKey((r) => r.name)),
    (r) => r.rel,
  );

  const indexes = groupBy(
    (
      await db.query<NamedDefRow>(`
        select c.relname as rel, ic.relname as name, pg_catalog.pg_get_indexdef(i.indexrelid) as def
          from pg_catalog.pg_index i
          join pg_catalog.pg_class c on c.oid = i.indrelid
          join pg_catalog.pg_class ic on ic.oid = i.indexrelid
          join pg_catalog.pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public'`)
    ).rows.sort(byKey((r) => r.name)),
    (r) => r.rel,
  );

  const triggers = groupBy(
    (
      await db.query<NamedDefRow>(`
        select c.relname as rel, t.tgname as name, pg_catalog.pg_get_triggerdef(t.oid, true) as def
          from pg_catalog.pg_trigger t
          join pg_catalog.pg_class c on c.oid = t.tgrelid
          join pg_catalog.pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and not t.tgisinternal`)
    ).rows.sort(byKey((r) => r.name)),
    (r) => r.rel,
  );

  const policies = groupBy(
    (
      await db.query<PolicyRow>(`
        select c.relname as rel, p.polname as name, p.polpermissive as permissive, p.polcmd::text as cmd,
               array(select case when r = 0 then 'public' else pg_catalog.pg_get_userbyid(r)::text end
                       from unnest(p.polroles) as r) as roles,
               pg_catalog.pg_get_expr(p.polqual, p.polrelid) as using_expr,
               pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) as check_expr
          from pg_catalog.pg_policy p
          join pg_catalog.pg_class c on c.oid = p.polrelid
          join pg_catalog.pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public'`)
    ).rows.sort(byKey((r) => r.name)),
    (r) => r.rel,
  );

  const lines: string[] = [...HEADER, ''];

  for (const rel of relations) {
    const kind = RELATION_KINDS[rel.kind] ?? rel.kind;
    const security =
      rel.kind === 'r' || rel.kind === 'p'
        ? ` (row level security: ${rel.rls ? 'enabled' : 'disabled'}, ${rel.force_rls ? 'forced' : 'not forced'})`
        : '';
    lines.push(`${kind} ${rel.name}${security}`);
    for (const col of columns.get(rel.name) ?? []) {
      let line = `  COLUMN ${col.name} ${col.type}${col.not_null ? ' NOT NULL' : ''}`;
      if (col.generated === 's') line += ` GENERATED ALWAYS AS (${col.default_expr ?? ''}) STORED`;
      else if (col.generated === 'v') line += ` GENERATED ALWAYS AS (${col.default_expr ?? ''}) VIRTUAL`;
      else if (col.identity === 'a') line += ' GENERATED ALWAYS AS IDENTITY';
      else if (col.identity === 'd') line += ' GENERATED BY DEFAULT AS IDENTITY';
      else if (col.default_expr !== null) line += ` DEFAULT ${col.default_expr}`;
      lines.push(line);
    }
    for (const c of constraints.get(rel.name) ?? []) lines.push(`  CONSTRAINT ${c.name} ${c.def}`);
    for (const i of indexes.get(rel.name) ?? []) lines.push(`  INDEX ${i.name} ${i.def}`);
    for (const t of triggers.get(rel.name) ?? []) lines.push(`  TRIGGER ${t.name} ${t.def}`);
    for (const p of policies.get(rel.name) ?? []) {
      const roles = [...p.roles].sort().join(', ');
      let line = `  POLICY ${p.name} AS ${p.permissive ? 'PERMISSIVE' : 'RESTRICTIVE'} FOR ${POLICY_COMMANDS[p.cmd] ?? p.cmd} TO ${roles}`;
      if (p.using_expr !== null) line += ` USING (${p.using_expr})`;
      if (p.check_expr !== null) line += ` WITH CHECK (${p.check_expr})`;
      lines.push(line);
    }
    if (rel.viewdef !== null) lines.push(`  AS ${withoutQualifiers(oneLine(rel.viewdef))}`);
    lines.push('');
  }

  const sequences = (
    await db.query<{ name: string; type: string; start: string; increment: string; min: string; max: string; cycle: boolean }>(`
      select c.relname as name, pg_catalog.format_type(s.seqtypid, null) as type, s.seqstart as start,
             s.seqincrement as increment, s.seqmin as min, s.seqmax as max, s.seqcycle as cycle
        from pg_catalog.pg_sequence s
        join pg_catalog.pg_class c on c.oid = s.seqrelid
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
       where n.nspname = 'public'`)
  ).rows.sort(byKey((r) => r.name));
  for (const s of sequences) {
    lines.push(
      `SEQUENCE ${s.name} AS ${s.type} START ${s.start} INCREMENT ${s.increment} MINVALUE ${s.min} MAXVALUE ${s.max}${s.cycle ? ' CYCLE' : ''}`,
    );
  }
  if (sequences.length > 0) lines.push('');

  const types = (
    await db.query<{
      name: string;
      kind: string;
      labels: string[] | null;
      base: string | null;
      not_null: boolean;
      default_expr: string | null;
      checks: string[] | null;
    }>(`
      select t.typname as name, t.typtype::text as kind,
             case when t.typtype = 'e' then array(select e.enumlabel::text from pg_catalog.pg_enum e
                                                  where e.enumtypid = t.oid order by e.enumsortorder) end as labels,
             case when t.typtype = 'd' then pg_catalog.format_type(t.typbasetype, t.typtypmod) end as base,
             t.typnotnull as not_null, t.typdefault as default_expr,
             case when t.typtype = 'd' then array(select pg_catalog.pg_get_constraintdef(k.oid, true) from pg_catalog.pg_constraint k
                                                  where k.contypid = t.oid and k.contype = 'c') end as checks
        from pg_catalog.pg_type t
        join pg_catalog.pg_namespace n on n.oid = t.typnamespace
       where n.nspname = 'public' and t.typtype in ('e', 'd') and ${NOT_FROM_EXTENSION('t.oid')}`)
  ).rows.sort(byKey((r) => r.name));
  for (const t of types) {
    if (t.kind === 'e') {
      lines.push(`TYPE ${t.name} AS ENUM (${(t.labels ?? []).map((l) => `'${l.replace(/'/g, "''")}'`).join(', ')})`);
    } else {
      const checks = [...(t.checks ?? [])]
        .sort()
        .map((c) => ` ${c}`)
        .join('');
      lines.push(
        `DOMAIN ${t.name} AS ${t.base ?? ''}${t.not_null ? ' NOT NULL' : ''}${t.default_expr !== null ? ` DEFAULT ${t.default_expr}` : ''}${checks}`,
      );
    }
  }
  if (types.length > 0) lines.push('');

  const functions = (
    await db.query<{
      name: string;
      args: string;
      result: string | null;
      kind: string;
      language: string;
      volatility: string;
      security_definer: boolean;
      strict: boolean;
      config: string[] | null;
      body: string;
    }>(`
      select p.proname as name, pg_catalog.pg_get_function_identity_arguments(p.oid) as args,
             pg_catalog.pg_get_function_result(p.oid) as result, p.prokind::text as kind, l.lanname as language,
             p.provolatile::text as volatility, p.prosecdef as security_definer, p.proisstrict as strict,
             p.proconfig as config, p.prosrc as body
        from pg_catalog.pg_proc p
        join pg_catalog.pg_namespace n on n.oid = p.pronamespace
        join pg_catalog.pg_language l on l.oid = p.prolang
       where n.nspname = 'public' and ${NOT_FROM_EXTENSION('p.oid')}`)
  ).rows.sort(byKey((r) => `${r.name}(${r.args})`));
  for (const f of functions) {
    const what = f.kind === 'p' ? 'PROCEDURE' : 'FUNCTION';
    const attributes = [
      f.result !== null && f.kind !== 'p' ? `RETURNS ${f.result}` : '',
      `LANGUAGE ${f.language}`,
      VOLATILITY[f.volatility] ?? f.volatility,
      f.strict ? 'STRICT' : '',
      f.security_definer ? 'SECURITY DEFINER' : '',
      ...[...(f.config ?? [])].sort().map((c) => `SET ${c}`),
    ].filter((a) => a.length > 0);
    lines.push(`${what} ${f.name}(${f.args}) ${attributes.join(' ')}`);
    lines.push(`  AS ${oneLine(f.body)}`);
    lines.push('');
  }

  while (lines[lines.length - 1] === '') lines.pop();
  return `${lines.join('\n')}\n`;
}
