import { resolve } from 'node:path';
import { isInternalError, keyFileFrom, writeKeyFile } from '@controlplane/client';
import { ROLES, type Role } from '@controlplane/contracts';
import { CliError, EXIT, type Command } from '../command.js';
import { CLIENT_FLAGS, CLIENT_FLAGS_HELP, noPositionals, positional, withClient } from '../connection.js';
import { intFlag, requiredFlag, stringFlag } from '../flags.js';
import { age, fields, print, table } from '../output.js';

const CREATE_USAGE = `usage: controlplane keys create --name <name> --role admin|operator|submitter|viewer [--expires-at <date-time>]
                              [--tenant <id>] [--out <file>] [--json]

Creates an API key (a signed request). The key and its signing private key are shown once: with
--out they are written to a key file (mode 0600) usable as --key-file, and not printed.
  --tenant   platform administrators only: create the key in another tenant
${CLIENT_FLAGS_HELP}`;

export const keysCreateCommand: Command = {
  path: ['keys', 'create'],
  usage: CREATE_USAGE,
  options: {
    ...CLIENT_FLAGS,
    name: { type: 'string' },
    role: { type: 'string' },
    'expires-at': { type: 'string' },
    tenant: { type: 'string' },
    out: { type: 'string' },
  },
  async run(ctx) {
    noPositionals(ctx, CREATE_USAGE);
    const name = requiredFlag(ctx, 'name');
    const role = requiredFlag(ctx, 'role') as Role;
    if (!ROLES.includes(role)) throw new CliError(`--role must be one of ${ROLES.join(', ')}`, EXIT.USAGE);
    const expiresAt = stringFlag(ctx, 'expires-at');
    const tenantId = stringFlag(ctx, 'tenant');
    const out = stringFlag(ctx, 'out');
    return withClient(ctx, async (client) => {
      const created = await client.apiKeys.create({ name, role, ...(expiresAt ? { expiresAt } : {}), ...(tenantId ? { tenantId } : {}) });
      if (out) {
        try {
          writeKeyFile(resolve(out), keyFileFrom(created));
        } catch (err) {
          const why = isInternalError(err, 'CP_KEYFILE_') ? err.message : `cannot write ${out}: ${(err as Error).message}`;
          // The key exists now but its secret is lost with this process: say which one to revoke.
          throw new CliError(
            `${why}\n  key ${created.id} was created but not saved; revoke it with \`controlplane keys revoke ${created.id}\``,
            EXIT.FAILURE,
          );
        }
        const { key: _key, signingPrivateKey: _private, ...shown } = created;
        print(
          ctx,
          { ...shown, keyFile: resolve(out) },
          () =>
            `created ${role} key ${created.id} (${created.name}) in tenant ${created.tenantId}\n  saved to ${resolve(out)} (mode 0600); use it with --key-file\n`,
        );
        return EXIT.OK;
      }
      print(
        ctx,
        created,
        () =>
          fields([
            ['id', created.id],
            ['tenant', created.tenantId],
            ['role', created.role],
            ['name', created.name],
            ['expires', created.expiresAt],
            ['key', created.key],
            ['signing key id', created.signingKeyId],
          ]) +
          (created.signingPrivateKey ? `signing private key (for signed requests):\n${created.signingPrivateKey}` : '') +
          'The key and its signing key are shown only now. Use --out <file> to save them as a key file.\n',
      );
      return EXIT.OK;
    });
  },
};

const LIST_USAGE = `usage: controlplane keys list [--tenant <id>] [--limit <n>] [--json]

${CLIENT_FLAGS_HELP}`;

export const keysListCommand: Command = {
  path: ['keys', 'list'],
  usage: LIST_USAGE,
  options: { ...CLIENT_FLAGS, tenant: { type: 'string' }, limit: { type: 'string' } },
  async run(ctx) {
    noPositionals(ctx, LIST_USAGE);
    const tenant = stringFlag(ctx, 'tenant');
    const limit = intFlag(ctx, 'limit', 1, 500);
    return withClient(ctx, async (client) => {
      const keys = await client.apiKeys.list({ ...(tenant ? { tenant } : {}), ...(limit !== undefined ? { limit } : {}) });
      print(ctx, keys, () =>
        table(
          ['id', 'name', 'role', 'prefix', 'state', 'last used', 'created'],
          keys.map((k) => [
            k.id,
            k.name,
            k.role,
            k.prefix,
            k.revokedAt ? 'revoked' : k.expiresAt && Date.parse(k.expiresAt) <= Date.now() ? 'expired' : 'active',
            age(k.lastUsedAt),
            age(k.createdAt),
          ]),
        ),
      );
      return EXIT.OK;
    });
  },
};

const REVOKE_USAGE = `usage: controlplane keys revoke <id> [--json]

Revokes an API key at once on every gateway replica (a signed request).
${CLIENT_FLAGS_HELP}`;

export const keysRevokeCommand: Command = {
  path: ['keys', 'revoke'],
  usage: REVOKE_USAGE,
  options: { ...CLIENT_FLAGS },
  async run(ctx) {
    const id = positional(ctx, 0, 'id', REVOKE_USAGE);
    noPositionals(ctx, REVOKE_USAGE, 1);
    return withClient(ctx, async (client) => {
      const key = await client.apiKeys.revoke(id);
      print(ctx, key, () => `revoked key ${key.id} (${key.name}) at ${key.revokedAt}\n`);
      return EXIT.OK;
    });
  },
};
