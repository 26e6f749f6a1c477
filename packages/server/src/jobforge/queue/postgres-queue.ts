import { type Database, withTenant } from '../../storage/index.js';
import type { JobRow, ReadyEntry } from '../job-row.js';
import type { JobStore } from '../job-store.js';
import type { ClaimRequest, QueueBackend } from './queue-backend.js';
import { WorkSignal } from './work-signal.js';

/**
 * Dispatch straight from the jobs table with FOR UPDATE SKIP LOCKED. Used by the embedded
 * (PGlite) mode and as the reference for the Redis backend. There is no separate index to lose,
 * so enqueue only wakes waiting claimers and reconcile has nothing to rebuild.
 */
export class PostgresQueue implements QueueBackend {
  readonly kind = 'postgres' as const;
  readonly #signal = new WorkSignal();

  constructor(
    private readonly db: Database,
    private readonly store: JobStore,
  ) {}

  async enqueue(entries: readonly ReadyEntry[]): Promise<void> {
    const seen = new Set<string>();
    for (const e of entries) {
      const key = `${e.tenantId}\u0000${e.pool}`;
      if (!seen.has(key)) {
        seen.add(key);
        this.#signal.notify(e.tenantId, e.pool);
      }
    }
  }

  async claim(req: ClaimRequest): Promise<JobRow[]> {
    return withTenant(req.tenantId, async () => {
      if (req.types.length === 0 || req.max <= 0) return [];
      // One statement (SKIP LOCKED select + update + attempts + events): atomic on its own.
      return this.store.leaseNextReady(this.db, req.tenantId, req.pool, req.types, req.max, req.grant);
    });
  }

  async remove(): Promise<void> {}

  async reconcile(): Promise<number> {
    return 0;
  }

  async checkIntegrity(): Promise<boolean> {
    return true;
  }

  waitForWork(tenantId: string, pool: string, ms: number, signal?: AbortSignal): Promise<void> {
    // Delayed jobs become ready without an enqueue; cap the wait so they are noticed promptly.
    return this.#signal.wait(tenantId, pool, Math.min(ms, 250), signal);
  }

  async close(): Promise<void> {}
}
