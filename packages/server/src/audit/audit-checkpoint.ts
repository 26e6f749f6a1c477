import { X509Certificate, createPrivateKey, sign, verify, type KeyObject } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '@controlplane/contracts';
import { principalFromCertificate } from '@controlplane/platform';

/** The `format` of a checkpoint file; a reader refuses any other. */
export const AUDIT_CHECKPOINT_FORMAT = 'controlplane/audit-checkpoint/v1';

/** The action of the audit event a service appends after writing a checkpoint file. */
export const AUDIT_CHECKPOINT_ACTION = 'audit.checkpoint';

/** What a checkpoint says and its signer signs (the canonical JSON of these fields). */
export interface AuditCheckpointBody {
  format: typeof AUDIT_CHECKPOINT_FORMAT;
  /** The chain's head when it was written: its seq (decimal string) and hash. */
  seq: string;
  hash: string;
  /** ISO 8601, when the service wrote it. */
  writtenAt: string;
  /** The service's SPIFFE id, as in its certificate. */
  signer: string;
}

/** A checkpoint file: the body, the signer's certificate and the signature (base64) over the body. */
export interface AuditCheckpoint extends AuditCheckpointBody {
  certificatePem: string;
  signature: string;
}

/** The service key and certificate that sign checkpoints (its mTLS material). */
export interface CheckpointSigner {
  keyPem: string;
  certPem: string;
  trustDomain: string;
}

const FILE_PATTERN = /^checkpoint-(\d{20})-([a-z0-9-]{1,64})\.json$/;

/** `checkpoint-<seq, 20 digits>-<service>.json`: names sort in chain order. */
export function checkpointFileName(seq: string, service: string): string {
  return `checkpoint-${seq.padStart(20, '0')}-${service}.json`;
}

function algorithmOf(key: KeyObject): string | null {
  // Ed25519/Ed448 sign the message itself; EC and RSA keys sign its SHA-256.
  return key.asymmetricKeyType === 'ed25519' || key.asymmetricKeyType === 'ed448' ? null : 'sha256';
}

function signedBytes(body: AuditCheckpointBody): Buffer {
  const { format, seq, hash, writtenAt, signer } = body;
  return Buffer.from(canonicalJson({ format, seq, hash, writtenAt, signer }), 'utf8');
}

/** A checkpoint of `head`, signed with the service's key. */
export function signCheckpoint(head: { seq: string; hash: string }, signer: CheckpointSigner, now = new Date()): AuditCheckpoint {
  const certificate = new X509Certificate(signer.certPem);
  const spiffeId = principalFromCertificate(certificate, { trustDomain: signer.trustDomain }).spiffeId;
  const body: AuditCheckpointBody = {
    format: AUDIT_CHECKPOINT_FORMAT,
    seq: head.seq,
    hash: head.hash,
    writtenAt: now.toISOString(),
    signer: spiffeId,
  };
  const key = createPrivateKey(signer.keyPem);
  const signature = sign(algorithmOf(key), signedBytes(body), key).toString('base64');
  return { ...body, certificatePem: certificate.toString(), signature };
}

/**
 * Writes a checkpoint atomically (a temporary file renamed into place), mode 0600, in a directory
 * made mode 0700 if missing. Returns the file name.
 */
export function writeCheckpointFile(dir: string, checkpoint: AuditCheckpoint, service: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const name = checkpointFileName(checkpoint.seq, service);
  const tmp = join(dir, `.${name}.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(checkpoint, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, join(dir, name));
  return name;
}

/** Throws unless a file can be created in `dir` (made if missing): checked at start, so a service fails closed. */
export function assertCheckpointDirWritable(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const probe = join(dir, `.write-check.${process.pid}`);
  writeFileSync(probe, '', { mode: 0o600 });
  rmSync(probe, { force: true });
}

/** Keeps the newest `keep` checkpoint files of `service`, removing older ones. */
export function pruneCheckpoints(dir: string, service: string, keep: number): void {
  const mine = readdirSync(dir)
    .filter((f) => FILE_PATTERN.exec(f)?.[2] === service)
    .sort();
  for (const f of mine.slice(0, Math.max(0, mine.length - keep))) rmSync(join(dir, f), { force: true });
}

export type CheckpointReading = { file: string; ok: true; checkpoint: AuditCheckpoint } | { file: string; ok: false; problem: string };

/**
 * Every checkpoint file of `dir`, each verified: well formed, signed by the key of the certificate it
 * carries, and that certificate a service certificate of `trustDomain` issued by one of `caPems`.
 */
export function readCheckpoints(dir: string, trust: { caPems: readonly string[]; trustDomain: string }): CheckpointReading[] {
  const cas = trust.caPems.map((pem) => new X509Certificate(pem));
  return readdirSync(dir)
    .filter((f) => FILE_PATTERN.test(f))
    .sort()
    .map((file) => {
      const problem = checkProblem(join(dir, file), cas, trust.trustDomain);
      return typeof problem === 'string' ? { file, ok: false as const, problem } : { file, ok: true as const, checkpoint: problem };
    });
}

function checkProblem(path: string, cas: readonly X509Certificate[], trustDomain: string): string | AuditCheckpoint {
  let value: Partial<AuditCheckpoint>;
  try {
    if (!statSync(path).isFile()) return 'not a file';
    value = JSON.parse(readFileSync(path, 'utf8')) as Partial<AuditCheckpoint>;
  } catch (err) {
    return `unreadable (${(err as Error).message})`;
  }
  const fields = ['format', 'seq', 'hash', 'writtenAt', 'signer', 'certificatePem', 'signature'] as const;
  if (value === null || typeof value !== 'object' || fields.some((f) => typeof value[f] !== 'string')) return 'not a checkpoint';
  const c = value as AuditCheckpoint;
  if (c.format !== AUDIT_CHECKPOINT_FORMAT) return `unknown format ${JSON.stringify(c.format).slice(0, 80)}`;
  if (!/^[1-9][0-9]{0,18}$/.test(c.seq) || !/^[0-9a-f]{64}$/.test(c.hash)) return 'seq or hash malformed';
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(c.certificatePem);
  } catch {
    return 'its certificate cannot be read';
  }
  if (!cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) return 'its certificate was not issued by the CA';
  try {
    const principal = principalFromCertificate(cert, { trustDomain });
    if (principal.kind !== 'service' || principal.spiffeId !== c.signer) return 'its signer is not the service its certificate names';
  } catch {
    return 'its certificate is not a service certificate of the trust domain';
  }
  let good = false;
  try {
    good = verify(algorithmOf(cert.publicKey), signedBytes(c), cert.publicKey, Buffer.from(c.signature, 'base64'));
  } catch {
    good = false;
  }
  return good ? c : 'the signature does not match its content';
}
