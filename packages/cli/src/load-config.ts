import { loadConfig, type Config } from '@controlplane/platform';
import type { CommandContext } from './command.js';
import { CONFIG_EXITS, cliErrorFor } from './internal-errors.js';
import { intFlag, stringFlag } from './flags.js';

/** Flags that set a config path, shared by `dev`, the service commands and `doctor`. */
export const CONFIG_FLAG_PATHS: Record<string, { path: string; port?: boolean }> = {
  'data-dir': { path: 'dataDir' },
  'log-level': { path: 'log.level' },
  'database-url': { path: 'database.url' },
  'redis-url': { path: 'redis.url' },
  'gateway-port': { path: 'gateway.listen.port', port: true },
  'jobforge-port': { path: 'jobforge.listen.port', port: true },
  'truthcore-port': { path: 'truthcore.listen.port', port: true },
  'enroll-port': { path: 'jobforge.enrollListen.port', port: true },
  'metrics-port': { path: 'metrics.listen.port', port: true },
};

/** The configuration with the documented precedence: flags > --config file > environment > defaults. */
export function loadCliConfig(ctx: CommandContext, allowed: readonly string[]): Readonly<Config> {
  const flags: Record<string, unknown> = {};
  for (const name of allowed) {
    const spec = CONFIG_FLAG_PATHS[name];
    if (!spec) continue;
    // An empty value means "not given", as for the environment.
    const value = spec.port ? intFlag(ctx, name, 0, 65535) : stringFlag(ctx, name) || undefined;
    if (value !== undefined) flags[spec.path] = value;
  }
  try {
    return loadConfig({ env: ctx.env, flags, file: stringFlag(ctx, 'config') || undefined });
  } catch (err) {
    throw cliErrorFor(err, CONFIG_EXITS) ?? err;
  }
}

export const CONFIG_FLAGS_HELP = `  --config        JSON config file (default: $CONTROLPLANE_CONFIG); flags override it, it overrides
                  the environment (DATABASE_URL, REDIS_URL, CONTROLPLANE_*: see docs/deployment.md)`;
