import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { InternalError } from '@controlplane/contracts';
import { scriptError } from './script-errors.js';

/** src/redis/ and dist/redis/ are both two levels below the package root. */
export const DEFAULT_LUA_DIR = new URL('../../lua/', import.meta.url);

export interface LuaScriptHeader {
  /** KEYS names in order (KEYS[1] first). */
  keys: string[];
  /** ARGV names in order (ARGV[1] first). */
  argv: string[];
}

function headerInvalid(script: string, problem: string): InternalError {
  return new InternalError('CP_REDIS_LUA_HEADER_INVALID', { params: { script, problem } });
}

const HEADER_PATTERN = /^\s*--\[\[([\s\S]*?)\]\]/;

function declared(text: string, kind: 'KEYS' | 'ARGV', script: string): string[] {
  const names: string[] = [];
  for (const match of text.matchAll(new RegExp(`^\\s*${kind}\\[(\\d+)\\]\\s+(\\S+)`, 'gm'))) {
    const index = Number(match[1]);
    if (index !== names.length + 1) {
      throw headerInvalid(script, `header lists ${kind}[${index}] where ${kind}[${names.length + 1}] was expected`);
    }
    names.push(match[2] ?? '');
  }
  return names;
}

function highestUse(text: string, kind: 'KEYS' | 'ARGV'): number {
  let highest = 0;
  for (const match of text.matchAll(new RegExp(`\\b${kind}\\[(\\d+)\\]`, 'g'))) highest = Math.max(highest, Number(match[1]));
  return highest;
}

/**
 * Reads the leading `--[[ … ]]` comment of a script (BullMQ's `src/commands/*.lua` style): one line
 * per key and argument, `KEYS[1] name description` and `ARGV[1] name description`, numbered from 1
 * without gaps. The body may not use a KEYS or ARGV index the header does not declare, so the header
 * stays the truth about how to call the script.
 */
export function parseLuaHeader(source: string, script = 'script'): LuaScriptHeader {
  const match = HEADER_PATTERN.exec(source);
  if (!match) throw headerInvalid(script, 'must start with a --[[ ... ]] header listing its KEYS and ARGV');
  const header = match[1] ?? '';
  const body = source.slice(match[0].length);
  const keys = declared(header, 'KEYS', script);
  const argv = declared(header, 'ARGV', script);
  for (const [kind, names] of [
    ['KEYS', keys],
    ['ARGV', argv],
  ] as const) {
    const used = highestUse(body, kind);
    if (used > names.length) throw headerInvalid(script, `uses ${kind}[${used}] but its header declares ${names.length}`);
  }
  return { keys, argv };
}

export type ScriptArg = string | number;

/**
 * One Lua script, runnable on any client. It is sent by EVALSHA and, the first time a server has
 * not seen it (NOSCRIPT: new server, restart, SCRIPT FLUSH), by EVAL, which also caches it there.
 * A reply that is a negative integer is the script's error code and is thrown as a CP_REDIS_SCRIPT_* error (scriptError).
 */
export class LuaScript {
  readonly sha1: string;
  readonly keys: readonly string[];
  readonly argv: readonly string[];

  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    const header = parseLuaHeader(source, name);
    this.keys = header.keys;
    this.argv = header.argv;
    this.sha1 = createHash('sha1').update(source).digest('hex');
  }

  get numberOfKeys(): number {
    return this.keys.length;
  }

  async run(client: Redis, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown> {
    if (keys.length !== this.keys.length) {
      throw new RangeError(`Lua script ${this.name} takes ${this.keys.length} keys (${this.keys.join(', ')}), got ${keys.length}`);
    }
    if (args.length !== this.argv.length) {
      throw new RangeError(`Lua script ${this.name} takes ${this.argv.length} arguments (${this.argv.join(', ')}), got ${args.length}`);
    }
    let reply: unknown;
    try {
      reply = await client.evalsha(this.sha1, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      reply = await client.eval(this.source, keys.length, ...keys, ...args);
    }
    if (typeof reply === 'number' && reply < 0) throw scriptError(this.name, reply);
    return reply;
  }
}

/** Every `*.lua` file of `dir`, by file name without the extension. */
export function loadLuaScripts(dir: string | URL = DEFAULT_LUA_DIR): ReadonlyMap<string, LuaScript> {
  const path = dir instanceof URL ? fileURLToPath(dir) : dir;
  const scripts = new Map<string, LuaScript>();
  for (const file of readdirSync(path)
    .filter((f) => f.endsWith('.lua'))
    .sort()) {
    const name = file.slice(0, -'.lua'.length);
    scripts.set(name, new LuaScript(name, readFileSync(join(path, file), 'utf8')));
  }
  return scripts;
}

let packaged: ReadonlyMap<string, LuaScript> | undefined;

/** A script shipped in packages/server/lua, read once per process. */
export function packagedLuaScript(name: string): LuaScript {
  packaged ??= loadLuaScripts();
  const script = packaged.get(name);
  if (!script) throw new Error(`no Lua script ${name}.lua in ${fileURLToPath(DEFAULT_LUA_DIR)}`);
  return script;
}
