import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalFileKeyProvider, type Config } from '@controlplane/platform';
import { auditCheckpointDirOf, DEV_KEYRING_FILE, pkiDirOf, readCheckpoints, serviceTlsFiles, STORED_IN_CLEAR } from '@controlplane/server';

/** One line of `controlplane doctor` (the same shape as doctor.ts's). */
export interface AtRestCheck {
  name: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  detail: string;
  fix?: string;
}

/** Whether payloads are encrypted at rest: the keyring the services would use, or the explicit choice not to. */
export async function encryptionCheck(config: Readonly<Config>): Promise<AtRestCheck> {
  const name = 'encryption at rest';
  if (config.encryption.enabled === false) {
    return {
      name,
      status: 'warn',
      detail: STORED_IN_CLEAR,
      fix: 'remove encryption.enabled: false and set encryption.keyringFile; then `controlplane keys rotate --data-keys` encrypts what is stored in clear',
    };
  }
  const file = config.encryption.keyringFile ?? join(pkiDirOf(config), DEV_KEYRING_FILE);
  if (!existsSync(file)) {
    return config.encryption.keyringFile
      ? { name, status: 'fail', detail: `the keyring ${file} does not exist`, fix: `run \`controlplane keys init --keyring ${file}\`` }
      : {
          name,
          status: 'warn',
          detail: `no keyring yet (${file}): \`controlplane dev\` makes it at its first start; \`controlplane jobforge|truthcore\` refuse to start without encryption.keyringFile`,
          fix: 'start `controlplane dev`, or run `controlplane keys init --keyring <file>` and set encryption.keyringFile',
        };
  }
  try {
    const provider = await LocalFileKeyProvider.load(file);
    return { name, status: 'ok', detail: `payloads encrypted with the keyring ${file} (current KEK ${provider.currentKekId()})` };
  } catch (err) {
    return { name, status: 'fail', detail: (err as Error).message, fix: `correct or replace the keyring ${file} (mode 0600)` };
  }
}

/**
 * Whether the audit head is anchored outside the database: the checkpoint directory exists, can be
 * written, and holds genuine, recent checkpoints.
 */
export function auditCheckpointCheck(config: Readonly<Config>): AtRestCheck {
  const name = 'audit checkpoints';
  const dir = auditCheckpointDirOf(config);
  if (!existsSync(dir)) {
    return {
      name,
      status: 'warn',
      detail: `${dir} does not exist: the services make it at start; until then the audit head is not anchored outside the database`,
      fix: 'start the services, or set audit.checkpointDir to where they write',
    };
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    return {
      name,
      status: 'fail',
      detail: `${dir} cannot be written: the services refuse to start (or report degraded) and the audit head is not anchored`,
      fix: `make ${dir} writable by the services' user (mode 0700), or set audit.checkpointDir`,
    };
  }
  let caPems: string[];
  try {
    caPems =
      readFileSync(serviceTlsFiles(config, 'gateway').caFile, 'utf8').match(
        /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g,
      ) ?? [];
  } catch {
    return { name, status: 'skip', detail: `${dir} is writable; without the CA certificate its checkpoints cannot be checked` };
  }
  const readings = readCheckpoints(dir, { caPems, trustDomain: config.trustDomain });
  const bad = readings.find((r) => !r.ok);
  if (bad && !bad.ok) {
    return {
      name,
      status: 'fail',
      detail: `${bad.file}: ${bad.problem}`,
      fix: 'run `controlplane audit verify`: a checkpoint was altered or forged',
    };
  }
  const newest = readings
    .flatMap((r) => (r.ok ? [r.checkpoint] : []))
    .reduce<{ seq: string; writtenAt: string } | undefined>((a, c) => (!a || BigInt(c.seq) > BigInt(a.seq) ? c : a), undefined);
  if (!newest)
    return {
      name,
      status: 'warn',
      detail: `${dir} holds no checkpoint yet`,
      fix: 'start the services: they write one at an interval and on shutdown',
    };
  return {
    name,
    status: 'ok',
    detail: `${readings.length} signed checkpoint${readings.length === 1 ? '' : 's'} in ${dir}; the newest at seq ${newest.seq}, written ${newest.writtenAt}`,
  };
}
