import { join } from 'node:path';
import { InternalError } from '@controlplane/contracts';
import type { Config, Logger, TlsMaterial } from '@controlplane/platform';
import { AuditCheckpointer, type AuditSink } from '../audit/index.js';
import type { HealthProbe } from '../http/index.js';
import type { Database } from '../storage/index.js';
import type { ServiceName } from './service-tls.js';

/** `audit.checkpointDir`, default `<dataDir>/audit-checkpoints`. */
export function auditCheckpointDirOf(config: Readonly<Config>): string {
  return config.audit.checkpointDir ?? join(config.dataDir, 'audit-checkpoints');
}

/** Said by /health while checkpoints cannot be written (the path and the reason are in the log only). */
export const CHECKPOINTS_FAILING = 'audit checkpoints cannot be written: the audit head is not anchored outside the database (see the log)';

/**
 * Starts the service's audit checkpoints, signed with its mTLS key. Fails closed: a directory that
 * cannot be written refuses the start (CP_COMPOSE_AUDIT_CHECKPOINT_DIR); a write that fails later
 * turns the returned /health probe degraded and logs an error.
 */
export function startAuditCheckpoints(d: {
  config: Readonly<Config>;
  db: Database;
  audit: AuditSink;
  tls: TlsMaterial;
  service: ServiceName;
  logger: Logger;
}): { checkpointer: AuditCheckpointer; probe: HealthProbe } {
  const dir = auditCheckpointDirOf(d.config);
  const checkpointer = new AuditCheckpointer({
    db: d.db,
    audit: d.audit,
    dir,
    service: d.service,
    signer: { keyPem: d.tls.key, certPem: d.tls.cert, trustDomain: d.config.trustDomain },
    intervalMs: d.config.audit.checkpointIntervalMs,
    logger: d.logger,
  });
  try {
    checkpointer.start();
  } catch (err) {
    throw new InternalError('CP_COMPOSE_AUDIT_CHECKPOINT_DIR', {
      params: { dir, reason: (err as NodeJS.ErrnoException).code ?? (err as Error).message },
      cause: err,
    });
  }
  const probe: HealthProbe = {
    name: 'audit-checkpoints',
    critical: false,
    check: () => Promise.resolve(checkpointer.failure ? { status: 'degraded' as const, message: CHECKPOINTS_FAILING } : undefined),
  };
  return { checkpointer, probe };
}
