import { existsSync, readFileSync, statSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { ControlPlaneClient, ControlPlaneError, isInternalError, readKeyFile } from '@controlplane/client';
import { inspectCertificate, loadTlsMaterial, type Config } from '@controlplane/platform';
import {
  appliedMigrations,
  createRedis,
  displayDatabaseUrl,
  embeddedDatabaseDir,
  openDatabaseFromConfig,
  readMigrations,
  serviceTlsFiles,
  type ServiceName,
} from '@controlplane/server';
import { CliError, EXIT, type Command, type CommandContext } from '../command.js';
import { isProcessAlive, readDevState, resolveTarget } from '../connection.js';
import { boolFlag, stringFlag } from '../flags.js';
import { CONFIG_FLAGS_HELP, loadCliConfig } from '../load-config.js';
import { table } from '../output.js';
import { auditCheckpointCheck, encryptionCheck } from './doctor-at-rest.js';

type Status = 'ok' | 'warn' | 'fail' | 'skip';

interface Check {
  name: string;
  status: Status;
  detail: string;
  /** What to do about a warn or fail. */
  fix?: string;
}

const SERVICES: readonly ServiceName[] = ['gateway', 'jobforge', 'truthcore'];
const DAY_MS = 86_400_000;
/** Renew before this: a certificate that expires unnoticed takes the whole mesh down at once. */
const EXPIRY_WARNING_DAYS = 30;

const USAGE = `usage: controlplane doctor [--config <file>] [--data-dir <dir>] [--gateway <url>] [--ca <file>] [--key-file <file>] [--json]

Checks what ControlPlane needs and says what to fix: the configuration; the CA and the service
certificates (present, matching their keys, issued by the CA, how long until they expire); the API
key file; the keyring that encrypts payloads at rest (or the setting that stores them in clear); the
audit checkpoint directory (writable, genuine and recent checkpoints); PostgreSQL (reachable, migrated) and Redis (reachable) when configured; and whether the
gateway answers its health check and accepts the key.
Exit status: 0 when nothing failed (warnings allowed), 1 when a check failed, 3 when the
configuration itself is invalid.
${CONFIG_FLAGS_HELP}
  --data-dir / --gateway / --ca / --key-file   as for the client commands (jobs, keys, …)`;

function daysLeft(notAfter: Date): number {
  return Math.floor((notAfter.getTime() - Date.now()) / DAY_MS);
}

function modeProblem(file: string): string | undefined {
  if (process.platform === 'win32') return undefined;
  const mode = statSync(file).mode & 0o777;
  return (mode & 0o077) !== 0 ? `${file} is readable by others (mode ${mode.toString(8)})` : undefined;
}

function certificateChecks(config: Readonly<Config>): Check[] {
  const checks: Check[] = [];
  // A host configured with tls.* runs one service; without, the data directory holds all three.
  const services = config.tls.certFile ? [SERVICES.find((s) => config.tls.certFile!.includes(s)) ?? 'gateway'] : SERVICES;
  const caFile = serviceTlsFiles(config, 'gateway').caFile;
  if (!existsSync(caFile)) {
    return [
      {
        name: 'CA certificate',
        status: 'fail',
        detail: `${caFile} does not exist`,
        fix: `start \`controlplane dev\` (it creates a CA), or run \`controlplane pki init --dir ${join(config.dataDir, 'pki')}\`, or set tls.caFile`,
      },
    ];
  }
  try {
    const ca = inspectCertificate(readFileSync(caFile, 'utf8'));
    const left = daysLeft(ca.notAfter);
    checks.push({
      name: 'CA certificate',
      status: !ca.isCa || left < 0 ? 'fail' : left < EXPIRY_WARNING_DAYS ? 'warn' : 'ok',
      detail: `${caFile}: ${ca.isCa ? 'a CA' : 'NOT a CA'} for ${ca.trustDomain ?? '?'}, expires ${ca.notAfter.toISOString().slice(0, 10)} (${left} days)`,
      ...(left < EXPIRY_WARNING_DAYS
        ? { fix: 'create a new CA (`controlplane pki init --force`) and re-issue every certificate before it expires' }
        : {}),
    });
    if (ca.trustDomain && ca.trustDomain !== config.trustDomain) {
      checks.push({
        name: 'trust domain',
        status: 'fail',
        detail: `the CA is for ${ca.trustDomain}, the configuration says ${config.trustDomain}`,
        fix: `set trustDomain (CONTROLPLANE_TRUST_DOMAIN) to ${ca.trustDomain}`,
      });
    }
  } catch (err) {
    checks.push({
      name: 'CA certificate',
      status: 'fail',
      detail: `${caFile}: ${(err as Error).message}`,
      fix: 'point tls.caFile at the PEM certificate of your CA',
    });
  }
  for (const service of services) {
    const files = serviceTlsFiles(config, service);
    try {
      const m = loadTlsMaterial(files);
      const left = daysLeft(new Date(m.certificate.validTo));
      const keyMode = modeProblem(files.keyFile);
      checks.push({
        name: `${service} certificate`,
        status: keyMode || left < EXPIRY_WARNING_DAYS ? 'warn' : 'ok',
        detail: `${files.certFile}: expires ${new Date(m.certificate.validTo).toISOString().slice(0, 10)} (${left} days)${keyMode ? `; ${keyMode}` : ''}`,
        ...(keyMode
          ? { fix: `chmod 600 ${files.keyFile}` }
          : left < EXPIRY_WARNING_DAYS
            ? { fix: `issue a new ${service} certificate before it expires (\`controlplane pki init\` in a new directory, or your own CA)` }
            : {}),
      });
    } catch (err) {
      checks.push({
        name: `${service} certificate`,
        status: 'fail',
        detail: (err as Error).message,
        fix: `run \`controlplane pki init --dir ${join(config.dataDir, 'pki')}\`, or set tls.certFile / tls.keyFile`,
      });
    }
  }
  return checks;
}

function keyFileCheck(file: string): Check {
  try {
    const c = readKeyFile(file);
    return {
      name: 'API key file',
      status: c.signingKey ? 'ok' : 'warn',
      detail: `${file}: ${c.role} key ${c.id} of tenant ${c.tenantId}${c.signingKey ? '' : ', without a signing key (signed operations will fail)'}`,
      ...(c.signingKey ? {} : { fix: 'create a key with `controlplane keys create --out <file>` to get one with its signing key' }),
    };
  } catch (err) {
    const missing = isInternalError(err, 'CP_KEYFILE_NOT_FOUND');
    return {
      name: 'API key file',
      status: missing ? 'warn' : 'fail',
      detail: (err as Error).message,
      fix: missing ? 'start `controlplane dev` (it writes one), or pass --key-file' : `chmod 600 ${file}, or pass --key-file`,
    };
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function databaseCheck(config: Readonly<Config>): Promise<Check[]> {
  if (config.database.mode === 'embedded') {
    const dir = embeddedDatabaseDir(config);
    const state = readDevState(config.dataDir);
    if (!existsSync(join(dir, 'PG_VERSION')))
      return [
        {
          name: 'database',
          status: 'warn',
          detail: `embedded (PGlite); no database in ${dir} yet`,
          fix: 'start `controlplane dev` to create it, or set DATABASE_URL for PostgreSQL',
        },
      ];
    const inUse = state && isProcessAlive(state.pid) ? `, in use by controlplane dev (pid ${state.pid})` : '';
    return [{ name: 'database', status: 'ok', detail: `embedded (PGlite) in ${dir}${inUse}` }];
  }
  let where = displayDatabaseUrl(config.database.url!);
  let db;
  try {
    ({ db, where } = await openDatabaseFromConfig(config, {
      applicationName: 'controlplane-doctor',
      unscoped: 'system',
      maxConnections: 1,
      connectTimeoutMs: 5_000,
      statementTimeoutMs: 5_000,
    }));
  } catch (err) {
    return [{ name: 'database', status: 'fail', detail: (err as Error).message, fix: 'check database.sslMode / database.sslCaFile' }];
  }
  try {
    const version = (await withTimeout(db.query<{ v: string }>("select current_setting('server_version') as v"), 6_000, 'PostgreSQL'))
      .rows[0]?.v;
    const applied = await appliedMigrations(db);
    const known = await readMigrations();
    const missing = known.filter((m) => !applied.some((a) => a.version === m.version));
    const role = (
      await db.query<{ name: string; rolsuper: boolean; rolbypassrls: boolean }>(
        'select current_user as name, rolsuper, rolbypassrls from pg_roles where rolname = current_user',
      )
    ).rows[0];
    const bypass = role && (role.rolsuper ? 'is a superuser' : role.rolbypassrls ? 'has BYPASSRLS' : undefined);
    const autovacuum = (await db.query<{ on: boolean }>(`select current_setting('autovacuum')::boolean as on`)).rows[0]?.on;
    return [
      { name: 'database', status: 'ok', detail: `PostgreSQL ${version} at ${where} (TLS: ${config.database.sslMode})` },
      bypass
        ? {
            name: 'database role',
            status: 'warn',
            detail: `${role.name} ${bypass}: row-level security does not apply to it, so tenant isolation rests on the queries alone`,
            fix: 'run the services as a role that owns the schema but is neither superuser nor BYPASSRLS (docs/deployment.md)',
          }
        : { name: 'database role', status: 'ok', detail: `${role?.name ?? '?'}: row-level security applies` },
      autovacuum
        ? { name: 'autovacuum', status: 'ok', detail: 'on' }
        : {
            name: 'autovacuum',
            status: 'warn',
            detail:
              'off: the row versions every job leaves behind are never reclaimed (JobForge keeps its planner statistics fresh itself, not the tables small)',
            fix: 'set autovacuum = on (docs/deployment.md)',
          },
      missing.length === 0
        ? { name: 'migrations', status: 'ok', detail: `${applied.length} applied, schema current` }
        : {
            name: 'migrations',
            status: 'warn',
            detail: `${missing.length} not applied yet (${missing.map((m) => m.version).join(', ')})`,
            fix: 'start a service (`controlplane jobforge`): migrations are applied at start',
          },
    ];
  } catch (err) {
    return [
      {
        name: 'database',
        status: 'fail',
        detail: `cannot use PostgreSQL at ${where}: ${(err as Error).message}`,
        fix: 'is PostgreSQL running and reachable, and are DATABASE_URL (user, password, database) and database.sslMode right?',
      },
    ];
  } finally {
    await db.close().catch(() => undefined);
  }
}

async function redisCheck(config: Readonly<Config>): Promise<Check> {
  if (config.redis.mode !== 'redis' || !config.redis.url) {
    return { name: 'redis', status: 'ok', detail: 'not configured: in-process queue and rate limits (one process or replica only)' };
  }
  const where = config.redis.url.replace(/\/\/[^@/]*@/, '//***@');
  try {
    const r = await createRedis({
      url: config.redis.url,
      keyPrefix: config.redis.keyPrefix,
      connectTimeoutMs: 5_000,
      connectionName: 'controlplane-doctor',
      ...(config.redis.tlsCaFile ? { tls: { caFile: config.redis.tlsCaFile } } : {}),
    });
    try {
      const info = await r.client.info('server');
      const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
      return {
        name: 'redis',
        status: 'ok',
        detail: `Redis ${version} at ${where}${config.redis.url.startsWith('rediss:') ? ' (TLS)' : ''}`,
      };
    } finally {
      await r.close();
    }
  } catch (err) {
    return {
      name: 'redis',
      status: 'fail',
      detail: (err as Error).message,
      fix: 'is Redis running and reachable, and is REDIS_URL right (rediss:// for TLS off-host)?',
    };
  }
}

function healthOf(
  url: string,
  ca: string | undefined,
): Promise<{ status: number; body: { status?: string; checks?: Array<{ name: string; status: string }> } | undefined }> {
  const agent = new Agent({ keepAlive: false, ...(ca ? { ca } : {}) });
  return new Promise((resolve, reject) => {
    const req = httpsRequest(new URL('/health', url), { agent, timeout: 5_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c.length < 65_536 ? c : ''));
      res.on('end', () => {
        agent.destroy();
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as never });
        } catch {
          resolve({ status: res.statusCode ?? 0, body: undefined });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', (err) => {
      agent.destroy();
      reject(err);
    });
    req.end();
  });
}

async function gatewayChecks(ctx: CommandContext): Promise<Check[]> {
  const target = resolveTarget(ctx);
  if (!target.url.startsWith('https://'))
    return [
      {
        name: 'gateway',
        status: 'fail',
        detail: `${target.url} is not https://`,
        fix: 'the gateway serves HTTPS only; use its https:// URL',
      },
    ];
  let ca: string | undefined;
  try {
    ca = target.caFile ? readFileSync(target.caFile, 'utf8') : undefined;
  } catch (err) {
    return [
      { name: 'gateway', status: 'fail', detail: `cannot read ${target.caFile}: ${(err as Error).message}`, fix: 'pass --ca <file>' },
    ];
  }
  let health;
  try {
    health = await healthOf(target.url, ca);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const tls =
      code?.startsWith('ERR_TLS') ||
      code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
      code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
      code === 'DEPTH_ZERO_SELF_SIGNED_CERT';
    return [
      {
        name: 'gateway',
        status: 'fail',
        detail: `${target.url}: ${(err as Error).message}`,
        fix: tls
          ? 'the gateway certificate is not trusted: pass the CA that issued it with --ca'
          : 'is the gateway running? start `controlplane dev` (or `controlplane gateway`), or pass --gateway <url>',
      },
    ];
  }
  const h = health.body;
  const degraded = (h?.checks ?? []).filter((c) => c.status !== 'healthy').map((c) => c.name);
  const checks: Check[] = [
    {
      name: 'gateway',
      status: health.status === 200 && h?.status === 'healthy' ? 'ok' : health.status === 200 ? 'warn' : 'fail',
      detail: `${target.url}: ${h?.status ?? `HTTP ${health.status}`}${degraded.length ? ` (${degraded.join(', ')} not healthy)` : ''}`,
      ...(health.status === 200 && h?.status === 'healthy'
        ? {}
        : { fix: 'see the gateway log; a dependency it reports is down or unreachable' }),
    },
  ];
  if (!existsSync(target.keyFile)) return checks;
  try {
    const credentials = readKeyFile(target.keyFile);
    const client = new ControlPlaneClient({
      url: target.url,
      apiKey: credentials.apiKey,
      ...(ca ? { ca } : {}),
      retry: { maxAttempts: 1 },
    });
    try {
      await client.jobs.list({ limit: 1 });
      checks.push({
        name: 'API key',
        status: 'ok',
        detail: `accepted by the gateway (${credentials.role} of tenant ${credentials.tenantId})`,
      });
    } finally {
      client.close();
    }
  } catch (err) {
    if (err instanceof ControlPlaneError) {
      checks.push({
        name: 'API key',
        status: 'fail',
        detail: `${err.code}: ${err.message}`,
        fix:
          err.status === 401
            ? 'the key is unknown, revoked or expired here: use another --key-file, or create a key'
            : 'see the error code in docs/errors.md',
      });
    } else if (!isInternalError(err, 'CP_KEYFILE_')) {
      throw err;
    }
  }
  return checks;
}

export const doctorCommand: Command = {
  path: ['doctor'],
  usage: USAGE,
  options: {
    config: { type: 'string' },
    'data-dir': { type: 'string' },
    gateway: { type: 'string' },
    ca: { type: 'string' },
    'key-file': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
  async run(ctx) {
    if (ctx.positionals.length > 0) throw new CliError(`unexpected argument '${ctx.positionals[0]}'\n\n${USAGE}`, EXIT.USAGE);
    const checks: Check[] = [];
    let config: Readonly<Config>;
    try {
      config = loadCliConfig(ctx, ['data-dir']);
      checks.push({
        name: 'configuration',
        status: 'ok',
        detail: `${stringFlag(ctx, 'config') ?? ctx.env.CONTROLPLANE_CONFIG ?? 'environment and defaults'}; data directory ${config.dataDir}; trust domain ${config.trustDomain}`,
      });
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      checks.push({
        name: 'configuration',
        status: 'fail',
        detail: err.message.replace(/\n\s*/g, ' '),
        fix: 'correct the settings named above (docs/deployment.md lists them)',
      });
      report(ctx, checks);
      return EXIT.CONFIG;
    }
    checks.push(...certificateChecks(config));
    checks.push(keyFileCheck(resolveTarget(ctx).keyFile));
    const [db, redis, gateway, encryption] = await Promise.all([
      databaseCheck(config),
      redisCheck(config),
      gatewayChecks(ctx),
      encryptionCheck(config),
    ]);
    checks.push(...db, redis, encryption, auditCheckpointCheck(config), ...gateway);
    report(ctx, checks);
    return checks.some((c) => c.status === 'fail') ? EXIT.FAILURE : EXIT.OK;
  },
};

function report(ctx: CommandContext, checks: Check[]): void {
  if (boolFlag(ctx, 'json')) {
    ctx.stdout.write(JSON.stringify({ ok: !checks.some((c) => c.status === 'fail'), checks }, null, 2) + '\n');
    return;
  }
  ctx.stdout.write(
    table(
      ['check', 'status', 'detail'],
      checks.map((c) => [c.name, c.status.toUpperCase(), c.detail]),
    ),
  );
  const fixes = checks.filter((c) => c.fix && (c.status === 'fail' || c.status === 'warn'));
  if (fixes.length > 0) {
    ctx.stdout.write('\nto fix:\n');
    for (const c of fixes) ctx.stdout.write(`  ${c.name}: ${c.fix}\n`);
  } else {
    ctx.stdout.write('\nall checks passed\n');
  }
}
