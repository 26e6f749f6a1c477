import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '@controlplane/platform';
import { packagedLuaScript, type RedisKeys } from '../../redis/index.js';
import { type Database, asSystem, withTenant } from '../../storage/index.js';
import type { JobRow, ReadyEntry } from '../job-row.js';
import type { JobStore } from '../job-store.js';
import type { ClaimRequest, QueueBackend } from './queue-backend.js';
import { WorkSignal } from './work-signal.js';

/** Ranks count run-at from here, so (100 - priority) * 2^41 + offset stays below 2^53. */
const RANK_EPOCH_MS = Date.UTC(2025, 0, 1);
const PRIORITY_STEP = 2 ** 41;
const RECONCILE_BATCH = 5_000;
/** How long a job waiting for its concurrency key stays out of the ready set before it is tried again. */
const KEY_WAIT_MS = 100;

export function rankOf(priority: number, runAt: number): number {
  return (100 - priority) * PRIORITY_STEP + Math.max(0, runAt - RANK_EPOCH_MS);
}

export interface RedisQueueOptions {
  redis: Redis;
  keys: RedisKeys;
  db: Database;
  store: JobStore;
  logger: Logger;
  /**
   * A second connection for pub/sub wake-ups between replicas. Without it, claimers on other
   * replicas notice new work at their next poll (at most `pollMs` later).
   */
  subscriber?: Redis | undefined;
  pollMs?: number;
}

/**
 * Dispatch through Redis sorted sets: one ready set and one delayed set per tenant, pool and job
 * type. Redis holds job ids, priorities and run-at times only — never payloads. PostgreSQL
 * re-checks each popped id when leasing, and the whole index is rebuilt from PostgreSQL when
 * Redis loses it, so Redis is a fast index, not a second source of truth.
 */
export class RedisQueue implements QueueBackend {
  readonly kind = 'redis' as const;
  readonly #signal = new WorkSignal();
  readonly #script = packagedLuaScript('claim_ready');
  readonly #markerKey: string;
  readonly #wakeChannel: string;
  readonly #marker = randomUUID();
  /** Names this replica in its wake-up messages. */
  readonly #replicaId = randomUUID();
  readonly #pollMs: number;

  constructor(private readonly o: RedisQueueOptions) {
    this.#markerKey = o.keys.key('q', 'marker');
    this.#wakeChannel = o.keys.key('q', 'wake');
    this.#pollMs = o.pollMs ?? 250;
    if (o.subscriber) {
      o.subscriber.on('message', (channel: string, message: string) => {
        if (channel !== this.#wakeChannel) return;
        // "<replica>\0<tenant>\0<pool>": this replica already woke its own claimers when it
        // published, so its own messages are dropped here. ("<tenant>\0<pool>" is what a replica
        // of an earlier version sends.)
        const parts = message.split('\u0000');
        if (parts.length === 3 && parts[0] !== this.#replicaId && parts[1]) this.#signal.notify(parts[1], parts[2]!);
        else if (parts.length === 2 && parts[0]) this.#signal.notify(parts[0], parts[1]!);
      });
    }
  }

  /** Subscribes to wake-ups and makes sure the index exists (rebuilding it if Redis lost it). */
  async start(): Promise<void> {
    if (this.o.subscriber) await this.o.subscriber.subscribe(this.#wakeChannel);
    await this.checkIntegrity();
  }

  #ready(tenantId: string, pool: string, type: string): string {
    return this.o.keys.key('q', tenantId, pool, type, 'ready');
  }

  #delayed(tenantId: string, pool: string, type: string): string {
    return this.o.keys.key('q', tenantId, pool, type, 'delayed');
  }

  async enqueue(entries: readonly ReadyEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const now = Date.now();
    const pipe = this.o.redis.pipeline();
    const woken = new Set<string>();
    for (const e of entries) {
      if (e.runAt <= now) pipe.zadd(this.#ready(e.tenantId, e.pool, e.type), rankOf(e.priority, e.runAt), e.id);
      else pipe.zadd(this.#delayed(e.tenantId, e.pool, e.type), e.runAt, `${e.priority}|${e.id}`);
      woken.add(`${e.tenantId}\u0000${e.pool}`);
    }
    for (const w of woken) pipe.publish(this.#wakeChannel, `${this.#replicaId}\u0000${w}`);
    await execOrThrow(pipe);
    for (const w of woken) {
      const sep = w.indexOf('\u0000');
      this.#signal.notify(w.slice(0, sep), w.slice(sep + 1));
    }
  }

  async claim(req: ClaimRequest): Promise<JobRow[]> {
    return withTenant(req.tenantId, async () => {
      if (req.types.length === 0 || req.max <= 0) return [];
      const now = Date.now();
      const popped = await Promise.all(
        req.types.map(async (type) => {
          const reply = (await this.#script.run(
            this.o.redis,
            [this.#ready(req.tenantId, req.pool, type), this.#delayed(req.tenantId, req.pool, type)],
            [now, req.max, RANK_EPOCH_MS],
          )) as string[];
          const out: Array<{ id: string; rank: number; type: string }> = [];
          for (let i = 0; i < reply.length; i += 2) out.push({ id: reply[i]!, rank: Number(reply[i + 1]), type });
          return out;
        }),
      );
      let chosen = popped.flat();
      if (req.types.length > 1 && chosen.length > req.max) {
        // Each type's queue gave its best `max`; keep the overall best and put the rest back where they were.
        chosen.sort((a, b) => a.rank - b.rank || (a.id < b.id ? -1 : 1));
        const extra = chosen.slice(req.max);
        chosen = chosen.slice(0, req.max);
        const pipe = this.o.redis.pipeline();
        for (const e of extra) pipe.zadd(this.#ready(req.tenantId, req.pool, e.type), e.rank, e.id);
        await execOrThrow(pipe);
      }
      if (chosen.length === 0) return [];
      const ids = chosen.map((c) => c.id);
      try {
        // One statement: atomic on its own, so no transaction round trips.
        const { rows, keyWaiting } = await this.o.store.leaseByIds(this.o.db, req.tenantId, req.pool, req.types, ids, req.grant);
        if (keyWaiting.length > 0) await this.#parkKeyWaiting(req, chosen, keyWaiting, now);
        return rows;
      } catch (err) {
        // The ids left Redis but were not leased: put them back so they are not stranded until the next reconcile.
        const pipe = this.o.redis.pipeline();
        for (const c of chosen) pipe.zadd(this.#ready(req.tenantId, req.pool, c.type), 'NX', c.rank, c.id);
        await pipe.exec().catch(() => undefined);
        throw err;
      }
    });
  }

  /**
   * Jobs whose concurrency key is at its limit go back in the delayed set, due a moment later in
   * their order: out of the ready set, they do not stand in front of other keys' work.
   */
  async #parkKeyWaiting(req: ClaimRequest, chosen: ReadonlyArray<{ id: string; rank: number; type: string }>, ids: string[], now: number) {
    const waiting = new Set(ids);
    const pipe = this.o.redis.pipeline();
    let i = 0;
    for (const c of chosen) {
      if (!waiting.has(c.id)) continue;
      const priority = 100 - Math.floor(c.rank / PRIORITY_STEP);
      pipe.zadd(this.#delayed(req.tenantId, req.pool, c.type), now + KEY_WAIT_MS + i++, `${priority}|${c.id}`);
    }
    await execOrThrow(pipe);
  }

  async remove(entries: readonly ReadyEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const pipe = this.o.redis.pipeline();
    for (const e of entries) {
      pipe.zrem(this.#ready(e.tenantId, e.pool, e.type), e.id);
      pipe.zrem(this.#delayed(e.tenantId, e.pool, e.type), `${e.priority}|${e.id}`);
    }
    await execOrThrow(pipe);
  }

  /**
   * Adds every waiting job in PostgreSQL to Redis (ZADD NX: entries already there keep their
   * place). Entries for jobs that are no longer waiting are harmless: leasing re-checks them.
   */
  async reconcile(): Promise<number> {
    return asSystem('rebuild the dispatch index', async () => {
      let after: { tenantId: string; id: string } | undefined;
      let total = 0;
      const now = Date.now();
      for (;;) {
        const rows = await this.o.store.listClaimable(this.o.db, after, RECONCILE_BATCH);
        if (rows.length === 0) break;
        const pipe = this.o.redis.pipeline();
        for (const r of rows) {
          const runAt = r.run_at.getTime();
          if (runAt <= now) pipe.zadd(this.#ready(r.tenant_id, r.pool, r.type), 'NX', rankOf(r.priority, runAt), r.id);
          else pipe.zadd(this.#delayed(r.tenant_id, r.pool, r.type), 'NX', runAt, `${r.priority}|${r.id}`);
        }
        await execOrThrow(pipe);
        total += rows.length;
        const last = rows[rows.length - 1]!;
        after = { tenantId: last.tenant_id, id: last.id };
        if (rows.length < RECONCILE_BATCH) break;
      }
      return total;
    });
  }

  /**
   * Redis loses everything on FLUSHALL or on a restart without persistence. A marker key tells:
   * when it is gone, the index is rebuilt from PostgreSQL before the marker is set again.
   */
  #checkedOnce = false;

  async checkIntegrity(): Promise<boolean> {
    const exists = await this.o.redis.exists(this.#markerKey);
    if (exists === 1) {
      this.#checkedOnce = true;
      return true;
    }
    const started = Date.now();
    const n = await this.reconcile();
    await this.o.redis.set(this.#markerKey, this.#marker);
    if (this.#checkedOnce)
      this.o.logger.warn(
        { entries: n, ms: Date.now() - started },
        'dispatch index missing in Redis (flushed or restarted); rebuilt from PostgreSQL',
      );
    else this.o.logger.info({ entries: n, ms: Date.now() - started }, 'dispatch index built from PostgreSQL');
    this.#checkedOnce = true;
    for (const key of this.#signalKeys) {
      const sep = key.indexOf('\u0000');
      this.#signal.notify(key.slice(0, sep), key.slice(sep + 1));
    }
    return false;
  }

  readonly #signalKeys = new Set<string>();

  waitForWork(tenantId: string, pool: string, ms: number, signal?: AbortSignal): Promise<void> {
    this.#signalKeys.add(`${tenantId}\u0000${pool}`);
    // Delayed entries come due without a notification; poll at most this long between looks.
    return this.#signal.wait(tenantId, pool, Math.min(ms, this.#pollMs), signal);
  }

  async close(): Promise<void> {
    if (this.o.subscriber) await this.o.subscriber.unsubscribe(this.#wakeChannel).catch(() => undefined);
  }
}

async function execOrThrow(pipe: ReturnType<Redis['pipeline']>): Promise<void> {
  const results = await pipe.exec();
  for (const [err] of results ?? []) if (err) throw err;
}
