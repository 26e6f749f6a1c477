#!/usr/bin/env node
// Fails when a test file's name does not say what the test needs. `npm run lint` runs it; vitest.config.ts
// runs each tier as a project (npm run test:unit, test:pglite, test:pg, test:redis, test:e2e).
//
// The tier is the suffix before .test.ts:
//   name.test.ts            unit    nothing outside the test process: no database, Redis, socket or child process
//   name.pglite.test.ts     pglite  embedded PostgreSQL (PGlite) in the test process, still no service
//   name.pg.test.ts         pg      a PostgreSQL server (TEST_DATABASE_URL); PGlite too
//   name.redis.test.ts      redis   a Redis server (TEST_REDIS_URL)
//   name.redis.pg.test.ts   redis   a Redis server and a PostgreSQL server
//   name.e2e.test.ts        e2e     the system's processes and servers over real TLS, with any of the above
//   name.browser.test.ts    browser Chromium driving the dashboard of a running system (npm run test:browser only)
// No other suffix is a tier, and a test file outside packages/*/test/ and test/ would not run at all.
//
// What a file needs is read from its code and from every module it imports by a relative path (test
// support under a test/ folder), transitively; `import type`, comments and the text of strings do not count:
//   PostgreSQL  imports 'pg', or calls createPostgresDatabase             → .pg. or .e2e.
//   Redis       imports 'ioredis' or 'bullmq', or calls createRedis       → .redis. or .e2e.
//   PGlite      imports '@electric-sql/pglite', or calls createPgliteDatabase → any tier but unit
//   processes   imports node:child_process, or runs runJobInSandbox / RunnerAgent / a sandbox pool or process → .e2e.
//   servers     createServer(…), .listen(…), startGateway / startJobforge / startTruthcore / startSystem → .e2e.
// So importing test/support/postgres.ts (which imports 'pg') makes a file a PostgreSQL test, and
// test/support/redis.ts (createRedis) a Redis one. The other way round too, so that a name stays
// true: a .pglite., .pg. or .redis. file must use what its name says, an .e2e. file a process or a server.
// A support module may state what it stands for instead, in a line `// test-needs: redis` (needs
// separated by commas): a private redis-server that a test starts is Redis, not the system's process.
// The unit and pglite tiers also refuse sockets and processes while they run (test/support/in-process-only.ts).
//
//   node scripts/check-test-tiers.mjs [root]
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Each tier's suffix tokens (between the file's name and .test.ts) and the needs it admits. */
const TIERS = [
  { tier: 'unit', tokens: [], admits: [] },
  { tier: 'pglite', tokens: ['pglite'], admits: ['pglite'] },
  { tier: 'pg', tokens: ['pg'], admits: ['pglite', 'postgres'] },
  { tier: 'redis', tokens: ['redis'], admits: ['pglite', 'redis'] },
  { tier: 'redis', tokens: ['redis', 'pg'], admits: ['pglite', 'postgres', 'redis'] },
  { tier: 'e2e', tokens: ['e2e'], admits: ['pglite', 'postgres', 'redis', 'process', 'server'] },
  // A browser driving the dashboard of a running system: outside `npm test` (npm run test:browser).
  { tier: 'browser', tokens: ['browser'], admits: ['pglite', 'postgres', 'redis', 'process', 'server'] },
];

const NEEDS = {
  postgres: { what: 'a PostgreSQL server', modules: ['pg'], calls: ['createPostgresDatabase'] },
  redis: { what: 'a Redis server', modules: ['ioredis', 'bullmq'], calls: ['createRedis'] },
  pglite: { what: 'embedded PostgreSQL (PGlite)', modules: ['@electric-sql/pglite'], calls: ['createPgliteDatabase'] },
  process: {
    what: 'child processes',
    modules: ['node:child_process', 'child_process'],
    calls: ['runJobInSandbox', 'RunnerAgent', 'SandboxPool', 'SandboxProcess', 'HandlerSandboxes'],
  },
  server: {
    what: 'a listening server',
    modules: [],
    calls: ['createServer', 'startGateway', 'startJobforge', 'startTruthcore', 'startSystem'],
  },
};

/** The needs a tier-suffixed name promises: a .pg. file must need PostgreSQL, an .e2e. one a process or a server. */
const PROMISES = { pglite: ['pglite'], pg: ['postgres'], redis: ['redis'], e2e: ['process', 'server'], browser: ['process', 'server'] };

const SKIP_DIRS = new Set(['node_modules', 'dist', 'coverage']);
const TEST_FILE = /\.test\.ts$/;

function walk(dir, found = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || SKIP_DIRS.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, found);
    else if (TEST_FILE.test(entry.name)) found.push(path);
  }
  return found;
}

// A small lexer, enough for the checks below: comments and the text of strings must not count as uses.
const REGEX_AFTER = new Set([...'(,=:[!&|?{};+-*%<>~^'].concat(''));
const REGEX_AFTER_WORDS = new Set([
  'return',
  'typeof',
  'case',
  'do',
  'else',
  'in',
  'of',
  'yield',
  'await',
  'void',
  'delete',
  'throw',
  'new',
]);

/**
 * The code without comments, each string literal replaced by a placeholder "#n", and the strings'
 * values (strings[n]). A template literal's ${…} parts stay code.
 */
function lex(source) {
  const strings = [];
  let out = '';
  let last = '';
  let word = '';

  function code(i, stopAtBrace) {
    let depth = 0;
    while (i < source.length) {
      const c = source[i];
      const next = source[i + 1];
      if (c === '/' && next === '/') {
        while (i < source.length && source[i] !== '\n') i++;
      } else if (c === '/' && next === '*') {
        const end = source.indexOf('*/', i + 2);
        i = end < 0 ? source.length : end + 2;
        out += ' ';
      } else if (c === "'" || c === '"') {
        let value = '';
        for (i++; i < source.length && source[i] !== c && source[i] !== '\n'; i++) value += source[i] === '\\' ? source[++i] : source[i];
        i++;
        emitString(value);
      } else if (c === '`') {
        i = template(i + 1);
      } else if (c === '/' && (REGEX_AFTER.has(last) || REGEX_AFTER_WORDS.has(word))) {
        let inClass = false;
        for (i++; i < source.length && (inClass || source[i] !== '/') && source[i] !== '\n'; i++) {
          if (source[i] === '\\') i++;
          else if (source[i] === '[') inClass = true;
          else if (source[i] === ']') inClass = false;
        }
        for (i++; /[a-z]/.test(source[i] ?? ''); i++);
        out += '/r/';
        last = '/';
        word = '';
      } else {
        if (c === '{') depth++;
        if (c === '}' && depth-- === 0 && stopAtBrace) return i + 1;
        out += c;
        if (/[A-Za-z0-9_$]/.test(c)) word = /[A-Za-z0-9_$]/.test(last) ? word + c : c;
        if (!/\s/.test(c)) last = /[A-Za-z0-9_$]/.test(c) ? 'x' : c;
        i++;
      }
    }
    return i;
  }

  function template(i) {
    let value = '';
    while (i < source.length && source[i] !== '`') {
      if (source[i] === '\\') {
        value += source[i + 1];
        i += 2;
      } else if (source[i] === '$' && source[i + 1] === '{') {
        emitString(value);
        value = '';
        i = code(i + 2, true);
      } else value += source[i++];
    }
    emitString(value);
    return i + 1;
  }

  function emitString(value) {
    strings.push(value);
    out += `"#${strings.length - 1}"`;
    last = '"';
    word = '';
  }

  code(0, false);
  return { code: out, strings };
}

/** Module specifiers the code loads at run time (static, re-exported and dynamic imports, not `import type`). */
function importsOf({ code, strings }) {
  const specifiers = [];
  for (const m of code.matchAll(/(?:^|[;}\n])\s*(?:import|export)\s+(type\s+)?(?:[^;"]*?\bfrom\s*)?"#(\d+)"/g)) {
    if (!m[1]) specifiers.push(strings[Number(m[2])]);
  }
  for (const m of code.matchAll(/\bimport\(\s*"#(\d+)"\s*\)/g)) specifiers.push(strings[Number(m[1])]);
  return specifiers;
}

function resolveRelative(fromFile, specifier) {
  const base = resolve(dirname(fromFile), specifier);
  const candidates = [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, join(base, 'index.ts')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

/**
 * Every need of a module and of the modules it imports by relative path, each with where it was
 * seen first: Map<need, evidence>.
 */
function needsOf(file, root, cache = new Map(), visiting = new Set()) {
  if (cache.has(file)) return cache.get(file);
  const needs = new Map();
  if (visiting.has(file)) return needs;
  visiting.add(file);
  const source = readFileSync(file, 'utf8');
  const where = relative(root, file);
  const declared = source.match(/^\s*\/\/\s*test-needs:\s*(.+)$/m);
  if (declared) {
    for (const need of declared[1].split(',').map((n) => n.trim())) {
      if (!(need in NEEDS))
        throw new Error(`${where}: unknown need "${need}" in its test-needs line (known: ${Object.keys(NEEDS).join(', ')})`);
      needs.set(need, `declared in ${where}`);
    }
  } else {
    const lexed = lex(source);
    const body = lexed.code;
    const imports = importsOf(lexed);
    for (const [need, { modules, calls }] of Object.entries(NEEDS)) {
      const module = imports.find((s) => modules.includes(s));
      const call = calls.find((c) => new RegExp(`\\b${c}\\b`).test(body));
      if (module) needs.set(need, `imports '${module}' in ${where}`);
      else if (call) needs.set(need, `${call} in ${where}`);
    }
    if (!needs.has('server') && /\.listen\s*\(/.test(body)) needs.set('server', `.listen() in ${where}`);
    for (const specifier of imports.filter((s) => s.startsWith('.'))) {
      const target = resolveRelative(file, specifier);
      // Test support only: what the code under test does is the test's to show, through the calls above.
      if (!target || TEST_FILE.test(target) || !isTestPath(relative(root, target))) continue;
      for (const [need, evidence] of needsOf(target, root, cache, visiting)) if (!needs.has(need)) needs.set(need, evidence);
    }
  }
  visiting.delete(file);
  cache.set(file, needs);
  return needs;
}

const isTestPath = (file) => /^(packages\/[^/]+\/test|test)\//.test(file);

function tierOf(file) {
  const tokens = basename(file).replace(TEST_FILE, '').split('.').slice(1);
  return TIERS.find((t) => t.tokens.length === tokens.length && t.tokens.every((tok, i) => tok === tokens[i]));
}

function renamed(file, tier) {
  const name = basename(file).replace(TEST_FILE, '').split('.')[0];
  return `${name}${tier.tokens.map((t) => `.${t}`).join('')}.test.ts`;
}

/** The tier that admits every need, preferring the narrowest. */
function fittingTier(needs) {
  return TIERS.find((t) => [...needs.keys()].every((n) => t.admits.includes(n)));
}

/** Checks every test file under root: { files: [{ file, tier, needs }], problems: string[] }. */
export function checkTestTiers(root) {
  const problems = [];
  const files = [];
  const cache = new Map();
  for (const path of walk(root).sort()) {
    const file = relative(root, path);
    if (!isTestPath(file)) {
      problems.push(`${file}: outside packages/*/test/ and test/, so vitest never runs it`);
      continue;
    }
    const tier = tierOf(path);
    if (!tier) {
      problems.push(
        `${file}: unknown tier suffix; a test file is name.test.ts, name.pglite.test.ts, name.pg.test.ts, name.redis.test.ts, name.redis.pg.test.ts or name.e2e.test.ts`,
      );
      continue;
    }
    const needs = needsOf(path, root, cache);
    files.push({ file, tier: tier.tier, needs: [...needs.keys()] });
    const refused = [...needs].filter(([need]) => !tier.admits.includes(need));
    if (refused.length > 0) {
      const list = refused.map(([need, evidence]) => `${NEEDS[need].what} (${evidence})`).join(', ');
      problems.push(`${file}: uses ${list}, which the ${tier.tier} tier does not allow; rename it to ${renamed(path, fittingTier(needs))}`);
    }
    for (const token of tier.tokens) {
      if (PROMISES[token].some((n) => needs.has(n))) continue;
      const used = needs.size === 0 ? 'nothing outside the test process' : [...needs.keys()].map((n) => NEEDS[n].what).join(', ');
      problems.push(`${file}: named .${token}. but uses ${used}; rename it to ${renamed(path, fittingTier(needs))}`);
    }
  }
  return { files, problems };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  const { files, problems } = checkTestTiers(root);
  if (problems.length > 0) {
    console.error(`test files whose name does not match what they use (${problems.length}); see scripts/check-test-tiers.mjs:`);
    for (const p of problems) console.error(`  ${p}`);
    process.exit(1);
  }
  const counts = new Map();
  for (const { tier } of files) counts.set(tier, (counts.get(tier) ?? 0) + 1);
  const summary = [...counts].map(([tier, n]) => `${tier} ${n}`).join(', ');
  console.log(`test tier suffixes match what the ${files.length} test files use (${summary})`);
}
