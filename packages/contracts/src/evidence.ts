import { z } from 'zod';
import { canonicalHash } from './canonical-json.js';
import { IsoDateTime } from './common.js';

export const EvidenceItem = z.object({
  key: z.string().min(1).max(256),
  value: z.json(),
  source: z.string().min(1).max(256),
  redacted: z.boolean().default(false),
});
export type EvidenceItem = z.infer<typeof EvidenceItem>;

export const EvidencePacket = z.object({
  id: z.uuid(),
  runner: z.string().min(1).max(256),
  timestamp: IsoDateTime,
  /** SHA-256 (lowercase hex) of the canonical JSON of `items`. */
  hash: z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex SHA-256'),
  items: z.array(EvidenceItem).max(10_000),
  decision: z.json().optional(),
});
export type EvidencePacket = z.infer<typeof EvidencePacket>;

/** The hash an evidence packet must carry: SHA-256 of the canonical JSON of its items. */
export function evidenceHash(items: readonly EvidenceItem[]): string {
  return canonicalHash(items);
}

export function verifyEvidencePacket(packet: Pick<EvidencePacket, 'hash' | 'items'>): boolean {
  return evidenceHash(packet.items) === packet.hash;
}
