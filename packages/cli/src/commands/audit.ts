import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, readFileSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';
import { loadConfig, type Config } from '@controlplane/platform';
import {
  AuditChainVerifier,
  auditCheckpointDirOf,
  embeddedDatabaseDir,
  serviceTlsFiles,
  verifyAuditWithCheckpoints,
  type CheckpointVerifyResult,
  exportAudit,
  openDatabaseFromConfig,
  verifyAuditChain,
  type AuditAnchor,
  type AuditChainBreak,
  type AuditRecord,
  type AuditVerifyResult,
  type Database,
} from '@controlplane/server';
import { CliError, EXIT, type Command, type CommandContext } from '../command.js';
import { CONFIG_EXITS, cliErrorFor } from '../internal-errors.js';
import { boolFlag, stringFlag } from '../flags.js';
import { isDatabaseUnreachable } from '../startup-errors.js';

const DATABASE_HELP = `  --database-url   PostgreSQL to read (default: $DATABASE_URL, else the embedded database
                   in <data dir>/db)
  --data-dir       the data directory of the embedded database (default: $CONTROLPLANE_DATA_DIR,
                   else .controlplane); stop \`controlplane dev\` first, the embedded database
                   allows one process at a time`;

const VERIFY_USAGE = `usage: controlplane audit verify [--database-url <url>] [--data-dir <dir>] [--checkpoints <dir> | --no-checkpoints]
                               [--expect-head <seq>:<hash>] [--json]
       controlplane audit verify --file <export.jsonl> [--expect-head <seq>:<hash>] [--json]

Recomputes every link of the audit hash chain (docs/audit.md) and names the first broken one, and
checks it against the signed checkpoints the services write outside the database: the chain must
still hold the head each one names (it was not cut short or rewritten), each must be signed by a
service certificate of the CA (tls.caFile), and every checkpoint the chain records must still exist.
Exit status: 0 intact, 1 broken, 3 bad configuration, 4 database unreachable, 6 no audit log found.

${DATABASE_HELP}
  --checkpoints    the checkpoint directory (default: audit.checkpointDir, else <data dir>/audit-checkpoints)
  --no-checkpoints verify the chain alone
  --expect-head    a head reported by an earlier run; the chain must still contain it unchanged
                   (detects a chain cut short or rewritten from the start)
  --file           check an unfiltered \`controlplane audit export\` instead of a database
  --json           print the result as JSON`;

const EXPORT_USAGE = `usage: controlplane audit export [--database-url <url>] [--data-dir <dir>] [--tenant <id>]
                               [--since <date-time>] [--until <date-time>] [--out <file>]

Writes audit events as JSON Lines (one event per line, in chain order) to stdout or a file.

${DATABASE_HELP}
  --tenant         only this tenant's events
  --since          only events at or after this ISO 8601 date-time
  --until          only events before this ISO 8601 date-time
  --out            write to this file (created with mode 0600) instead of stdout

An export without --tenant, --since and --until can be checked offline with
\`controlplane audit verify --file\`.`;

// An empty value (`--tenant ""`, `DATABASE_URL=`) means "not given", as it does for the config loader.
function flag(ctx: CommandContext, name: string): string | undefined {
  return stringFlag(ctx, name) || undefined;
}

function noPositionals(ctx: CommandContext, usage: string): void {
  if (ctx.positionals.length > 0) throw new CliError(`unexpected argument '${ctx.positionals[0]}'\n\n${usage}`, EXIT.USAGE);
}

/** The database the services use, found the way they find it (flags > config file > environment). */
function auditConfig(ctx: CommandContext): Readonly<Config> {
  try {
    return loadConfig({ env: ctx.env, flags: { 'database.url': flag(ctx, 'database-url'), dataDir: flag(ctx, 'data-dir') } });
  } catch (err) {
    throw cliErrorFor(err, CONFIG_EXITS) ?? err;
  }
}

async function openDatabase(ctx: CommandContext): Promise<{ db: Database; where: string }> {
  const config = auditConfig(ctx);
  if (config.database.mode === 'embedded') {
    const dir = embeddedDatabaseDir(config);
    // PGlite would create an empty database in a missing directory; verifying that proves nothing.
    if (!existsSync(join(dir, 'PG_VERSION'))) {
      throw new CliError(
        `no embedded database in ${dir}; pass --database-url (or set DATABASE_URL), or --data-dir for another data directory`,
        EXIT.NOT_FOUND,
      );
    }
  }
  try {
    return await openDatabaseFromConfig(config, { applicationName: 'controlplane-audit', unscoped: 'system', maxConnections: 1 });
  } catch (err) {
    throw cliErrorFor(err, [['CP_COMPOSE_', EXIT.CONFIG]]) ?? err;
  }
}

async function withAuditDatabase<T>(ctx: CommandContext, fn: (db: Database, where: string) => Promise<T>): Promise<T> {
  const { db, where } = await openDatabase(ctx);
  try {
    let present: boolean | undefined;
    try {
      present = (await db.query<{ present: boolean }>(`select to_regclass('public.audit_events') is not null as present`)).rows[0]?.present;
    } catch (err) {
      if (isDatabaseUnreachable(err))
        throw new CliError(`cannot reach the database at ${where}: ${(err as Error).message}`, EXIT.UNAVAILABLE);
      if (err instanceof Error && /timeout/i.test(err.message))
        throw new CliError(`cannot reach the database at ${where}: ${err.message}`, EXIT.UNAVAILABLE);
      throw err;
    }
    if (!present)
      throw new CliError(`the database at ${where} has no audit log (table audit_events); it has not been migrated`, EXIT.NOT_FOUND);
    return await fn(db, where);
  } finally {
    await db.close();
  }
}

function parseAnchor(value: string | undefined): AuditAnchor | undefined {
  if (value === undefined) return undefined;
  const match = /^([1-9][0-9]{0,18}):([0-9a-fA-F]{64})$/.exec(value);
  if (!match?.[1] || !match[2])
    throw new CliError(`--expect-head must be <seq>:<64 hex digits>, as printed by an earlier verify`, EXIT.USAGE);
  return { seq: match[1], hash: match[2].toLowerCase() };
}

const EXPLANATIONS: Record<AuditChainBreak, string> = {
  hash_mismatch:
    "the row's content does not match its hash: it was changed after it was written (or it is not the row a signed checkpoint or --expect-head anchors: the chain was rewritten)",
  prev_hash_mismatch:
    'the row does not link to the row before it: that row was changed and re-hashed, or rows around it were removed or replaced',
  missing_seq: 'this seq is absent: a row was deleted (or the chain was cut short before an anchored head)',
  out_of_order: 'the row at this seq was written for another seq: rows were moved, renumbered or duplicated',
  checkpoint_forged: 'a checkpoint file is not what a service signed: it was altered or made by someone else',
  checkpoint_missing: 'the chain records a checkpoint at this seq whose file is gone: checkpoint files were deleted',
  checkpoints_absent: 'the checkpoint directory is gone: the head cannot be checked (pass --no-checkpoints to verify the chain alone)',
};

function describeVerdict(
  result: AuditVerifyResult & Partial<Pick<CheckpointVerifyResult, 'checkpoints'>>,
  where: string,
  dir?: string,
): string {
  if (result.ok) {
    if (result.count === 0) return `audit chain in ${where} is empty: nothing to verify\n`;
    const cp = result.checkpoints;
    return [
      `audit chain intact: ${result.count} events verified in ${where}`,
      `  head: ${result.headSeq}:${result.headHash}`,
      ...(cp && cp.count > 0
        ? [`  anchored by ${cp.count} signed checkpoint${cp.count === 1 ? '' : 's'} in ${dir} (newest at seq ${cp.newest?.seq})`]
        : cp
          ? [`  WARNING: no checkpoints in ${dir} yet: the head is not anchored outside the database`]
          : [
              '  keep the head somewhere outside the database and pass it as --expect-head next time: the chain',
              '  alone cannot show that its newest rows were removed, or that it was rewritten from the start.',
            ]),
      '',
    ].join('\n');
  }
  const { firstBad: bad } = result;
  return [
    `audit chain BROKEN at seq ${bad.seq}: ${bad.reason}`,
    `  ${EXPLANATIONS[bad.reason]}`,
    `  expected: ${bad.expected}`,
    `  actual:   ${bad.actual}`,
    `  ${result.count} events before it verified intact`,
    '',
  ].join('\n');
}

function isRecord(value: unknown): value is AuditRecord {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const r = value as Record<string, unknown>;
  const actor = r.actor as Record<string, unknown> | null | undefined;
  const resource = r.resource as Record<string, unknown> | null | undefined;
  return (
    ['seq', 'id', 'occurredAt', 'action', 'outcome', 'prevHash', 'hash'].every((k) => typeof r[k] === 'string') &&
    ['tenantId', 'correlationId', 'sourceAddress'].every((k) => r[k] === null || typeof r[k] === 'string') &&
    typeof actor === 'object' &&
    actor !== null &&
    typeof actor.kind === 'string' &&
    typeof actor.id === 'string' &&
    (resource === null || (typeof resource === 'object' && typeof resource.kind === 'string' && typeof resource.id === 'string')) &&
    typeof r.details === 'object' &&
    r.details !== null &&
    !Array.isArray(r.details)
  );
}

async function verifyFile(file: string, anchor: AuditAnchor | undefined): Promise<AuditVerifyResult> {
  const verifier = new AuditChainVerifier({ expectHead: anchor });
  const input = createReadStream(file, 'utf8');
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  try {
    for await (const line of lines) {
      lineNo += 1;
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new CliError(`${file} line ${lineNo} is not JSON; is this an audit export?`, EXIT.FAILURE);
      }
      if (!isRecord(value)) throw new CliError(`${file} line ${lineNo} is not an audit event record`, EXIT.FAILURE);
      if (verifier.push(value)) break;
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR')
      throw new CliError(`cannot read ${file}: ${(err as Error).message}`, EXIT.NOT_FOUND);
    throw err;
  } finally {
    lines.close();
    input.destroy();
  }
  return verifier.finish();
}

export const auditVerifyCommand: Command = {
  path: ['audit', 'verify'],
  usage: VERIFY_USAGE,
  options: {
    'database-url': { type: 'string' },
    'data-dir': { type: 'string' },
    'expect-head': { type: 'string' },
    file: { type: 'string' },
    checkpoints: { type: 'string' },
    'no-checkpoints': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
  async run(ctx) {
    noPositionals(ctx, VERIFY_USAGE);
    const anchor = parseAnchor(flag(ctx, 'expect-head'));
    const file = flag(ctx, 'file');
    if (file && (flag(ctx, 'database-url') || flag(ctx, 'data-dir'))) {
      throw new CliError('--file checks an export; it cannot be combined with --database-url or --data-dir', EXIT.USAGE);
    }
    let trust: ReturnType<typeof checkpointTrust> | undefined;
    const { result, where } = file
      ? { result: await verifyFile(file, anchor), where: file }
      : await withAuditDatabase(ctx, async (db, where) => {
          trust = boolFlag(ctx, 'no-checkpoints') ? undefined : checkpointTrust(ctx);
          if (!trust) return { result: await verifyAuditChain(db, anchor ? { expectHead: anchor } : {}), where };
          const withCheckpoints = await verifyAuditWithCheckpoints(db, trust);
          // An --expect-head given as well is checked too.
          if (withCheckpoints.ok && anchor) {
            const headed = await verifyAuditChain(db, { expectHead: anchor });
            if (!headed.ok) return { result: { ...headed, checkpoints: withCheckpoints.checkpoints }, where };
          }
          return { result: withCheckpoints, where };
        });
    ctx.stdout.write(
      boolFlag(ctx, 'json')
        ? `${JSON.stringify(result, null, 2)}\n`
        : describeVerdict(result, where, (trust as { dir: string } | undefined)?.dir),
    );
    return result.ok ? EXIT.OK : EXIT.FAILURE;
  },
};

/** The checkpoint directory and the CA its signers' certificates must come from. */
function checkpointTrust(ctx: CommandContext): { dir: string; caPems: string[]; trustDomain: string } {
  const config = auditConfig(ctx);
  const dir = resolve(flag(ctx, 'checkpoints') ?? auditCheckpointDirOf(config));
  const caFile = serviceTlsFiles(config, 'gateway').caFile;
  let caPems: string[];
  try {
    caPems = readFileSync(caFile, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  } catch (err) {
    throw new CliError(
      `cannot check the audit checkpoints: the CA certificate ${caFile} cannot be read (${(err as Error).message}); set tls.caFile, or pass --no-checkpoints`,
      EXIT.CONFIG,
    );
  }
  if (caPems.length === 0) throw new CliError(`${caFile} holds no certificate`, EXIT.CONFIG);
  return { dir, caPems, trustDomain: config.trustDomain };
}

function parseInstant(ctx: CommandContext, name: string): Date | undefined {
  const value = flag(ctx, name);
  if (value === undefined) return undefined;
  // Date.parse accepts much more than ISO 8601; an ambiguous local date must not silently shift.
  const date = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2}))?$/.test(value) ? new Date(value) : new Date(NaN);
  if (Number.isNaN(date.getTime()))
    throw new CliError(`--${name} must be an ISO 8601 date or date-time with a zone, e.g. 2024-05-01 or 2024-05-01T12:00:00Z`, EXIT.USAGE);
  return date;
}

export const auditExportCommand: Command = {
  path: ['audit', 'export'],
  usage: EXPORT_USAGE,
  options: {
    'database-url': { type: 'string' },
    'data-dir': { type: 'string' },
    tenant: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    out: { type: 'string' },
  },
  async run(ctx) {
    noPositionals(ctx, EXPORT_USAGE);
    const filter = {
      tenantId: flag(ctx, 'tenant'),
      since: parseInstant(ctx, 'since'),
      until: parseInstant(ctx, 'until'),
    };
    const out = flag(ctx, 'out');
    return withAuditDatabase(ctx, async (db) => {
      if (!out) {
        await exportAudit(db, ctx.stdout, filter);
        return EXIT.OK;
      }
      // Details are redacted, but who did what to which resource is still for administrators only.
      const file = createWriteStream(out, { mode: 0o600 });
      // Kept to tell the file's errors from the database's; without a listener one would crash the process.
      let fileError: Error | undefined;
      file.on('error', (err) => (fileError ??= err));
      let result;
      try {
        await once(file, 'open');
        // mode applies only to a new file; an existing one keeps its permissions otherwise.
        await chmod(out, 0o600).catch((err: Error) => {
          fileError ??= err;
          throw err;
        });
        result = await exportAudit(db, file, filter);
        file.end();
        await finished(file);
      } catch (err) {
        file.destroy();
        if (fileError) throw new CliError(`cannot write ${out}: ${fileError.message}`, EXIT.FAILURE);
        throw err;
      }
      const range = result.count > 0 ? ` (seq ${result.firstSeq}–${result.lastSeq})` : '';
      ctx.stderr.write(`exported ${result.count} audit events${range} to ${out}\n`);
      return EXIT.OK;
    });
  },
};
