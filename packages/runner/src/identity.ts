import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InternalError } from '@controlplane/contracts';
import { loadTlsMaterial, type TlsMaterial } from '@controlplane/platform';

/** The files a runner keeps in its directory. The key never leaves it. */
export const RUNNER_FILES = Object.freeze({ key: 'runner.key', cert: 'runner.crt', ca: 'ca.crt', meta: 'runner.json' });

export interface RunnerIdentityMeta {
  runnerId: string;
  tenantId: string;
  pool: string;
  spiffeId: string;
  trustDomain: string;
  /** The mTLS runner protocol endpoint. */
  runnerApiUrl: string;
  /** The enrolment endpoint (kept for reference; not used after enrolment). */
  enrollUrl: string;
  notAfter: string;
  name: string;
}

function writeAtomic(path: string, content: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

export function saveRunnerIdentity(dir: string, files: { keyPem: string; certPem: string; caPem: string; meta: RunnerIdentityMeta }): void {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Key before certificate: a crash in between leaves the old pair unusable rather than mismatched silently.
  writeAtomic(join(dir, RUNNER_FILES.key), files.keyPem, 0o600);
  writeAtomic(join(dir, RUNNER_FILES.cert), files.certPem, 0o644);
  writeAtomic(join(dir, RUNNER_FILES.ca), files.caPem, 0o644);
  writeAtomic(join(dir, RUNNER_FILES.meta), JSON.stringify(files.meta, null, 2) + '\n', 0o644);
}

export function loadRunnerIdentity(dir: string): { meta: RunnerIdentityMeta; material: TlsMaterial } {
  const metaPath = join(dir, RUNNER_FILES.meta);
  if (!existsSync(metaPath)) {
    throw new InternalError('CP_RUNNER_IDENTITY_MISSING', { params: { dir } });
  }
  let meta: RunnerIdentityMeta;
  try {
    meta = JSON.parse(readFileSync(metaPath, 'utf8')) as RunnerIdentityMeta;
  } catch (err) {
    throw new InternalError('CP_RUNNER_IDENTITY_INVALID', { params: { path: metaPath, reason: (err as Error).message }, cause: err });
  }
  const material = loadTlsMaterial({
    caFile: join(dir, RUNNER_FILES.ca),
    certFile: join(dir, RUNNER_FILES.cert),
    keyFile: join(dir, RUNNER_FILES.key),
  });
  return { meta, material };
}
