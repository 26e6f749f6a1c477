import { EXIT, type Command } from '../command.js';
import {
  CLIENT_FLAGS,
  CLIENT_FLAGS_HELP,
  dataDirOf,
  devPaths,
  isProcessAlive,
  noPositionals,
  positional,
  readDevState,
  resolveTarget,
  withClient,
} from '../connection.js';
import { intFlag, stringFlag } from '../flags.js';
import { age, fields, print, table } from '../output.js';

const TOKEN_USAGE = `usage: controlplane runner-tokens create [--pool <pool>] [--ttl-seconds <60-604800>] [--json]

Creates a single-use, expiring join token for enrolling one runner into the tenant (a signed
request), and prints the command that enrols with it.
  --pool          runner pool the runner joins (default: default)
  --ttl-seconds   how long the token can be used (default: 3600)
${CLIENT_FLAGS_HELP}`;

export const runnerTokensCreateCommand: Command = {
  path: ['runner-tokens', 'create'],
  usage: TOKEN_USAGE,
  options: { ...CLIENT_FLAGS, pool: { type: 'string' }, 'ttl-seconds': { type: 'string' } },
  async run(ctx) {
    noPositionals(ctx, TOKEN_USAGE);
    const pool = stringFlag(ctx, 'pool');
    const ttlSeconds = intFlag(ctx, 'ttl-seconds', 60, 7 * 86_400);
    const dataDir = dataDirOf(ctx);
    const state = readDevState(dataDir);
    const target = resolveTarget(ctx);
    // Only the dev process knows JobForge's enrolment address; in production it is a deployment setting.
    const enrollUrl = state && isProcessAlive(state.pid) && state.gatewayUrl === target.url ? state.enrollUrl : '<jobforge enrolment URL>';
    const caFile = target.caFile ?? devPaths(dataDir).ca;
    return withClient(ctx, async (client) => {
      const token = await client.joinTokens.create({ ...(pool ? { pool } : {}), ...(ttlSeconds !== undefined ? { ttlSeconds } : {}) });
      print(
        ctx,
        token,
        () =>
          fields([
            ['token', token.token],
            ['tenant', token.tenantId],
            ['pool', token.pool],
            ['expires', token.expiresAt],
          ]) +
          `The token works once and is shown only now. Enrol a runner with it:\n` +
          `  controlplane runner enroll --join-token ${token.token} --jobforge ${enrollUrl} --ca ${caFile} --dir ./runner\n` +
          `  controlplane runner start --dir ./runner\n`,
      );
      return EXIT.OK;
    });
  },
};

const LIST_USAGE = `usage: controlplane runners list [--json]

${CLIENT_FLAGS_HELP}`;

export const runnersListCommand: Command = {
  path: ['runners', 'list'],
  usage: LIST_USAGE,
  options: { ...CLIENT_FLAGS },
  async run(ctx) {
    noPositionals(ctx, LIST_USAGE);
    return withClient(ctx, async (client) => {
      const runners = await client.runners.list();
      print(ctx, runners, () =>
        table(
          ['id', 'name', 'pool', 'status', 'job types', 'last heartbeat'],
          runners.map((r) => [r.id, r.name, r.pool, r.revokedAt ? 'revoked' : r.status, r.jobTypes.join(','), age(r.lastHeartbeatAt)]),
        ),
      );
      return EXIT.OK;
    });
  },
};

const REVOKE_USAGE = `usage: controlplane runners revoke <id> [--json]

Revokes a runner (a signed request): its certificate is refused on its next connection and request,
and its leased jobs go back to the queue when their leases run out.
${CLIENT_FLAGS_HELP}`;

export const runnersRevokeCommand: Command = {
  path: ['runners', 'revoke'],
  usage: REVOKE_USAGE,
  options: { ...CLIENT_FLAGS },
  async run(ctx) {
    const id = positional(ctx, 0, 'id', REVOKE_USAGE);
    noPositionals(ctx, REVOKE_USAGE, 1);
    return withClient(ctx, async (client) => {
      const runner = await client.runners.revoke(id);
      print(ctx, runner, () => `revoked runner ${runner.id} (${runner.name})\n`);
      return EXIT.OK;
    });
  },
};
