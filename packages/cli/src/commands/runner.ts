import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createLogger, KEY_ALGORITHMS, loadConfig, tracingFromConfig, type KeyAlgorithm } from '@controlplane/platform';
import {
  CONFINEMENT_MODES,
  DEMO_HANDLERS_MODULE,
  enrollRunner,
  INTAKE_MODES,
  RunnerAgent,
  type ConfinementMode,
  type IntakeMode,
} from '@controlplane/runner';
import { CliError, EXIT, type Command } from '../command.js';
import { boolFlag, intFlag, requiredFlag, stringFlag } from '../flags.js';
import { CONFIG_EXITS, cliErrorFor } from '../internal-errors.js';

export const runnerEnrollCommand: Command = {
  path: ['runner', 'enroll'],
  usage: `usage: controlplane runner enroll --join-token <token> --jobforge <enrol-url> --ca <ca.crt> --dir <dir> [--name <name>] [--algorithm ecdsa-p256|ed25519] [--json]

Creates a key pair in <dir> (it never leaves the machine), sends a CSR with the single-use join
token to JobForge's enrolment endpoint, and stores the short-lived certificate it gets back.`,
  options: {
    'join-token': { type: 'string' },
    jobforge: { type: 'string' },
    ca: { type: 'string' },
    dir: { type: 'string' },
    name: { type: 'string' },
    algorithm: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const algorithmFlag = stringFlag(ctx, 'algorithm');
    const algorithm = algorithmFlag === undefined ? undefined : KEY_ALGORITHMS.find((a) => a.toLowerCase() === algorithmFlag.toLowerCase());
    if (algorithmFlag !== undefined && !algorithm) throw new CliError(`unknown --algorithm '${algorithmFlag}'`, EXIT.USAGE);
    const dir = resolve(requiredFlag(ctx, 'dir'));
    try {
      const meta = await enrollRunner({
        joinToken: requiredFlag(ctx, 'join-token'),
        enrollUrl: requiredFlag(ctx, 'jobforge'),
        caFile: requiredFlag(ctx, 'ca'),
        dir,
        name: stringFlag(ctx, 'name') ?? 'runner',
        ...(algorithm ? { algorithm: algorithm as KeyAlgorithm } : {}),
      });
      if (boolFlag(ctx, 'json')) ctx.stdout.write(JSON.stringify(meta, null, 2) + '\n');
      else
        ctx.stdout.write(
          `enrolled runner ${meta.runnerId} (tenant ${meta.tenantId}, pool ${meta.pool})\n  identity  ${meta.spiffeId}\n  valid to  ${meta.notAfter}\n  files in  ${dir}\n`,
        );
      return EXIT.OK;
    } catch (err) {
      const e = err as { code?: string; message: string };
      if (e.code === 'JOIN_TOKEN_INVALID')
        throw new CliError('the join token is not valid, has expired or has been used; ask an admin for a new one', EXIT.AUTH);
      if (e.code === 'SERVICE_UNAVAILABLE')
        throw new CliError(`cannot reach JobForge at ${stringFlag(ctx, 'jobforge')}: check the URL and the CA file`, EXIT.UNAVAILABLE);
      throw new CliError(e.message, EXIT.FAILURE);
    }
  },
};

export const runnerStartCommand: Command = {
  path: ['runner', 'start'],
  usage: `usage: controlplane runner start --dir <dir> [--handlers <module>] [--slots <n>] [--metrics-port <port>] [--metrics-host <host>]
                                 [--drain-timeout-ms <ms>] [--log-level <level>] [--confinement <mode>] [--sandbox-read <dirs>]
                                 [--intake stream|poll]

  --handlers      an ES module exporting handlers (default: the demo runner's handlers)
  --slots         jobs run at once (default: the sum of the handlers' concurrency)
  --metrics-port  serve GET /health and GET /metrics on this local port
  --confinement   strict (default): every sandbox process in its own namespaces (bubblewrap), as another
                  uid when the runner is root, under Node's permission model; permissions: the
                  permission model (and uid) only; none: unconfined. The runner refuses to start when
                  the mode cannot be had, and /health shows any mode weaker than strict as degraded.
  --sandbox-read  more directories (comma-separated) the sandboxes may read, e.g. a handler's data
  --intake        stream (default): JobForge pushes leases down one open stream as slots free; poll:
                  claim long-polls, for a network whose proxies cannot carry a streaming request body`,
  options: {
    dir: { type: 'string' },
    handlers: { type: 'string' },
    slots: { type: 'string' },
    'metrics-port': { type: 'string' },
    'metrics-host': { type: 'string' },
    'drain-timeout-ms': { type: 'string' },
    'log-level': { type: 'string' },
    confinement: { type: 'string' },
    'sandbox-read': { type: 'string' },
    intake: { type: 'string' },
  },
  async run(ctx) {
    const confinement = stringFlag(ctx, 'confinement') ?? 'strict';
    if (!CONFINEMENT_MODES.includes(confinement as ConfinementMode)) {
      throw new CliError(`unknown --confinement '${confinement}' (use ${CONFINEMENT_MODES.join(', ')})`, EXIT.USAGE);
    }
    const intake = stringFlag(ctx, 'intake') ?? 'stream';
    if (!INTAKE_MODES.includes(intake as IntakeMode))
      throw new CliError(`unknown --intake '${intake}' (use ${INTAKE_MODES.join(', ')})`, EXIT.USAGE);
    const sandboxRead = stringFlag(ctx, 'sandbox-read');
    const logger = createLogger({ service: 'runner', level: stringFlag(ctx, 'log-level') ?? ctx.env.CONTROLPLANE_LOG_LEVEL ?? 'info' });
    const metricsPort = intFlag(ctx, 'metrics-port', 0, 65535);
    const slots = intFlag(ctx, 'slots', 1, 10_000);
    const drain = intFlag(ctx, 'drain-timeout-ms', 0, 3_600_000);
    // Only the OTEL_* variables: a runner host's other settings are not the services' configuration.
    const otelEnv = Object.fromEntries(Object.entries(ctx.env).filter(([k]) => k.startsWith('OTEL_')));
    let tracing;
    try {
      tracing = tracingFromConfig(loadConfig({ env: otelEnv }), 'runner');
    } catch (err) {
      throw cliErrorFor(err, CONFIG_EXITS) ?? err;
    }
    const agent = new RunnerAgent({
      tracing,
      dir: resolve(requiredFlag(ctx, 'dir')),
      handlersModule: resolve(stringFlag(ctx, 'handlers') ?? DEMO_HANDLERS_MODULE),
      logger,
      ...(slots !== undefined ? { slots } : {}),
      ...(drain !== undefined ? { drainTimeoutMs: drain } : {}),
      ...(metricsPort !== undefined ? { metricsListen: { host: stringFlag(ctx, 'metrics-host') ?? '127.0.0.1', port: metricsPort } } : {}),
      sourceEnv: ctx.env,
      confinement: confinement as ConfinementMode,
      intake: intake as IntakeMode,
      ...(sandboxRead ? { sandboxReadPaths: sandboxRead.split(',').map((p) => resolve(p)) } : {}),
    });
    try {
      await agent.start();
    } catch (err) {
      throw cliErrorFor(err, [['CP_RUNNER_CONFINEMENT_UNAVAILABLE', EXIT.CONFIG]]) ?? err;
    }
    ctx.stdout.write(`runner ${agent.runnerId} started${agent.metricsUrl ? ` (health and metrics at ${agent.metricsUrl})` : ''}\n`);
    await new Promise<void>((resolveStop) => {
      const onSignal = (sig: NodeJS.Signals) => {
        logger.info({ signal: sig }, 'stopping: draining running jobs');
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        resolveStop();
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    });
    await agent.stop();
    await tracing.shutdown();
    return EXIT.OK;
  },
};

const SCAFFOLD_HANDLERS = `// Handlers of this runner. Each is { type, run(input, ctx) } plus optional limits; see
// ControlPlane's runner docs. Throw an error with the Symbol.for('controlplane.runner.nonRetryable')
// brand (or the SDK's NonRetryableError) to fail a job permanently.

const greet = {
  type: 'greet',
  description: 'Greets someone by name.',
  inputSchema: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 } } },
  outputSchema: { type: 'object', required: ['greeting'] },
  concurrency: 2,
  timeoutMs: 10_000,
  run: async (input, ctx) => {
    ctx.progress(50, 'composing');
    if (typeof input.name !== 'string' || input.name.length === 0) {
      const err = new Error('name is required');
      err[Symbol.for('controlplane.runner.nonRetryable')] = true;
      throw err;
    }
    return { greeting: \`Hello, \${input.name}!\` };
  },
};

export default [greet];
`;

const SCAFFOLD_TEST = `import { test } from 'node:test';
import assert from 'node:assert/strict';
import handlers from './handlers.mjs';

function context() {
  const progress = [];
  return { progress, ctx: { jobId: 'test-job', attempt: 1, type: 'greet', correlationId: undefined, signal: new AbortController().signal, progress: (pct, msg) => progress.push([pct, msg]), log: () => {} } };
}

test('greet returns a greeting and reports progress', async () => {
  const greet = handlers.find((h) => h.type === 'greet');
  const { ctx, progress } = context();
  assert.deepEqual(await greet.run({ name: 'Ada' }, ctx), { greeting: 'Hello, Ada!' });
  assert.deepEqual(progress, [[50, 'composing']]);
});

test('greet fails permanently without a name', async () => {
  const greet = handlers.find((h) => h.type === 'greet');
  const { ctx } = context();
  await assert.rejects(greet.run({}, ctx), (err) => err[Symbol.for('controlplane.runner.nonRetryable')] === true);
});
`;

export const runnerInitCommand: Command = {
  path: ['runner', 'init'],
  usage: `usage: controlplane runner init <name> [--dir <parent>]

Creates <parent>/<name>/ with handlers.mjs (one example handler), handlers.test.mjs and a
package.json whose "test" script runs the test with Node's own test runner.`,
  options: { dir: { type: 'string' } },
  async run(ctx) {
    const name = ctx.positionals[0];
    if (!name || !/^[a-z0-9][a-z0-9._-]{0,100}$/.test(name))
      throw new CliError('give the runner project a name: lowercase letters, digits, . _ -', EXIT.USAGE);
    const dir = join(resolve(stringFlag(ctx, 'dir') ?? '.'), name);
    if (existsSync(dir)) throw new CliError(`${dir} already exists`, EXIT.CONFLICT);
    mkdirSync(dir, { recursive: true });
    const pkg = {
      name,
      // The new project's own first version, not ControlPlane's.
      version: '0.1.0',
      private: true,
      type: 'module',
      description: 'A ControlPlane runner',
      scripts: {
        test: 'node --test',
        start: 'controlplane runner start --dir ./.runner --handlers ./handlers.mjs',
      },
    };
    writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
    writeFileSync(join(dir, 'handlers.mjs'), SCAFFOLD_HANDLERS);
    writeFileSync(join(dir, 'handlers.test.mjs'), SCAFFOLD_TEST);
    writeFileSync(join(dir, '.gitignore'), '.runner/\nnode_modules/\n');
    writeFileSync(
      join(dir, 'README.md'),
      `# ${name}\n\nA ControlPlane runner.\n\n- \`npm test\` runs the handler tests.\n- Enrol once: \`controlplane runner enroll --join-token <token> --jobforge <url> --ca <ca.crt> --dir ./.runner\`\n- Run: \`npm start\`\n`,
    );
    ctx.stdout.write(`created ${dir}\n  cd ${dir} && npm test\n`);
    return EXIT.OK;
  },
};
