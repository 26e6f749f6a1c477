import { createPrivateKey, createPublicKey, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { canonicalHash, canonicalJson } from '@controlplane/contracts';

/**
 * Signatures that make job provenance provable: JobForge signs each job envelope it hands out,
 * and the runner signs each outcome with its certificate key. Both sign the canonical JSON of a
 * small, fixed set of fields (with a domain tag, so one kind of signature can never be passed off
 * as the other), so any implementation that can produce canonical JSON can verify them.
 */

export interface EnvelopeSignatureFields {
  jobId: string;
  tenantId: string;
  type: string;
  attempt: number;
  leaseId: string;
  fencingToken: string;
  /** SHA-256 (hex) of the canonical JSON of the job payload. */
  payloadDigest: string;
  deadline: string;
}

export interface ResultSignatureFields {
  jobId: string;
  tenantId: string;
  attempt: number;
  fencingToken: string;
  outcome: 'completed' | 'failed';
  /** SHA-256 (hex) of the canonical JSON of the result data (completed) or error (failed). */
  resultDigest: string;
}

const ENVELOPE_DOMAIN = 'controlplane/job-envelope/v1';
const RESULT_DOMAIN = 'controlplane/job-result/v1';
const SIG_PREFIX = 'v1.';

/** SHA-256 (hex) of a result value's canonical JSON; `undefined` hashes as `null`. */
export function resultDigest(value: unknown): string {
  return canonicalHash(value === undefined ? null : value);
}

function keyOf(pem: string | KeyObject, kind: 'private' | 'public'): KeyObject {
  if (typeof pem !== 'string') return pem;
  if (kind === 'private') return createPrivateKey(pem);
  return pem.includes('BEGIN CERTIFICATE') ? new X509Certificate(pem).publicKey : createPublicKey(pem);
}

// Ed25519 signs the message itself; ECDSA signs its SHA-256 digest.
function digestFor(key: KeyObject): string | null {
  return key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
}

function signFields(domain: string, fields: object, key: string | KeyObject): string {
  const k = keyOf(key, 'private');
  const data = Buffer.from(canonicalJson({ domain, ...fields }), 'utf8');
  return SIG_PREFIX + sign(digestFor(k), data, k).toString('base64url');
}

function verifyFields(domain: string, fields: object, keyOrCert: string | KeyObject, signature: string): boolean {
  if (typeof signature !== 'string' || !signature.startsWith(SIG_PREFIX) || signature.length > 400) return false;
  try {
    const k = keyOf(keyOrCert, 'public');
    const data = Buffer.from(canonicalJson({ domain, ...fields }), 'utf8');
    return verify(digestFor(k), data, k, Buffer.from(signature.slice(SIG_PREFIX.length), 'base64url'));
  } catch {
    return false;
  }
}

export function signJobEnvelope(fields: EnvelopeSignatureFields, privateKey: string | KeyObject): string {
  return signFields(ENVELOPE_DOMAIN, fields, privateKey);
}

/** `keyOrCert`: JobForge's certificate (PEM) or public key. */
export function verifyJobEnvelope(fields: EnvelopeSignatureFields, keyOrCert: string | KeyObject, signature: string): boolean {
  return verifyFields(ENVELOPE_DOMAIN, fields, keyOrCert, signature);
}

/**
 * One signature over the envelopes of a whole claim: JobForge hands out jobs in batches, and
 * signing the batch keeps the cost per job small. The runner verifies the batch before running any.
 */
export function signJobEnvelopes(fields: readonly EnvelopeSignatureFields[], privateKey: string | KeyObject): string {
  return signFields(ENVELOPE_DOMAIN, { batch: fields }, privateKey);
}

export function verifyJobEnvelopes(fields: readonly EnvelopeSignatureFields[], keyOrCert: string | KeyObject, signature: string): boolean {
  return verifyFields(ENVELOPE_DOMAIN, { batch: fields }, keyOrCert, signature);
}

export function signJobResult(fields: ResultSignatureFields, privateKey: string | KeyObject): string {
  return signFields(RESULT_DOMAIN, fields, privateKey);
}

/** `keyOrCert`: the runner's certificate (PEM) or public key. */
export function verifyJobResult(fields: ResultSignatureFields, keyOrCert: string | KeyObject, signature: string): boolean {
  return verifyFields(RESULT_DOMAIN, fields, keyOrCert, signature);
}
