import { existsSync, statSync } from 'node:fs';
import type { Sql } from '../storage/index.js';
import type { AuditRecord } from './audit-chain.js';
import { AUDIT_CHECKPOINT_ACTION, readCheckpoints, type AuditCheckpoint } from './audit-checkpoint.js';
import { verifyAuditChain, type AuditChainFailure, type AuditVerifyResult } from './audit-verify.js';

export interface CheckpointVerifyOptions {
  /** The checkpoint directory the services write. */
  dir: string;
  /** The CA certificate(s) the services' certificates are issued by. */
  caPems: readonly string[];
  trustDomain: string;
  batchSize?: number;
}

export type CheckpointVerifyResult = AuditVerifyResult & {
  /** How many valid checkpoints were checked, and the newest. */
  checkpoints: { count: number; newest?: { seq: string; hash: string; file: string } | undefined };
};

interface RecordedCheckpoint {
  /** The seq of the `audit.checkpoint` event. */
  eventSeq: string;
  service: string;
  file: string;
  seq: string;
}

function failed(firstBad: AuditChainFailure, count: number, checkpoints: CheckpointVerifyResult['checkpoints']): CheckpointVerifyResult {
  return { ok: false, count, firstBad, checkpoints };
}

/**
 * Verifies the chain against the signed checkpoints of `dir`: each must be genuine (signature,
 * certificate), the chain must contain the head each one names (a chain cut short or rewritten
 * from the start no longer does), and every checkpoint the chain records must still have its file.
 * Stops at the first problem, as verifyAuditChain does.
 */
export async function verifyAuditWithCheckpoints(db: Sql, o: CheckpointVerifyOptions): Promise<CheckpointVerifyResult> {
  const none = { count: 0 };
  if (!existsSync(o.dir) || !statSync(o.dir).isDirectory()) {
    return failed({ seq: 'none', reason: 'checkpoints_absent', expected: o.dir, actual: 'none' }, 0, none);
  }
  const readings = readCheckpoints(o.dir, { caPems: o.caPems, trustDomain: o.trustDomain });
  const forged = readings.find((r) => !r.ok);
  if (forged && !forged.ok) {
    const seq = /^checkpoint-0*(\d+)-/.exec(forged.file)?.[1] ?? 'none';
    return failed(
      {
        seq,
        reason: 'checkpoint_forged',
        expected: 'a checkpoint signed by a service certificate of the CA',
        actual: `${forged.file}: ${forged.problem}`,
      },
      0,
      none,
    );
  }
  const valid = readings.flatMap((r) => (r.ok ? [{ file: r.file, checkpoint: r.checkpoint }] : []));
  const newest = valid.reduce<{ file: string; checkpoint: AuditCheckpoint } | undefined>(
    (best, c) => (!best || BigInt(c.checkpoint.seq) > BigInt(best.checkpoint.seq) ? c : best),
    undefined,
  );
  const summary = {
    count: valid.length,
    newest: newest && { seq: newest.checkpoint.seq, hash: newest.checkpoint.hash, file: newest.file },
  };

  const recorded: RecordedCheckpoint[] = [];
  const chain = await verifyAuditChain(db, {
    anchors: valid.map((c) => ({ seq: c.checkpoint.seq, hash: c.checkpoint.hash })),
    ...(o.batchSize ? { batchSize: o.batchSize } : {}),
    onRecord: (r: AuditRecord) => {
      if (r.action !== AUDIT_CHECKPOINT_ACTION || r.actor.kind !== 'service') return;
      const { file, seq } = r.details as { file?: unknown; seq?: unknown };
      if (typeof file === 'string' && typeof seq === 'string') recorded.push({ eventSeq: r.seq, service: r.actor.id, file, seq });
    },
  });
  if (!chain.ok) return { ...chain, checkpoints: summary };

  // Older files are pruned by their service; a recorded checkpoint at or after the oldest file that
  // service still has (or its newest one, when it has none left) must be there.
  const present = new Set(valid.map((c) => c.file));
  const oldestKept = new Map<string, bigint>();
  for (const c of valid) {
    const service = c.checkpoint.signer.split('/').pop() ?? '';
    const seq = BigInt(c.checkpoint.seq);
    const known = oldestKept.get(service);
    if (known === undefined || seq < known) oldestKept.set(service, seq);
  }
  const newestRecorded = new Map<string, RecordedCheckpoint>();
  for (const r of recorded) newestRecorded.set(r.service, r);
  const missing = recorded.find((r) => {
    if (present.has(r.file)) return false;
    const oldest = oldestKept.get(r.service);
    return oldest === undefined ? newestRecorded.get(r.service) === r : BigInt(r.seq) >= oldest;
  });
  if (missing) {
    return failed({ seq: missing.eventSeq, reason: 'checkpoint_missing', expected: missing.file, actual: 'none' }, chain.count, summary);
  }
  return { ...chain, checkpoints: summary };
}
