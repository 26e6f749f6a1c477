import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LocalFileKeyProvider, type Config } from '@controlplane/platform';
import { DEV_KEYRING_FILE, pkiDirOf, STORED_IN_CLEAR } from '@controlplane/server';

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
