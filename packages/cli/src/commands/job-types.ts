import { readFileSync } from 'node:fs';
import { CliError, EXIT, type Command, type CommandContext } from '../command.js';
import { CLIENT_FLAGS, CLIENT_FLAGS_HELP, noPositionals, positional, withClient } from '../connection.js';
import { intFlag, stringFlag } from '../flags.js';
import { age, brief, print, table } from '../output.js';

/** A JSON Schema from a flag: inline JSON, or @file. */
function schemaFlag(ctx: CommandContext, name: string): Record<string, unknown> | null | undefined {
  const raw = stringFlag(ctx, name);
  if (raw === undefined) return undefined;
  let text = raw;
  if (raw.startsWith('@')) {
    try {
      text = readFileSync(raw.slice(1), 'utf8');
    } catch (err) {
      throw new CliError(`--${name}: cannot read ${raw.slice(1)}: ${(err as Error).message}`, EXIT.USAGE);
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CliError(`--${name} is not JSON: ${(err as Error).message}`, EXIT.USAGE);
  }
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw new CliError(`--${name} must be a JSON Schema object (or null)`, EXIT.USAGE);
  return value as Record<string, unknown>;
}

const PUT_USAGE = `usage: controlplane job-types put <type> [--input-schema <json|@file>] [--output-schema <json|@file>] [--pool <pool>] [--concurrency-limit <n>] [--json]

Creates or replaces a job type's contract (a signed request): submissions are checked against the
input schema, results against the output schema, and jobs go to runners of the pool. Jobs that
share a metadata.concurrencyKey hold at most --concurrency-limit leases at once (default 1).
${CLIENT_FLAGS_HELP}`;

export const jobTypesPutCommand: Command = {
  path: ['job-types', 'put'],
  usage: PUT_USAGE,
  options: {
    ...CLIENT_FLAGS,
    'input-schema': { type: 'string' },
    'output-schema': { type: 'string' },
    pool: { type: 'string' },
    'concurrency-limit': { type: 'string' },
  },
  async run(ctx) {
    const type = positional(ctx, 0, 'type', PUT_USAGE);
    noPositionals(ctx, PUT_USAGE, 1);
    const inputSchema = schemaFlag(ctx, 'input-schema');
    const outputSchema = schemaFlag(ctx, 'output-schema');
    const pool = stringFlag(ctx, 'pool');
    const concurrencyLimit = intFlag(ctx, 'concurrency-limit', 1, 100_000);
    return withClient(ctx, async (client) => {
      const contract = await client.jobTypes.put(type, {
        ...(inputSchema !== undefined ? { inputSchema } : {}),
        ...(outputSchema !== undefined ? { outputSchema } : {}),
        ...(pool ? { pool } : {}),
        ...(concurrencyLimit !== undefined ? { concurrencyLimit } : {}),
      });
      print(ctx, contract, () => `job type ${contract.type}: version ${contract.version}, pool ${contract.pool}\n`);
      return EXIT.OK;
    });
  },
};

const LIST_USAGE = `usage: controlplane job-types list [--json]

${CLIENT_FLAGS_HELP}`;

export const jobTypesListCommand: Command = {
  path: ['job-types', 'list'],
  usage: LIST_USAGE,
  options: { ...CLIENT_FLAGS },
  async run(ctx) {
    noPositionals(ctx, LIST_USAGE);
    return withClient(ctx, async (client) => {
      const types = await client.jobTypes.list();
      print(ctx, types, () =>
        table(
          ['type', 'version', 'pool', 'key limit', 'input schema', 'output schema', 'updated'],
          types.map((t) => [
            t.type,
            t.version,
            t.pool,
            t.concurrencyLimit ?? 1,
            brief(t.inputSchema ?? undefined, 30),
            brief(t.outputSchema ?? undefined, 30),
            age(t.updatedAt),
          ]),
        ),
      );
      return EXIT.OK;
    });
  },
};
