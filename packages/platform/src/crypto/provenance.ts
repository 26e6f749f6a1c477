import { createPrivateKey, createPublicKey, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { canonicalHash, canonicalJson, sha256Hex } from '@controlplane/contracts';

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
  return value === undefined || value === null ? NULL_DIGEST : canonicalHash(value);
}

// Jobs without output (no-op and side-effect jobs) are common; their digest is a constant.
const NULL_DIGEST = canonicalHash(null);

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

/**
 * `keyOrCert`: the runner's certificate (PEM) or public key. Accepts both a single signature
 * (`v1.`) and a batch signature with its Merkle proof (`m1.`, see signJobResults).
 */
export function verifyJobResult(fields: ResultSignatureFields, keyOrCert: string | KeyObject, signature: string): boolean {
  if (typeof signature === 'string' && signature.startsWith(MERKLE_PREFIX)) return verifyMerkleResult(fields, keyOrCert, signature);
  return verifyFields(RESULT_DOMAIN, fields, keyOrCert, signature);
}

// ---------------------------------------------------------------- batched result signatures
//
// A runner reporting many outcomes at once signs them with ONE signature: the leaves are the
// SHA-256 of each outcome's canonical fields, the runner signs the Merkle root, and each outcome
// carries the root signature plus its path to the root. Each outcome stays provable on its own
// (its proof is a few hundred bytes), while signing and verifying cost one operation per batch.

const MERKLE_PREFIX = 'm1.';
const RESULT_BATCH_DOMAIN = 'controlplane/job-result-batch/v1';
const MAX_MERKLE_DEPTH = 20;

function sha256Bytes(data: string | Buffer): Buffer {
  return Buffer.from(sha256Hex(data), 'hex');
}

function leafHash(fields: ResultSignatureFields): Buffer {
  // The 0x00 prefix and the UTF-8 of the canonical JSON, in one string.
  return sha256Bytes(`\u0000${canonicalJson({ domain: RESULT_DOMAIN, ...fields })}`);
}

function nodeHash(left: Buffer, right: Buffer): Buffer {
  const input = Buffer.allocUnsafe(1 + left.length + right.length);
  input[0] = 1;
  left.copy(input, 1);
  right.copy(input, 1 + left.length);
  return sha256Bytes(input);
}

/** Signs a batch of outcomes; returns one `m1.` signature per item, in order. */
export function signJobResults(items: readonly ResultSignatureFields[], privateKey: string | KeyObject): string[] {
  if (items.length === 0) return [];
  let level = items.map(leafHash);
  const paths: Buffer[][] = items.map(() => []);
  const positions = items.map((_, i) => i);
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? nodeHash(level[i]!, level[i + 1]!) : level[i]!);
    items.forEach((_, item) => {
      const pos = positions[item]!;
      const sibling = pos ^ 1;
      // An odd node out is promoted unchanged; its path records nothing for this level.
      paths[item]!.push(sibling < level.length ? level[sibling]! : Buffer.alloc(0));
      positions[item] = pos >> 1;
    });
    level = next;
  }
  const root = level[0]!;
  const k = keyOf(privateKey, 'private');
  const rootSig = sign(
    digestFor(k),
    Buffer.from(canonicalJson({ domain: RESULT_BATCH_DOMAIN, root: root.toString('hex') }), 'utf8'),
    k,
  ).toString('base64url');
  return items.map((_, i) => `${MERKLE_PREFIX}${rootSig}.${i}.${paths[i]!.map((h) => h.toString('base64url')).join('~')}`);
}

/**
 * What is known, per key object (a key's identity is the object the caller holds), about the
 * batch signatures it has checked. Verifying the root signature for every item of a batch would
 * undo the saving of signing it once; hashing every item's whole path would cost a batch of n
 * items n·log n hashes. So a verified root's tree is remembered, node by node, as far as its
 * items' paths have revealed it: the next item's path is hashed only until it reaches a node
 * already known, and above that its siblings are compared with the known ones (each item's own
 * proof is still checked in full: a stored proof must verify on its own later). Roots whose
 * signature failed are remembered too, so that repeating a bad item costs no signature check.
 */
interface VerifiedTree {
  rootHex: string;
  /** `${level}:${position}` → hash (level 0: the leaves). */
  nodes: Map<string, Buffer>;
}

interface KeyVerdicts {
  /** By root signature: one signature can only ever be valid for one root. */
  trees: Map<string, VerifiedTree>;
  /** `${rootHex}.${rootSig}` of signatures that did not verify. */
  refused: Set<string>;
}

const verdicts = new WeakMap<KeyObject, KeyVerdicts>();
const MAX_TREES_PER_KEY = 64;
const MAX_REFUSED_PER_KEY = 1024;

function verifyMerkleResult(fields: ResultSignatureFields, keyOrCert: string | KeyObject, signature: string): boolean {
  const parts = signature.slice(MERKLE_PREFIX.length).split('.');
  if (parts.length !== 3 || signature.length > 4096) return false;
  const [rootSig, indexText, pathText] = parts as [string, string, string];
  if (!/^\d{1,7}$/.test(indexText)) return false;
  const path = pathText === '' ? [] : pathText.split('~').map((h) => Buffer.from(h, 'base64url'));
  if (path.length > MAX_MERKLE_DEPTH || path.some((h) => h.length !== 0 && h.length !== 32)) return false;

  const known = typeof keyOrCert === 'string' ? undefined : verdicts.get(keyOrCert);
  const tree = known?.trees.get(rootSig);
  const walked: Array<[string, Buffer]> = [];
  let pos = Number(indexText);
  let node = leafHash(fields);
  for (let level = 0; level < path.length; level++) {
    const sibling = path[level]!;
    const here = `${level}:${pos}`;
    const knownNode = tree?.nodes.get(here);
    if (knownNode && !knownNode.equals(node)) return false;
    walked.push([here, node]);
    if (sibling.length === 32) {
      const there = `${level}:${pos ^ 1}`;
      const knownSibling = tree?.nodes.get(there);
      if (knownSibling && !knownSibling.equals(sibling)) return false;
      walked.push([there, sibling]);
      // Both children known and equal to the tree's: so is their parent, which needs no hashing.
      const knownParent = knownNode && knownSibling ? tree!.nodes.get(`${level + 1}:${pos >> 1}`) : undefined;
      node = knownParent ?? (pos & 1 ? nodeHash(sibling, node) : nodeHash(node, sibling));
    }
    pos >>= 1;
  }
  walked.push([`${path.length}:${pos}`, node]);
  const rootHex = node.toString('hex');
  // A signature already verified for another root cannot be valid for this one.
  if (tree) return tree.rootHex === rootHex && remember(tree, walked);
  const refusedKey = `${rootHex}.${rootSig}`;
  if (known?.refused.has(refusedKey)) return false;
  let ok: boolean;
  try {
    const k = keyOf(keyOrCert, 'public');
    ok = verify(
      digestFor(k),
      Buffer.from(canonicalJson({ domain: RESULT_BATCH_DOMAIN, root: rootHex }), 'utf8'),
      k,
      Buffer.from(rootSig, 'base64url'),
    );
  } catch {
    return false;
  }
  if (typeof keyOrCert !== 'string') {
    let entry = known;
    if (!entry) verdicts.set(keyOrCert, (entry = { trees: new Map(), refused: new Set() }));
    if (ok) {
      if (entry.trees.size >= MAX_TREES_PER_KEY) entry.trees.delete(entry.trees.keys().next().value!);
      entry.trees.set(rootSig, { rootHex, nodes: new Map(walked) });
    } else {
      if (entry.refused.size >= MAX_REFUSED_PER_KEY) entry.refused.clear();
      entry.refused.add(refusedKey);
    }
  }
  return ok;
}

function remember(tree: VerifiedTree, walked: ReadonlyArray<[string, Buffer]>): true {
  for (const [key, hash] of walked) tree.nodes.set(key, hash);
  return true;
}
