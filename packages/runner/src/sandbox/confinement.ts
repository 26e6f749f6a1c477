// What a sandbox process may see and do. Three layers, each from the platform rather than hand-made
// checks, combined so that each attack a job's own code can try meets more than one of them:
//
// - namespaces (bubblewrap): the process sees a file system built from read-only binds of the
//   Node.js installation, the handler's code and the sandbox entry — nothing else of the host — plus
//   a private /tmp; its own PID namespace (no other process's /proc entry), no network namespace
//   shared with the host, no IPC or UTS shared, a new session (no terminal injection), and it dies
//   with the runner.
// - a separate uid: when the runner runs as root, bubblewrap itself runs as `nobody`, so even a
//   file that is bound in stays unreadable if it is private to root (the runner's key, the CA key).
// - Node's permission model (`--experimental-permission`): file reads only below the bound paths,
//   writes only in the private temp directory, no child processes, no worker threads, no addons.
//
// A host without user namespaces cannot run bubblewrap; there the runner refuses to start unless
// its configuration accepts the weaker mode explicitly (`confinement: 'permissions'` or `'none'`).
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, realpathSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';

/** How much confinement the runner requires of every sandbox process. */
export type ConfinementMode = 'strict' | 'permissions' | 'none';

export const CONFINEMENT_MODES: readonly ConfinementMode[] = ['strict', 'permissions', 'none'];

export interface ConfinementLayers {
  /** bubblewrap works here (user namespaces available). */
  namespaces: boolean;
  /** Node's permission model is available (Node 20+). */
  permissionModel: boolean;
  /** The runner is root, so sandboxes run as another uid. */
  separateUid: boolean;
}

/** The uid/gid sandboxes run as when the runner is root (Debian's `nobody`/`nogroup`). */
export const SANDBOX_UID = 65534;
export const SANDBOX_GID = 65534;

const BWRAP = '/usr/bin/bwrap';
/** Where a namespaced sandbox sees its private temporary directory. */
export const SANDBOX_TMP = '/sandbox/tmp';

let detected: ConfinementLayers | undefined;

/** What this host offers, probed once per process (bubblewrap is tried for real, not looked up). */
export function detectConfinement(): ConfinementLayers {
  if (detected) return detected;
  const root = process.getuid?.() === 0;
  let namespaces = false;
  if (existsSync(BWRAP)) {
    const probe = spawnSync(BWRAP, ['--ro-bind', '/', '/', '--unshare-all', '--die-with-parent', '--', '/bin/true'], {
      stdio: 'ignore',
      timeout: 5_000,
      ...(root ? { uid: SANDBOX_UID, gid: SANDBOX_GID } : {}),
    });
    namespaces = probe.status === 0;
  }
  const [major = 0] = process.versions.node.split('.').map(Number);
  detected = { namespaces, permissionModel: major >= 20, separateUid: root };
  return detected;
}

/** Why `mode` cannot be had on this host, or undefined when it can. */
export function confinementShortfall(mode: ConfinementMode, layers: ConfinementLayers = detectConfinement()): string | undefined {
  if (mode === 'none') return undefined;
  if (!layers.permissionModel)
    return "this Node.js has no permission model (Node 20 or newer is needed); set confinement: 'none' to run unconfined";
  if (mode === 'strict' && !layers.namespaces) {
    return (
      'bubblewrap cannot create namespaces here (install the bubblewrap package, and allow unprivileged user namespaces); ' +
      "set confinement: 'permissions' to accept Node's permission model alone"
    );
  }
  return undefined;
}

/** The layers a sandbox actually gets in `mode` on this host, for the start-up log and /health. */
export function activeLayers(mode: ConfinementMode, layers: ConfinementLayers = detectConfinement()): string[] {
  if (mode === 'none') return [];
  const active = ['permission-model'];
  if (mode === 'strict' && layers.namespaces) active.unshift('namespaces');
  if (layers.separateUid) active.push('separate-uid');
  return active;
}

export interface SandboxCommandParams {
  mode: ConfinementMode;
  /** The sandbox entry script (absolute path). */
  entry: string;
  entryArgs: readonly string[];
  /** Directories the process may read: the handler's code and its dependencies, the runner's sandbox code. */
  readPaths: readonly string[];
  /** Paths inside the read paths that must stay hidden (the runner's identity and data directories). */
  hiddenPaths: readonly string[];
  /** The private temporary directory, the only place the process may write (SANDBOX_TMP inside a namespace). */
  tmpDir: string;
  memoryLimitMb: number;
  env: Readonly<Record<string, string>>;
}

export interface SandboxCommand {
  command: string;
  args: string[];
  env: Record<string, string>;
  uid?: number;
  gid?: number;
}

/** The real path of `p` (binds and permission checks see through symlinks). */
export function realPath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

function inside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);
}

/** The Node.js flags of the permission model for these paths (one flag per path). */
function permissionFlags(readPaths: readonly string[], tmpDir: string): string[] {
  return [
    '--experimental-permission',
    ...[...readPaths, tmpDir].map((p) => `--allow-fs-read=${p}`),
    `--allow-fs-write=${tmpDir}`,
    '--disable-warning=ExperimentalWarning',
  ];
}

/**
 * The command that starts one sandbox process in `mode`. Paths keep their host names inside the
 * namespace (module URLs stay valid); only the temp directory moves, to SANDBOX_TMP.
 */
export function sandboxCommand(p: SandboxCommandParams): SandboxCommand {
  const root = process.getuid?.() === 0;
  const identity = root && p.mode !== 'none' ? { uid: SANDBOX_UID, gid: SANDBOX_GID } : {};
  const env = { ...p.env };
  const node = process.execPath;
  const nodeArgs = [`--max-old-space-size=${p.memoryLimitMb}`];
  if (p.mode === 'none') {
    return { command: node, args: [...nodeArgs, p.entry, ...p.entryArgs], env: { ...env, TMPDIR: p.tmpDir } };
  }
  if (p.mode === 'permissions') {
    const args = [...nodeArgs, ...permissionFlags(p.readPaths, p.tmpDir), p.entry, ...p.entryArgs];
    return { command: node, args, env: { ...env, TMPDIR: p.tmpDir }, ...identity };
  }
  const binds: string[] = [];
  // The Node.js installation: its binary's prefix (e.g. /usr) and the system libraries it links.
  const prefix = dirname(dirname(realPath(node)));
  for (const dir of new Set([prefix, '/usr', '/lib', '/lib64', '/etc/ld.so.cache'])) {
    if (existsSync(dir)) binds.push('--ro-bind', realPath(dir), dir);
  }
  for (const dir of p.readPaths) binds.push('--ro-bind', dir, dir);
  const hide: string[] = [];
  for (const hidden of p.hiddenPaths) {
    if (p.readPaths.some((r) => inside(hidden, r)) && existsSync(hidden)) hide.push('--tmpfs', hidden);
  }
  const args = [
    '--unshare-all',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    ...binds,
    ...hide,
    // The private directory has a path of its own inside (read paths may lie below the host's /tmp),
    // and the rest of the namespace's root is read-only.
    '--bind',
    p.tmpDir,
    SANDBOX_TMP,
    '--remount-ro',
    '/',
    '--chdir',
    SANDBOX_TMP,
    '--clearenv',
    ...Object.entries({ ...env, TMPDIR: SANDBOX_TMP, HOME: SANDBOX_TMP }).flatMap(([k, v]) => ['--setenv', k, v]),
    '--',
    node,
    ...nodeArgs,
    ...permissionFlags(p.readPaths, SANDBOX_TMP),
    p.entry,
    ...p.entryArgs,
  ];
  return { command: BWRAP, args, env: {}, ...identity };
}

/**
 * The directories a handlers module needs to load: the package it belongs to (the nearest
 * directory with a package.json), and every node_modules directory module resolution would look in
 * above it, each with the real paths its linked packages point to.
 */
export function handlerReadPaths(handlersModulePath: string): string[] {
  const file = realPath(handlersModulePath);
  let dir = dirname(file);
  let packageRoot = dir;
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) {
      packageRoot = d;
      break;
    }
    if (dirname(d) === d) break;
  }
  const paths = new Set<string>([packageRoot]);
  for (dir = packageRoot; ; dir = dirname(dir)) {
    const modules = join(dir, 'node_modules');
    if (existsSync(modules)) {
      paths.add(realPath(modules));
      for (const target of linkedPackages(modules)) paths.add(target);
    }
    if (dirname(dir) === dir) break;
  }
  return collapse([...paths]);
}

/** Where the symlinked packages of a node_modules directory (workspaces, `npm link`) really are. */
function linkedPackages(modules: string): string[] {
  const targets: string[] = [];
  const visit = (dir: string, depth: number) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (depth === 0 && name.startsWith('@')) visit(path, 1);
      else if (lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink()) targets.push(realPath(path));
    }
  };
  visit(modules, 0);
  return targets;
}

/** Drops paths already inside another path of the list. */
export function collapse(paths: readonly string[]): string[] {
  const sorted = [...new Set(paths)].sort((a, b) => a.length - b.length);
  return sorted.filter((p, i) => !sorted.slice(0, i).some((q) => inside(p, q)));
}
