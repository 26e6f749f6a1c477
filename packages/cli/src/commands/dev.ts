import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { relative, resolve } from 'node:path';
import { ControlPlaneClient, readKeyFile, writeKeyFile, type Credentials } from '@controlplane/client';
import { createLogger, type Config } from '@controlplane/platform';
import { DEMO_HANDLERS_MODULE, enrollRunner, loadRunnerIdentity } from '@controlplane/runner';
import {
  createBootstrapAdminKey,
  ensureDevPki,
  ensureTenant,
  isApiKeyUsable,
  startProcessMetrics,
  startSystem,
  STORED_IN_CLEAR,
  type ProcessMetrics,
  type RunningSystem,
} from '@controlplane/server';
import { keyFileOf } from '../key-file-of.js';
import { CliError, EXIT, type Command, type CommandContext } from '../command.js';
import { DEV_TENANT, devPaths, isProcessAlive, readDevState, type DevState } from '../connection.js';
import { describeOutcome, runDemoJobs, startRunnerProcess, type RunnerProcess } from '../dev/index.js';
import { boolFlag, stringFlag } from '../flags.js';
import { CONFIG_FLAGS_HELP, loadCliConfig } from '../load-config.js';
import { startupError } from '../startup-errors.js';
import { StopSignal } from '../stop-signal.js';

const USAGE = `usage: controlplane dev [--data-dir <dir>] [--config <file>] [--gateway-port <port>] [--jobforge-port <port>]
                        [--truthcore-port <port>] [--enroll-port <port>] [--metrics-port <port>]
                        [--database-url <url>] [--redis-url <url>]
                        [--log-level <level>] [--runner-handlers <module>] [--runner-confinement <mode>]
                        [--skip-demo] [--skip-runner]

Runs the whole control plane in one process for development: gateway, JobForge and TruthCore, each
with its own certificate and talking over mTLS as in production, plus the demo runner as a child
process. The first start creates in the data directory (default .controlplane):
  pki/              a development CA, the service certificates and keyring.json, the keyring
                    that encrypts payloads and results at rest (mode 0600; encryption.keyringFile
                    names another, encryption.enabled: false stores them in clear)
  db/               the embedded PostgreSQL (PGlite), unless DATABASE_URL / --database-url is set
  admin-key.json    an admin API key of tenant '${DEV_TENANT}' with its signing key (mode 0600)
  logs/             the services' and the runner's JSON logs
  audit-checkpoints/ the audit chain's head, signed by each service every minute and at shutdown,
                    which \`controlplane audit verify\` checks the chain against
and, beside it (<data dir>-runner, away from the CA and the keys), the demo runner's identity,
enrolled with a join token.
Later starts reuse all of it. Without REDIS_URL / --redis-url the queue and rate limits are in-process.
Stop with Ctrl-C (SIGINT) or SIGTERM: the runner drains, the services close, exit status 0.

  --gateway-port ...   listener ports (default 8443, 8444, 8445, 8446; 0 picks free ones)
  --metrics-port       the services' Prometheus listener on 127.0.0.1 (default 9460; 0 picks a free
                       one); the runner's gets a free port. Both URLs are printed at start.
  --runner-handlers    the runner's handler module (default: the demo handlers)
  --runner-confinement how the runner confines its sandboxes: strict (default: namespaces with
                       bubblewrap, a separate uid, Node's permission model), permissions, or none
  --skip-demo          do not submit the demo jobs
  --skip-runner        do not start the demo runner (nor the demo jobs)
${CONFIG_FLAGS_HELP}`;

const DEMO_TIMEOUT_MS = 60_000;

/** `dev.json` doubles as a lock: two processes on one PGlite directory would corrupt it. */
function claimDataDir(paths: ReturnType<typeof devPaths>): void {
  const current = readDevState(paths.dir);
  if (current && current.pid !== process.pid && isProcessAlive(current.pid)) {
    throw new CliError(
      `controlplane dev is already running with ${paths.dir} (pid ${current.pid}, gateway ${current.gatewayUrl}); stop it first or use another --data-dir`,
      EXIT.CONFLICT,
    );
  }
  writeFileSync(
    paths.state,
    JSON.stringify({ pid: process.pid, gatewayUrl: '', enrollUrl: '', tenantId: DEV_TENANT, startedAt: new Date().toISOString() }) + '\n',
    { mode: 0o600 },
  );
}

function writeState(paths: ReturnType<typeof devPaths>, state: DevState): void {
  writeFileSync(paths.state, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
}

function releaseDataDir(paths: ReturnType<typeof devPaths>): void {
  if (readDevState(paths.dir)?.pid === process.pid) rmSync(paths.state, { force: true });
}

function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

/**
 * The dev admin key: kept from an earlier start when it still works, else made and saved with its
 * signing private key. Returns the key text only when it was just made (to be shown once).
 */
async function ensureAdminKey(
  system: RunningSystem,
  file: string,
): Promise<{ credentials: Credentials; created: string | undefined; replaced: boolean }> {
  let replaced = false;
  if (existsSync(file)) {
    const credentials = readKeyFile(file);
    if (credentials.tenantId === DEV_TENANT && credentials.signingKey && (await isApiKeyUsable(system.db, credentials.id)))
      return { credentials, created: undefined, replaced };
    // A key file from another database (DATABASE_URL changed) or a revoked key: replace it.
    replaced = true;
  }
  const k = await createBootstrapAdminKey(system.db, DEV_TENANT, 'dev admin');
  writeKeyFile(file, keyFileOf(k), { overwrite: true });
  return { credentials: readKeyFile(file), created: k.key, replaced };
}

/**
 * The demo runner's identity: reused while it is valid for this JobForge, else enrolled afresh with
 * a join token made through the gateway (a signed request), exactly as an operator would.
 */
async function ensureDemoRunner(
  system: RunningSystem,
  client: ControlPlaneClient,
  paths: ReturnType<typeof devPaths>,
): Promise<'reused' | 'enrolled'> {
  let previous: string | undefined;
  try {
    const { meta } = loadRunnerIdentity(paths.runner);
    previous = meta.runnerId;
    const fresh = meta.runnerApiUrl === system.jobforge.url && Date.parse(meta.notAfter) - Date.now() > 3_600_000;
    const record = (await client.runners.list()).find((r) => r.id === meta.runnerId);
    if (fresh && record && !record.revokedAt) return 'reused';
    if (!record || record.revokedAt) previous = undefined;
  } catch {
    // No identity yet, or an expired certificate: enrol.
  }
  // The old identity points at another address or is about to expire: retire it properly.
  if (previous) await client.runners.revoke(previous);
  rmSync(paths.runner, { recursive: true, force: true });
  const token = await client.joinTokens.create({ pool: 'default', ttlSeconds: 600 });
  await enrollRunner({
    joinToken: token.token,
    enrollUrl: system.jobforge.enrollUrl,
    caFile: paths.ca,
    dir: paths.runner,
    name: 'demo-runner',
  });
  return 'enrolled';
}

function modeLine(config: Readonly<Config>, system: RunningSystem): string {
  const db =
    system.database.kind === 'embedded'
      ? `embedded PostgreSQL (PGlite) in ${shown(system.database.where)}`
      : `PostgreSQL ${system.database.where}`;
  const redis = system.redis
    ? `Redis ${config.redis.url?.replace(/\/\/[^@/]*@/, '//***@')} (prefix ${config.redis.keyPrefix})`
    : 'in-process queue and rate limits';
  return `${db}; ${redis}`;
}

async function closeLog(stream: WriteStream): Promise<void> {
  if (stream.closed) return;
  stream.end();
  await once(stream, 'close').catch(() => undefined);
}

export const devCommand: Command = {
  path: ['dev'],
  usage: USAGE,
  options: {
    'data-dir': { type: 'string' },
    config: { type: 'string' },
    'gateway-port': { type: 'string' },
    'jobforge-port': { type: 'string' },
    'truthcore-port': { type: 'string' },
    'enroll-port': { type: 'string' },
    'metrics-port': { type: 'string' },
    'database-url': { type: 'string' },
    'redis-url': { type: 'string' },
    'log-level': { type: 'string' },
    'runner-handlers': { type: 'string' },
    'runner-confinement': { type: 'string' },
    'skip-demo': { type: 'boolean', default: false },
    'skip-runner': { type: 'boolean', default: false },
  },
  async run(ctx: CommandContext) {
    if (ctx.positionals.length > 0) throw new CliError(`unexpected argument '${ctx.positionals[0]}'\n\n${USAGE}`, EXIT.USAGE);
    const config = loadCliConfig(ctx, [
      'data-dir',
      'log-level',
      'database-url',
      'redis-url',
      'gateway-port',
      'jobforge-port',
      'truthcore-port',
      'enroll-port',
      'metrics-port',
    ]);
    const out = (line = '') => ctx.stdout.write(line + '\n');
    const paths = devPaths(config.dataDir);
    mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
    mkdirSync(paths.logs, { recursive: true, mode: 0o700 });
    claimDataDir(paths);

    let runner: RunnerProcess | undefined;
    const stop = new StopSignal(() => {
      // Asked twice: do not wait for the runner's drain.
      if (runner?.pid) process.kill(runner.pid, 'SIGKILL');
      ctx.stderr.write('stopping now\n');
      process.exit(130);
    });
    const log = createWriteStream(paths.logFile, { flags: 'a', mode: 0o600 });
    const loggerFor = (service: string) => createLogger({ service, level: config.log.level, destination: log });
    const devLog = loggerFor('dev');
    let system: RunningSystem | undefined;
    let observed: ProcessMetrics | undefined;
    let client: ControlPlaneClient | undefined;
    let exitCode: number = EXIT.OK;
    const checkpoint = () => {
      if (stop.stopped) throw new CliError('stopped during start-up', EXIT.OK);
    };
    try {
      out(`ControlPlane dev: data in ${shown(paths.dir)}, logs in ${shown(paths.logFile)}`);
      const pki = await ensureDevPki(config);
      out(
        pki.created
          ? `created a development CA for ${config.trustDomain} and service certificates in ${shown(pki.dir)}`
          : `using the CA and certificates in ${shown(pki.dir)}`,
      );
      checkpoint();
      observed = await startProcessMetrics(config, 'dev');
      system = await startSystem({ config, pki, loggerFor, metrics: observed.metrics });
      checkpoint();
      out(
        !system.encryption
          ? `WARNING: ${STORED_IN_CLEAR}`
          : system.encryption.created
            ? `created the keyring ${shown(system.encryption.file)} (mode 0600): payloads, results and sensitive assertions are encrypted at rest; back it up apart from the database`
            : `encrypting at rest with the keyring ${shown(system.encryption.file)}`,
      );
      const tenant = await ensureTenant(system.db, { id: DEV_TENANT, name: 'Development' });
      if (tenant.created) out(`created tenant '${DEV_TENANT}'`);
      const admin = await ensureAdminKey(system, paths.adminKey);
      if (admin.created) {
        out(
          `${admin.replaced ? 'the saved admin key no longer works here; created a new one' : 'created an admin API key'} of tenant '${DEV_TENANT}' (shown once):`,
        );
        out(`  ${admin.created}`);
        out(`  saved with its signing key to ${shown(paths.adminKey)} (mode 0600)`);
      } else {
        out(`using the admin API key in ${shown(paths.adminKey)}`);
      }
      writeState(paths, {
        pid: process.pid,
        gatewayUrl: system.gateway.url,
        enrollUrl: system.jobforge.enrollUrl,
        tenantId: DEV_TENANT,
        startedAt: new Date().toISOString(),
      });
      out(`services (${modeLine(config, system)}):`);
      out(`  gateway    ${system.gateway.url}`);
      out(`  dashboard  ${system.gateway.url}/ui/ (sign in with ${shown(paths.adminKey)})`);
      out(`  jobforge   ${system.jobforge.url} (mTLS), enrolment ${system.jobforge.enrollUrl}`);
      out(`  truthcore  ${system.truthcore.url} (mTLS)`);
      if (observed.listener) out(`  metrics    ${observed.listener.url}/metrics (Prometheus, the three services)`);
      client = new ControlPlaneClient({
        url: system.gateway.url,
        apiKey: admin.credentials.apiKey,
        signingKey: admin.credentials.signingKey!,
        ca: readFileSync(paths.ca, 'utf8'),
        source: 'controlplane-dev',
      });

      const skipRunner = boolFlag(ctx, 'skip-runner');
      if (!skipRunner) {
        const how = await ensureDemoRunner(system, client, paths);
        checkpoint();
        const handlers = resolve(stringFlag(ctx, 'runner-handlers') ?? DEMO_HANDLERS_MODULE);
        runner = await startRunnerProcess({
          dir: paths.runner,
          handlers,
          confinement: stringFlag(ctx, 'runner-confinement'),
          logLevel: config.log.level,
          env: ctx.env,
          ...(config.metrics.enabled ? { metricsPort: 0 } : {}),
          onOutput: (chunk) => log.write(chunk),
        });
        out(
          `demo runner ${runner.runnerId} ${how === 'reused' ? 'started' : 'enrolled and started'} (pid ${runner.pid}, handlers ${shown(handlers)})`,
        );
        if (runner.metricsUrl) out(`  runner metrics ${runner.metricsUrl}/metrics`);
        void runner.exited.then(({ code, signal }) => {
          if (!stop.stopped) out(`the demo runner exited (${signal ?? `code ${code}`}); see ${shown(paths.logFile)}`);
        });
      }
      checkpoint();

      if (!skipRunner && !boolFlag(ctx, 'skip-demo')) {
        out('demo jobs (submitted through the gateway with the TypeScript client, run by the demo runner):');
        const outcomes = await runDemoJobs(client, (o) => ctx.stdout.write(describeOutcome(o)), {
          signal: stop.signal,
          timeoutMs: DEMO_TIMEOUT_MS,
        });
        const done = outcomes.filter((o) => o.job?.status === 'completed').length;
        out(`demo jobs finished: ${done} of ${outcomes.length} completed`);
      }

      const cli = 'npx controlplane';
      const dirFlag = resolve(config.dataDir) === resolve('.controlplane') ? '' : ` --data-dir ${shown(paths.dir)}`;
      out('');
      out(`ControlPlane is running. gateway: ${system.gateway.url}`);
      out(`Dashboard: ${system.gateway.url}/ui/ (sign in with the key file ${shown(paths.adminKey)})`);
      out('Use it from another terminal (the CLI finds the gateway, CA and admin key in the data directory):');
      out(`  ${cli} jobs submit echo --data '{"hello":"world"}' --wait${dirFlag}`);
      out(`  ${cli} jobs list${dirFlag}`);
      out(`  ${cli} runners list${dirFlag}`);
      out(`  ${cli} doctor${dirFlag}`);
      out(`or with curl: curl --cacert ${shown(paths.ca)} ${system.gateway.url}/health`);
      out('Press Ctrl-C to stop.');
      devLog.info({ gateway: system.gateway.url }, 'dev ready');
      await stop.wait();
    } catch (err) {
      if (!stop.stopped) {
        const e = startupError(err);
        ctx.stderr.write(`controlplane dev: ${e.message}\n`);
        exitCode = e.exitCode;
      }
    } finally {
      out(`stopping${stop.received ? ` (${stop.received})` : ''}…`);
      client?.close();
      if (runner) {
        const r = await runner.stop();
        if (r.code !== 0) out(`  the runner exited with ${r.signal ?? `code ${r.code}`}`);
      }
      await system
        ?.close()
        .catch((err: unknown) => ctx.stderr.write(`controlplane dev: error while stopping: ${(err as Error).message}\n`));
      await observed?.listener?.close();
      releaseDataDir(paths);
      stop.dispose();
      await closeLog(log);
      out('stopped');
    }
    return exitCode;
  },
};
