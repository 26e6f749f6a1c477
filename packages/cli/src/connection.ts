import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  AuthenticationError,
  ConflictError,
  ConnectionError,
  ControlPlaneClient,
  ControlPlaneError,
  InvalidRequestError,
  isInternalError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitedError,
  UnavailableError,
  readKeyFile,
} from '@controlplane/client';
import { CliError, EXIT, type Command, type CommandContext } from './command.js';
import { stringFlag } from './flags.js';

export const DEFAULT_DATA_DIR = '.controlplane';
export const DEFAULT_GATEWAY_URL = 'https://127.0.0.1:8443';
export const DEV_TENANT = 'dev';

/** The files `controlplane dev` keeps in its data directory. */
export function devPaths(dataDir: string) {
  const dir = resolve(dataDir);
  return {
    dir,
    db: join(dir, 'db'),
    pki: join(dir, 'pki'),
    ca: join(dir, 'pki', 'ca.crt'),
    adminKey: join(dir, 'admin-key.json'),
    // Beside the data directory, not in it: nothing of the runner sits next to the CA's key, the
    // service keys and the admin key, which its jobs must never reach.
    runner: `${dir}-runner`,
    logs: join(dir, 'logs'),
    logFile: join(dir, 'logs', 'controlplane.log'),
    /** Written while `controlplane dev` runs: where its gateway listens (and a lock on the directory). */
    state: join(dir, 'dev.json'),
  };
}

export interface DevState {
  pid: number;
  gatewayUrl: string;
  enrollUrl: string;
  tenantId: string;
  startedAt: string;
}

export function readDevState(dataDir: string): DevState | undefined {
  try {
    const s = JSON.parse(readFileSync(devPaths(dataDir).state, 'utf8')) as Partial<DevState>;
    if (typeof s.pid !== 'number' || typeof s.gatewayUrl !== 'string') return undefined;
    return s as DevState;
  } catch {
    return undefined;
  }
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function dataDirOf(ctx: CommandContext): string {
  return stringFlag(ctx, 'data-dir') || ctx.env.CONTROLPLANE_DATA_DIR || DEFAULT_DATA_DIR;
}

/** Flags of every command that talks to a gateway. */
export const CLIENT_FLAGS: Command['options'] = {
  gateway: { type: 'string' },
  ca: { type: 'string' },
  'key-file': { type: 'string' },
  'data-dir': { type: 'string' },
  json: { type: 'boolean', default: false },
};

export const CLIENT_FLAGS_HELP = `  --gateway    gateway URL (default: $CONTROLPLANE_GATEWAY_URL, else the running \`controlplane dev\`
               of the data directory, else ${DEFAULT_GATEWAY_URL})
  --ca         CA certificate that issued the gateway's certificate (default: $CONTROLPLANE_CA_FILE,
               else <data dir>/pki/ca.crt when present, else the system roots)
  --key-file   API key file (default: $CONTROLPLANE_KEY_FILE, else <data dir>/admin-key.json)
  --data-dir   data directory of \`controlplane dev\` (default: $CONTROLPLANE_DATA_DIR, else ${DEFAULT_DATA_DIR})
  --json       print JSON instead of tables`;

export interface Target {
  url: string;
  caFile: string | undefined;
  keyFile: string;
}

/** Where to connect and with which key: flags > environment > the dev data directory. */
export function resolveTarget(ctx: CommandContext): Target {
  const dataDir = dataDirOf(ctx);
  const paths = devPaths(dataDir);
  const state = readDevState(dataDir);
  const url =
    stringFlag(ctx, 'gateway') ||
    ctx.env.CONTROLPLANE_GATEWAY_URL ||
    (state && isProcessAlive(state.pid) ? state.gatewayUrl : undefined) ||
    DEFAULT_GATEWAY_URL;
  const caFile = stringFlag(ctx, 'ca') || ctx.env.CONTROLPLANE_CA_FILE || (existsSync(paths.ca) ? paths.ca : undefined);
  const keyFile = stringFlag(ctx, 'key-file') || ctx.env.CONTROLPLANE_KEY_FILE || paths.adminKey;
  return { url, caFile, keyFile };
}

export function connect(ctx: CommandContext): ControlPlaneClient {
  const target = resolveTarget(ctx);
  let credentials;
  try {
    credentials = readKeyFile(target.keyFile);
  } catch (err) {
    if (isInternalError(err, 'CP_KEYFILE_')) {
      throw new CliError(
        `${err.message}\n  start \`controlplane dev\` (it writes <data dir>/admin-key.json), or pass --key-file <file>`,
        EXIT.CONFIG,
      );
    }
    throw err;
  }
  let ca: string | undefined;
  if (target.caFile) {
    try {
      ca = readFileSync(target.caFile, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read the CA certificate ${target.caFile}: ${(err as Error).message}`, EXIT.CONFIG);
    }
  }
  try {
    return new ControlPlaneClient({
      url: target.url,
      apiKey: credentials.apiKey,
      ...(credentials.signingKey ? { signingKey: credentials.signingKey } : {}),
      ...(ca ? { ca } : {}),
      source: 'controlplane-cli',
      onRetry: (n) =>
        ctx.stderr.write(`${n.error.code} (${n.error.status || 'no answer'}): retrying in ${(n.delayMs / 1000).toFixed(1)} s\n`),
    });
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.USAGE);
  }
}

export function exitCodeFor(err: ControlPlaneError): number {
  if (err instanceof InvalidRequestError) return EXIT.USAGE;
  if (err instanceof AuthenticationError || err instanceof PermissionDeniedError) return EXIT.AUTH;
  if (err instanceof NotFoundError) return EXIT.NOT_FOUND;
  if (err instanceof ConflictError) return EXIT.CONFLICT;
  if (err instanceof RateLimitedError || err instanceof UnavailableError || err instanceof ConnectionError) return EXIT.UNAVAILABLE;
  if (err.code === 'SIGNING_KEY_REQUIRED') return EXIT.AUTH;
  return EXIT.FAILURE;
}

/** The error as the user should read it: code, message, the fields at fault, and the id to quote. */
export function describeError(err: ControlPlaneError): string {
  const lines = [`${err.code}: ${err.message}`];
  for (const d of err.envelope.details) lines.push(`  ${d.path?.length ? `${d.path.join('.')}: ` : ''}${d.message}`);
  if (err.retryAfter !== undefined) lines.push(`  retry after ${err.retryAfter} s`);
  if (err.correlationId) lines.push(`  correlation id ${err.correlationId}`);
  return lines.join('\n');
}

/** Runs `fn` with a connected client and turns its errors into exit codes. */
export async function withClient(ctx: CommandContext, fn: (client: ControlPlaneClient) => Promise<number>): Promise<number> {
  const client = connect(ctx);
  try {
    return await fn(client);
  } catch (err) {
    if (err instanceof ControlPlaneError) throw new CliError(describeError(err), exitCodeFor(err));
    throw err;
  } finally {
    client.close();
  }
}

export function noPositionals(ctx: CommandContext, usage: string, allowed = 0): void {
  if (ctx.positionals.length > allowed) throw new CliError(`unexpected argument '${ctx.positionals[allowed]}'\n\n${usage}`, EXIT.USAGE);
}

export function positional(ctx: CommandContext, index: number, name: string, usage: string): string {
  const v = ctx.positionals[index];
  if (v === undefined || v === '') throw new CliError(`missing <${name}>\n\n${usage}`, EXIT.USAGE);
  return v;
}
