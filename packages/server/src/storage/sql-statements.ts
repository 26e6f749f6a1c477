import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InternalError } from '@controlplane/contracts';
import type { Sql, SqlResult } from './sql-port.js';

/** src/storage/ and dist/storage/ are both two levels below the package root. */
export const DEFAULT_SQL_DIR = new URL('../../sql/', import.meta.url);

/** A statement file that breaks the header rules: a programming error, found when the file is loaded. */
function statementError(statement: string, problem: string): InternalError {
  return new InternalError('CP_STORAGE_SQL_STATEMENT_INVALID', { params: { statement, problem } });
}

export interface SqlParameter {
  name: string;
  /** The PostgreSQL type the header gives, for the reader (the body casts where it matters). */
  type: string;
  description: string;
}

/**
 * Expansions a folder of statements may use in its bodies: `@name` or `@name(arg, …)`, replaced by
 * the text the function returns (JobForge's expand job statuses from its state table, so no status
 * list is written by hand). An unknown macro is an error when the file is loaded.
 */
export type SqlMacros = Readonly<Record<string, (...args: string[]) => string>>;

const PARAMETER_LINE = /^--\s+:([a-z_][a-z0-9_]*)\s+(\S+)(?:\s+(.*))?$/;
const INCLUDE_LINE = /^\s*--\s*@include\s+([a-z0-9_]+)\s*$/;
const MACRO = /@([a-z_][a-z0-9_]*)(?:\(([^()]*)\))?/g;

interface ParsedFile {
  params: SqlParameter[];
  description: string;
  body: string;
}

/**
 * Reads a statement file: a leading block of `--` lines (what the statement does, then one line per
 * parameter, `-- :name type description`), then the body.
 */
function parseFile(source: string, name: string): ParsedFile {
  const lines = source.split('\n');
  const params: SqlParameter[] = [];
  const description: string[] = [];
  let i = 0;
  // An include line belongs to the body, even as its first line (a statement that is one fragment).
  for (; i < lines.length && lines[i]!.startsWith('--') && !INCLUDE_LINE.test(lines[i]!); i++) {
    const line = lines[i]!;
    const m = PARAMETER_LINE.exec(line);
    if (m) {
      if (params.some((p) => p.name === m[1])) throw statementError(name, `header declares :${m[1]} twice`);
      params.push({ name: m[1]!, type: m[2]!, description: m[3] ?? '' });
    } else {
      description.push(line.replace(/^--\s?/, ''));
    }
  }
  if (description.join('').trim() === '') throw statementError(name, 'must start with a -- comment saying what it does');
  return { params, description: description.join('\n').trim(), body: lines.slice(i).join('\n') };
}

/**
 * Walks SQL text outside string literals, quoted identifiers, comments and dollar-quoted bodies,
 * calling `code` for each stretch of plain SQL; everything else is kept as it is.
 */
function mapCode(text: string, code: (part: string) => string): string {
  let out = '';
  let plain = '';
  let i = 0;
  const flush = () => {
    out += code(plain);
    plain = '';
  };
  while (i < text.length) {
    const c = text[i]!;
    const next = text[i + 1];
    let end = -1;
    if (c === "'" || c === '"') {
      end = i + 1;
      for (;;) {
        end = text.indexOf(c, end);
        if (end === -1) end = text.length;
        else if (text[end + 1] === c) {
          end += 2;
          continue;
        } else end += 1;
        break;
      }
    } else if (c === '-' && next === '-') {
      end = text.indexOf('\n', i);
      if (end === -1) end = text.length;
    } else if (c === '/' && next === '*') {
      end = text.indexOf('*/', i + 2);
      end = end === -1 ? text.length : end + 2;
    } else if (c === '$') {
      const tag = /^\$[A-Za-z_]*\$/.exec(text.slice(i));
      if (tag) {
        end = text.indexOf(tag[0], i + tag[0].length);
        end = end === -1 ? text.length : end + tag[0].length;
      }
    }
    if (end === -1) {
      plain += c;
      i += 1;
    } else {
      flush();
      out += text.slice(i, end);
      i = end;
    }
  }
  flush();
  return out;
}

/**
 * One SQL statement from a file, called with named parameters. The text sent to the database is
 * fixed when the file is loaded (so prepared-statement caching sees one text per statement).
 */
export class SqlStatement {
  readonly params: readonly SqlParameter[];
  readonly description: string;
  /** The text as sent: `$1…$n` in header order, includes and macros expanded. */
  readonly text: string;

  constructor(
    readonly name: string,
    source: string,
    options: { macros?: SqlMacros; include?: (fragment: string) => string } = {},
  ) {
    const parsed = parseFile(source, name);
    const params = [...parsed.params];
    // Fragments are inserted first, so that their parameters and macros are checked with the body's.
    const body = parsed.body
      .split('\n')
      .map((line) => {
        const m = INCLUDE_LINE.exec(line);
        if (!m) return line;
        if (!options.include) throw statementError(name, `includes ${m[1]} but fragments are not available here`);
        const fragment = parseFile(options.include(m[1]!), `_${m[1]}`);
        for (const p of fragment.params) if (!params.some((q) => q.name === p.name)) params.push(p);
        return fragment.body.trimEnd();
      })
      .join('\n');
    const expanded = mapCode(body, (part) =>
      part.replace(MACRO, (whole, macro: string, args: string | undefined) => {
        const fn = options.macros?.[macro];
        if (!fn) throw statementError(name, `uses the unknown macro ${whole}`);
        return fn(...(args === undefined ? [] : args.split(',').map((a) => a.trim())));
      }),
    );
    const used = new Set<string>();
    this.text = mapCode(expanded, (part) =>
      part.replace(/(^|[^:]):([a-z_][a-z0-9_]*)/g, (_whole, before: string, param: string) => {
        const index = params.findIndex((p) => p.name === param);
        if (index === -1) throw statementError(name, `uses :${param}, which its header does not declare`);
        used.add(param);
        return `${before}$${index + 1}`;
      }),
    ).trim();
    for (const p of params) if (!used.has(p.name)) throw statementError(name, `declares :${p.name} but never uses it`);
    this.params = params;
    this.description = parsed.description;
  }

  /** The positional values for `values`, which must name exactly the declared parameters. */
  valuesOf(values: Readonly<Record<string, unknown>>): unknown[] {
    const given = Object.keys(values);
    if (given.length !== this.params.length || given.some((k) => !this.params.some((p) => p.name === k))) {
      const missing = this.params.filter((p) => !(p.name in values)).map((p) => p.name);
      const extra = given.filter((k) => !this.params.some((p) => p.name === k));
      throw new RangeError(
        `SQL statement ${this.name} takes ${this.params.map((p) => p.name).join(', ')}; missing [${missing}], extra [${extra}]`,
      );
    }
    return this.params.map((p) => values[p.name]);
  }

  run<R = Record<string, unknown>>(q: Sql, values: Readonly<Record<string, unknown>> = {}): Promise<SqlResult<R>> {
    return q.query<R>(this.text, this.valuesOf(values));
  }
}

/**
 * Every statement of one folder (`sql/<folder>/*.sql`), by file name without the extension. Files
 * whose name starts with `_` are fragments, used only through `-- @include`; a fragment that no
 * statement includes is an error too (its header would otherwise never be checked).
 */
export function loadSqlStatements(
  folder: string,
  macros: SqlMacros = {},
  dir: string | URL = DEFAULT_SQL_DIR,
): ReadonlyMap<string, SqlStatement> {
  const root = join(dir instanceof URL ? fileURLToPath(dir) : dir, folder);
  const files = readdirSync(root)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const read = (file: string) => readFileSync(join(root, file), 'utf8');
  const included = new Set<string>();
  const include = (fragment: string) => {
    included.add(`_${fragment}.sql`);
    return read(`_${fragment}.sql`);
  };
  const statements = new Map<string, SqlStatement>();
  for (const file of files.filter((f) => !f.startsWith('_'))) {
    const name = file.slice(0, -'.sql'.length);
    statements.set(name, new SqlStatement(`${folder}/${name}`, read(file), { macros, include }));
  }
  const unused = files.find((f) => f.startsWith('_') && !included.has(f));
  if (unused) throw statementError(`${folder}/${unused.slice(0, -'.sql'.length)}`, 'is a fragment that no statement includes');
  return statements;
}

/** A folder's statements by name; a missing name is a programming error, thrown as one. */
export interface SqlFolder {
  (name: string): SqlStatement;
  readonly folder: string;
  /** Every statement of the folder, loading (and so checking) them all. */
  all(): ReadonlyMap<string, SqlStatement>;
}

const declaredFolders = new Map<string, SqlFolder>();

/**
 * The statements of one folder as a lookup that fails loudly on a missing name. Loaded on first use
 * and kept for the life of the process.
 */
export function sqlFolder(folder: string, macros: SqlMacros = {}): SqlFolder {
  let loaded: ReadonlyMap<string, SqlStatement> | undefined;
  const all = () => (loaded ??= loadSqlStatements(folder, macros));
  const lookup = (name: string) => {
    const statement = all().get(name);
    if (!statement) throw statementError(`${folder}/${name}`, `no such file in ${fileURLToPath(DEFAULT_SQL_DIR)}${folder}`);
    return statement;
  };
  const declared: SqlFolder = Object.assign(lookup, { folder, all });
  declaredFolders.set(folder, declared);
  return declared;
}

/**
 * Every folder a loaded module has declared with sqlFolder, by name: lets a test load every
 * statement with the macros its folder supplies, and notice a folder that nothing declares.
 */
export function declaredSqlFolders(): ReadonlyMap<string, SqlFolder> {
  return declaredFolders;
}
