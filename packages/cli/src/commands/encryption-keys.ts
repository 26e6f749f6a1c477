import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { addKekToKeyringFile, generateKeyringFile, LocalFileKeyProvider, loadConfig, type Config } from '@controlplane/platform';
import {
  DEFAULT_ROTATION_GRACE_MS,
  DEV_KEYRING_FILE,
  embeddedDatabaseDir,
  KeyRotation,
  openDatabaseFromConfig,
  openFieldEncryption,
  pkiDirOf,
  type Database,
  type Sql,
  type RotationRun,
  type RotationStep,
} from '@controlplane/server';
import { CliError, EXIT, type Command, type CommandContext } from '../command.js';
import { CONFIG_EXITS, KEYRING_EXITS, ROTATION_EXITS, cliErrorFor } from '../internal-errors.js';
import { boolFlag, intFlag, stringFlag } from '../flags.js';
import { isDatabaseUnreachable } from '../startup-errors.js';
import { isProcessAlive, readDevState } from '../connection.js';

// The keyring holds the KEKs of field encryption (docs/encryption.md). These commands share the
// `keys` prefix with the API-key commands; every one of them says "keyring" or "encryption".

const KEYRING_HELP = `  --keyring        the keyring file (default: encryption.keyringFile, else <data dir>/pki/keyring.json,
                   the one \`controlplane dev\` makes)
  --data-dir       the data directory (default: $CONTROLPLANE_DATA_DIR, else .controlplane)`;
const DATABASE_HELP = `  --database-url   the PostgreSQL the services use (default: $DATABASE_URL)`;

const INIT_USAGE = `usage: controlplane keys init [--keyring <file>] [--data-dir <dir>] [--json]

Creates the encryption keyring: a file holding one new key-encryption key (KEK), mode 0600.
Refuses to overwrite an existing keyring. Back it up apart from the database backups: a backup
holding both is a backup of the plaintext.

${KEYRING_HELP}
  --json           print the result as JSON`;

const ROTATE_USAGE = `usage: controlplane keys rotate [--kek | --data-keys] [--resume] [--keyring <file>] [--database-url <url>]
                              [--grace-ms <ms>] [--batch-size <n>] [--json]

Rotates the encryption keys while the services run. Without --kek or --data-keys, both:
  --kek         adds a new KEK to the keyring file and makes it current, then re-wraps every
                stored data key under it. Stored values do not change. The keyring file must be the
                one every service reads (they re-read it when they meet the new KEK).
  --data-keys   makes a new data key current for every tenant, waits --grace-ms for the services'
                key caches to expire, then re-encrypts every stored value in batches. A run that was
                interrupted continues from its last batch with --resume.
  --resume      continue the unfinished data-key rotation instead of starting one

${KEYRING_HELP}
${DATABASE_HELP}
  --grace-ms       how long services may keep encrypting with the old data keys: their key cache
                   lifetime plus a margin (default ${DEFAULT_ROTATION_GRACE_MS})
  --batch-size     rows per transaction (default 500)
  --json           print the result as JSON

Exit status: 0 done, 3 bad keyring or configuration, 4 database unreachable, 7 a rotation is
already in progress.`;

const STATUS_USAGE = `usage: controlplane keys status [--verify] [--keyring <file>] [--database-url <url>] [--json]

Shows the KEKs in the keyring file, how many stored data keys each wraps, and the last rotation.
  --verify   also read every stored encrypted value: how many are on an old data key, still in
             clear, or do not decrypt for their row

${KEYRING_HELP}
${DATABASE_HELP}
  --json           print the result as JSON`;

function flag(ctx: CommandContext, name: string): string | undefined {
  return stringFlag(ctx, name) || undefined;
}

function noPositionals(ctx: CommandContext, usage: string): void {
  if (ctx.positionals.length > 0) throw new CliError(`unexpected argument '${ctx.positionals[0]}'\n\n${usage}`, EXIT.USAGE);
}

function config(ctx: CommandContext): Readonly<Config> {
  try {
    return loadConfig({ env: ctx.env, flags: { 'database.url': flag(ctx, 'database-url'), dataDir: flag(ctx, 'data-dir') } });
  } catch (err) {
    throw cliErrorFor(err, CONFIG_EXITS) ?? err;
  }
}

/** `--keyring`, else `encryption.keyringFile`, else the one `controlplane dev` makes beside its CA. */
function keyringPath(ctx: CommandContext, c: Readonly<Config>): string {
  return resolve(flag(ctx, 'keyring') ?? c.encryption.keyringFile ?? join(pkiDirOf(c), DEV_KEYRING_FILE));
}

function keyringFailure(err: unknown): never {
  throw cliErrorFor(err, KEYRING_EXITS) ?? err;
}

interface Opened {
  db: Database;
  keyDb: Sql;
  close(): Promise<void>;
}

/** The embedded database of `controlplane dev`, when dev is not running on it (PGlite is one process). */
async function openEmbedded(c: Readonly<Config>): Promise<Opened> {
  const dir = embeddedDatabaseDir(c);
  if (!existsSync(join(dir, 'PG_VERSION')))
    throw new CliError(`no embedded database in ${dir}; pass --database-url (or set DATABASE_URL), or --data-dir`, EXIT.NOT_FOUND);
  const running = readDevState(c.dataDir);
  if (running && isProcessAlive(running.pid))
    throw new CliError(`controlplane dev is running on ${c.dataDir} (pid ${running.pid}); stop it first`, EXIT.CONFLICT);
  const { db } = await openDatabaseFromConfig(c, { applicationName: 'controlplane-keys', unscoped: 'system' });
  // One connection: the key store's statements run in the rotation's transactions (Database.independent).
  return { db, keyDb: db.independent!, close: () => db.close() };
}

/**
 * Two pools on the services' PostgreSQL: the rotation's batches on one, the data-key store on the
 * other (a key read must never wait for the transaction that needs the key). The embedded database
 * has one connection and its own way (openEmbedded).
 */
async function openDatabases(c: Readonly<Config>): Promise<Opened> {
  const { database } = c;
  if (database.mode !== 'postgres' || !database.url) return openEmbedded(c);
  const open = async (name: string) => {
    try {
      return (await openDatabaseFromConfig(c, { applicationName: name, unscoped: 'system', maxConnections: 2 })).db;
    } catch (err) {
      throw cliErrorFor(err, [['CP_COMPOSE_', EXIT.CONFIG]]) ?? err;
    }
  };
  const db = await open('controlplane-keys-rotate');
  const keyDb = await open('controlplane-keys-store');
  const close = async () => {
    await Promise.all([db.close(), keyDb.close()]);
  };
  try {
    const res = await db.query<{ present: boolean }>(`select to_regclass('public.data_keys') is not null as present`);
    if (!res.rows[0]?.present)
      throw new CliError(
        'the database has no data_keys table: start the services once (they apply the migrations) and try again',
        EXIT.NOT_FOUND,
      );
  } catch (err) {
    await close();
    if (err instanceof CliError) throw err;
    if (isDatabaseUnreachable(err)) throw new CliError(`cannot reach the database: ${(err as Error).message}`, EXIT.UNAVAILABLE);
    throw err;
  }
  return { db, keyDb, close };
}

function describeRun(run: RotationRun | undefined): string {
  if (!run) return 'no data-key rotation has run';
  const when = run.finishedAt ? `finished ${run.finishedAt.toISOString()}` : `updated ${run.updatedAt.toISOString()}, phase ${run.phase}`;
  return `data-key rotation ${run.id}: ${run.status}, ${when}; ${run.rowsRewritten} of ${run.rowsScanned} rows rewritten`;
}

export const keysInitCommand: Command = {
  path: ['keys', 'init'],
  usage: INIT_USAGE,
  options: { keyring: { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean', default: false } },
  async run(ctx) {
    noPositionals(ctx, INIT_USAGE);
    const file = keyringPath(ctx, config(ctx));
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const { kekId } = await generateKeyringFile(file).catch(keyringFailure);
    if (boolFlag(ctx, 'json')) ctx.stdout.write(`${JSON.stringify({ keyring: file, kekId })}\n`);
    else
      ctx.stdout.write(
        `created keyring ${file} with KEK ${kekId} (mode 0600)\n  back it up apart from the database backups; services read it at start-up\n`,
      );
    return EXIT.OK;
  },
};

export const keysRotateCommand: Command = {
  path: ['keys', 'rotate'],
  usage: ROTATE_USAGE,
  options: {
    kek: { type: 'boolean', default: false },
    'data-keys': { type: 'boolean', default: false },
    resume: { type: 'boolean', default: false },
    keyring: { type: 'string' },
    'data-dir': { type: 'string' },
    'database-url': { type: 'string' },
    'grace-ms': { type: 'string' },
    'batch-size': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
  async run(ctx) {
    noPositionals(ctx, ROTATE_USAGE);
    const resume = boolFlag(ctx, 'resume');
    const onlyKek = boolFlag(ctx, 'kek');
    const onlyData = boolFlag(ctx, 'data-keys');
    if (onlyKek && (onlyData || resume)) throw new CliError('--kek cannot be combined with --data-keys or --resume', EXIT.USAGE);
    const doKek = onlyKek || (!onlyData && !resume);
    const doData = !onlyKek;
    const graceMs = intFlag(ctx, 'grace-ms', 0, 7 * 24 * 3600_000) ?? DEFAULT_ROTATION_GRACE_MS;
    const batchSize = intFlag(ctx, 'batch-size', 1, 100_000) ?? 500;
    const c = config(ctx);
    const file = keyringPath(ctx, c);
    // Checked before anything changes: a keyring the services could not read must not get a new KEK.
    await LocalFileKeyProvider.load(file).catch(keyringFailure);
    const { db, keyDb, close } = await openDatabases(c);
    const progress = (line: string) => ctx.stderr.write(`${line}\n`);
    try {
      const out: { keyring: string; kekId?: string; rewrapped?: number; run?: RotationRun } = { keyring: file };
      const rotationFor = async () => {
        const enc = await openFieldEncryption({ keyringFile: file, keyDb }).catch(keyringFailure);
        return { enc, rotation: new KeyRotation({ db, keyring: enc.keyring, store: enc.store, batchSize, graceMs }) };
      };
      if (doData && !resume) {
        const running = await (await rotationFor()).rotation.currentRun();
        if (running)
          throw new CliError(
            `data-key rotation ${running.id} is unfinished (phase ${running.phase}); continue it with \`controlplane keys rotate --resume\``,
            EXIT.CONFLICT,
          );
      }
      if (doKek) {
        const { kekId } = await addKekToKeyringFile(file).catch(keyringFailure);
        progress(`added KEK ${kekId} to ${file} and made it current`);
        const { rotation } = await rotationFor();
        out.kekId = kekId;
        out.rewrapped = await rotation.rewrapAll();
        progress(`re-wrapped ${out.rewrapped} data keys under ${kekId}`);
      }
      if (doData) {
        const { rotation } = await rotationFor();
        if (resume) {
          const running = await rotation.currentRun();
          if (!running)
            throw new CliError(
              'no data-key rotation is in progress; start one with `controlplane keys rotate --data-keys`',
              EXIT.NOT_FOUND,
            );
          progress(`resuming data-key rotation ${running.id} at phase ${running.phase}`);
        } else {
          const run = await rotation.start('cli').catch((err: unknown) => {
            throw cliErrorFor(err, ROTATION_EXITS) ?? err;
          });
          progress(`started data-key rotation ${run.id}`);
        }
        let shown = '';
        const onStep = (s: RotationStep) => {
          const stage = s.state === 'waiting' ? 'waiting' : s.state === 'progress' ? s.run.phase : '';
          if (!stage || stage === shown) return;
          shown = stage;
          if (s.state === 'waiting')
            progress(
              `new data keys are current; waiting ${Math.ceil(s.waitMs / 1000)} s for the services' key caches to expire (--grace-ms)`,
            );
          else progress(stage === 'rotate-keys' ? 'making new data keys current' : `re-encrypting ${stage}`);
        };
        out.run = await rotation.runToCompletion({ onStep });
        progress(describeRun(out.run));
      }
      if (boolFlag(ctx, 'json')) ctx.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      else
        ctx.stdout.write(
          `key rotation done${out.kekId ? `: KEK ${out.kekId}, ${out.rewrapped} data keys re-wrapped` : ''}${out.run ? `; ${describeRun(out.run)}` : ''}\n`,
        );
      return EXIT.OK;
    } finally {
      await close();
    }
  },
};

export const keysStatusCommand: Command = {
  path: ['keys', 'status'],
  usage: STATUS_USAGE,
  options: {
    verify: { type: 'boolean', default: false },
    keyring: { type: 'string' },
    'data-dir': { type: 'string' },
    'database-url': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
  async run(ctx) {
    noPositionals(ctx, STATUS_USAGE);
    const c = config(ctx);
    const file = keyringPath(ctx, c);
    const provider = await LocalFileKeyProvider.load(file).catch(keyringFailure);
    const { db, keyDb, close } = await openDatabases(c);
    try {
      const enc = await openFieldEncryption({ keyringFile: file, keyDb });
      const rotation = new KeyRotation({ db, keyring: enc.keyring, store: enc.store });
      const summary = await enc.store.summary();
      const lastRun = await rotation.latestRun();
      const check = boolFlag(ctx, 'verify') ? await rotation.checkStoredValues() : undefined;
      const status = {
        keyring: file,
        currentKek: provider.currentKekId(),
        keks: provider.kekIds(),
        dataKeys: summary,
        lastRun: lastRun ?? null,
        ...(check ? { storedValues: check } : {}),
      };
      if (boolFlag(ctx, 'json')) {
        ctx.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      } else {
        const lines = [
          `keyring ${file}: current KEK ${status.currentKek} (${status.keks.length} KEK${status.keks.length === 1 ? '' : 's'})`,
        ];
        for (const k of summary.byKek)
          lines.push(
            `  ${k.kekId}: wraps ${k.records} stored key${k.records === 1 ? '' : 's'}${provider.kekIds().includes(k.kekId) ? '' : '  (NOT IN THE KEYRING: restore it)'}`,
          );
        lines.push(`${summary.tenants} tenants with data keys, ${summary.retired} retired data keys`, describeRun(lastRun));
        if (check) {
          lines.push(
            `stored values: ${check.values} checked, ${check.stale} on an old data key, ${check.clear} in clear, ${check.unreadable.length} unreadable`,
          );
          for (const u of check.unreadable.slice(0, 20)) lines.push(`  unreadable: ${u.table} row ${u.rowId} (${u.reason})`);
        }
        ctx.stdout.write(`${lines.join('\n')}\n`);
      }
      return check && check.unreadable.length > 0 ? EXIT.FAILURE : EXIT.OK;
    } finally {
      await close();
    }
  },
};
