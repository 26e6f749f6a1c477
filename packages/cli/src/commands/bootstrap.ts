import { resolve } from 'node:path';
import { isInternalError, writeKeyFile } from '@controlplane/client';
import { isTenantId } from '@controlplane/contracts';
import { createApiKey, ensureTenant, migrate, openDatabaseFromConfig, revokeApiKey, SYSTEM_TENANT } from '@controlplane/server';
import { keyFileOf } from '../key-file-of.js';
import { CliError, EXIT, type Command } from '../command.js';
import { isProcessAlive, readDevState } from '../connection.js';
import { requiredFlag, stringFlag } from '../flags.js';
import { CONFIG_FLAGS_HELP, loadCliConfig } from '../load-config.js';
import { startupError } from '../startup-errors.js';

const USAGE = `usage: controlplane bootstrap --out <key file> [--tenant <id>] [--tenant-name <name>] [--name <key name>] [--config <file>]

Creates the first administrator key of a deployment straight in the database (which is why it
needs the database settings, not a gateway), and writes it with its signing key to a key file
(mode 0600) for the client commands' --key-file. Applies pending migrations first.
  --tenant        without it: a platform administrator (tenant '${SYSTEM_TENANT}'), who can create tenants
                  and their first admins (\`controlplane keys create --tenant <id> --role admin\`);
                  with it: an administrator of that tenant, created when missing
  --tenant-name   display name of a tenant that is created (default: its id)
${CONFIG_FLAGS_HELP}
  --database-url  PostgreSQL to use (default: database.url / DATABASE_URL)`;

export const bootstrapCommand: Command = {
  path: ['bootstrap'],
  usage: USAGE,
  options: {
    config: { type: 'string' },
    'database-url': { type: 'string' },
    'data-dir': { type: 'string' },
    tenant: { type: 'string' },
    'tenant-name': { type: 'string' },
    name: { type: 'string' },
    out: { type: 'string' },
  },
  async run(ctx) {
    if (ctx.positionals.length > 0) throw new CliError(`unexpected argument '${ctx.positionals[0]}'\n\n${USAGE}`, EXIT.USAGE);
    const out = resolve(requiredFlag(ctx, 'out'));
    const tenantId = stringFlag(ctx, 'tenant') ?? SYSTEM_TENANT;
    if (!isTenantId(tenantId)) throw new CliError('--tenant must be 1-63 characters of a-z, 0-9 and -', EXIT.USAGE);
    const config = loadCliConfig(ctx, ['database-url', 'data-dir']);
    if (config.database.mode === 'embedded') {
      const dev = readDevState(config.dataDir);
      if (dev && isProcessAlive(dev.pid))
        throw new CliError(
          `controlplane dev (pid ${dev.pid}) has the embedded database open; it allows one process. Use its admin key, or stop it first`,
          EXIT.CONFLICT,
        );
    }
    let opened;
    try {
      opened = await openDatabaseFromConfig(config, { applicationName: 'controlplane-bootstrap', unscoped: 'system' });
    } catch (err) {
      throw startupError(err);
    }
    try {
      await migrate(opened.db);
      if (tenantId !== SYSTEM_TENANT) await ensureTenant(opened.db, { id: tenantId, name: stringFlag(ctx, 'tenant-name') ?? tenantId });
      const k = await createApiKey(opened.db, {
        tenantId,
        role: 'admin',
        name: stringFlag(ctx, 'name') ?? 'bootstrap admin',
        createdBy: 'bootstrap',
      });
      try {
        writeKeyFile(out, keyFileOf(k));
      } catch (err) {
        // Nobody will ever see this key's secret: take it out of service at once.
        await revokeApiKey(opened.db, null, k.id);
        throw new CliError(
          isInternalError(err, 'CP_KEYFILE_') ? err.message : `cannot write ${out}: ${(err as Error).message}`,
          EXIT.CONFLICT,
        );
      }
      ctx.stdout.write(
        `created admin key ${k.id} of tenant ${k.tenantId}${tenantId === SYSTEM_TENANT ? ' (platform administrator)' : ''}\n  saved with its signing key to ${out} (mode 0600)\n`,
      );
      return EXIT.OK;
    } catch (err) {
      throw startupError(err);
    } finally {
      await opened.db.close();
    }
  },
};
