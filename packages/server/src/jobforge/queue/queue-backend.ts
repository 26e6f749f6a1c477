import type { JobRow, ReadyEntry } from '../job-row.js';
import type { LeaseGrant } from '../store-records.js';

export interface ClaimRequest {
  tenantId: string;
  pool: string;
  /** Job types to claim; already intersected with what the runner registered. */
  types: readonly string[];
  max: number;
  grant: LeaseGrant;
}

/**
 * The dispatch port: how ready jobs reach runners. PostgreSQL is always the record of what is
 * ready; a backend may keep a faster index of it (Redis) that can be lost and rebuilt.
 * Both implementations pass the same conformance suite.
 */
export interface QueueBackend {
  readonly kind: 'postgres' | 'redis';
  /** Called after the transaction that made these jobs ready (or delayed) has committed. */
  enqueue(entries: readonly ReadyEntry[]): Promise<void>;
  /** Leases up to `max` ready jobs to the runner: highest priority first, then oldest. */
  claim(req: ClaimRequest): Promise<JobRow[]>;
  /** Drops entries of jobs that can no longer run (cancelled, expired). Best effort. */
  remove(entries: readonly ReadyEntry[]): Promise<void>;
  /** Rebuilds the backend's index from PostgreSQL; returns how many entries were (re)written. */
  reconcile(): Promise<number>;
  /** Detects a lost index (e.g. Redis flushed or restarted) and rebuilds it. */
  checkIntegrity(): Promise<boolean>;
  /** Resolves when work may have arrived for this tenant/pool, or after `ms`. */
  waitForWork(tenantId: string, pool: string, ms: number, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
