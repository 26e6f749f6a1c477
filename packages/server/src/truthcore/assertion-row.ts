import { createHash } from 'node:crypto';
import { canonicalHash, canonicalJson, type TruthAssertion } from '@controlplane/contracts';

/** A row of `truth_assertions` as the storage port returns it (int8 `seq` arrives as a string). */
export interface AssertionRow {
  tenant_id: string;
  id: string;
  seq: string;
  subject: string;
  predicate: string;
  object: TruthAssertion['object'];
  confidence: number;
  source: string;
  asserted_at: Date;
  expires_at: Date | null;
  metadata: TruthAssertion['metadata'];
  asserted_by: string;
  recorded_at: Date;
}

/** What the store writes: a validated assertion with its timestamps already normalised. */
export interface NewAssertion {
  id: string;
  subject: string;
  predicate: string;
  object: TruthAssertion['object'];
  confidence: number;
  source: string;
  assertedAt: Date;
  expiresAt: Date | null;
  metadata: TruthAssertion['metadata'];
  assertedBy: string;
}

/** The key `object` equality is decided on: SHA-256 of the value's canonical JSON (32 bytes). */
export function objectHash(value: unknown): Buffer {
  return createHash('sha256').update(canonicalJson(value), 'utf8').digest();
}

/**
 * Timestamps are kept to whole milliseconds: what a JS Date holds, what we answer with, and what
 * the table's check constraint demands (so a cursor made from a returned row is exact).
 */
export function toMillis(iso: string): Date {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) throw new RangeError(`not a timestamp: ${iso}`);
  return d;
}

export function newAssertion(a: TruthAssertion, assertedBy: string): NewAssertion {
  return {
    id: a.id,
    subject: a.subject,
    predicate: a.predicate,
    object: a.object,
    confidence: a.confidence,
    source: a.source,
    assertedAt: toMillis(a.timestamp),
    expiresAt: a.expiresAt !== undefined ? toMillis(a.expiresAt) : null,
    metadata: a.metadata,
    assertedBy,
  };
}

export function toTruthAssertion(row: AssertionRow): TruthAssertion {
  return {
    id: row.id,
    subject: row.subject,
    predicate: row.predicate,
    object: row.object,
    confidence: row.confidence,
    timestamp: row.asserted_at.toISOString(),
    source: row.source,
    ...(row.expires_at ? { expiresAt: row.expires_at.toISOString() } : {}),
    metadata: row.metadata,
  };
}

/**
 * What "the same assertion" means for an idempotent re-send: every field of the assertion after
 * normalisation, not who sent it. Equal hashes for a stored row and a new request mean equal content.
 */
export function assertionContentHash(a: Omit<NewAssertion, 'assertedBy'>): string {
  return canonicalHash({
    id: a.id,
    subject: a.subject,
    predicate: a.predicate,
    object: a.object,
    confidence: a.confidence,
    source: a.source,
    timestamp: a.assertedAt.toISOString(),
    expiresAt: a.expiresAt ? a.expiresAt.toISOString() : null,
    metadata: a.metadata,
  });
}

export function rowContentHash(row: AssertionRow): string {
  return assertionContentHash({
    id: row.id,
    subject: row.subject,
    predicate: row.predicate,
    object: row.object,
    confidence: row.confidence,
    source: row.source,
    assertedAt: row.asserted_at,
    expiresAt: row.expires_at,
    metadata: row.metadata,
  });
}
