import { setTimeout as sleep } from 'node:timers/promises';
import { FieldCipher, type Keyring, type Logger } from '@controlplane/platform';
import { type Database, type Sql, asSystem } from '../storage/index.js';
import { assertOwnKeyPool, type PostgresDataKeyStore } from './data-key-store.js';
import { EncryptedValueSweep, SWEEP_PHASES, type StoredValueCheck } from './encrypted-value-sweep.js';
import {
  completeRun,
  currentRun,
  latestRun,
  lockRunningRun,
  saveProgress,
  startRun,
  type RotationRun,
  type RunProgress,
} from './rotation-runs.js';

/**
 * How long a rotation waits, after making new data keys current, before it sweeps: the default
 * key cache lifetime of a service's Keyring (5 min) plus a margin for encryptions already under
 * way. Until then a service may still encrypt with the old key, and a value it writes behind the
 * sweep's cursor would stay on the old key.
 */
export const DEFAULT_ROTATION_GRACE_MS = 5 * 60_000 + 30_000;

/** The first phase of a run (the table's default): new data keys made current, tenant by tenant. */
const ROTATE_KEYS_PHASE = 'rotate-keys';

export interface KeyRotationOptions {
  /** The application database: the tables holding ciphertext. */
  db: Database;
  /** A Keyring over `store`, whose provider has the KEKs of every stored record. */
  keyring: Keyring;
  /** On its own pool (see PostgresDataKeyStore), so key reads never wait on a sweep's transaction. */
  store: PostgresDataKeyStore;
  /** Rows per batch (one transaction each). Default 500. */
  batchSize?: number;
  /** See DEFAULT_ROTATION_GRACE_MS; set it to the services' Keyring `cacheTtlMs` plus a margin. */
  graceMs?: number;
  /** TruthCore's extra sensitive predicates (TruthStore option), so assertions stored in clear before encryption get encrypted. */
  sensitivePredicates?: readonly string[];
  logger?: Logger;
}

export type RotationStep =
  /** No run is in progress. */
  | { state: 'idle' }
  /** Another process is running a batch of the run now. */
  | { state: 'busy' }
  /** New keys are current; the sweep starts when services can no longer be using the old ones. */
  | { state: 'waiting'; run: RotationRun; waitMs: number }
  /** A batch was done (`locked` rows were held by running transactions and will be retried). */
  | { state: 'progress'; run: RotationRun; rewritten: number; locked: number }
  | { state: 'completed'; run: RotationRun };

/**
 * Key rotation while the system runs.
 *
 * - `rewrapAll` (after a new KEK was made current): re-wraps every stored data key under it. Field
 *   ciphertexts do not change. Restartable as it stands: it works from "records under another KEK".
 * - `start` + `step`/`runToCompletion` (data keys): makes a new data key current for every tenant,
 *   waits out the services' key caches, then re-encrypts every stored value in keyset order, one
 *   transaction per batch that commits the rows with the run's cursor. Rows are locked
 *   `FOR UPDATE SKIP LOCKED`: the sweep never waits on a running job's transaction (so it can never
 *   deadlock with one); a row it skipped stops the cursor just before it and is retried. Reads work
 *   throughout because old keys are kept and every ciphertext names its key.
 */
export class KeyRotation {
  readonly cipher: FieldCipher;
  readonly #batch: number;
  readonly #graceMs: number;
  readonly #sweep: EncryptedValueSweep;

  constructor(private readonly o: KeyRotationOptions) {
    this.cipher = new FieldCipher(o.keyring);
    this.#batch = o.batchSize ?? 500;
    this.#graceMs = o.graceMs ?? DEFAULT_ROTATION_GRACE_MS;
    if (!(this.#batch >= 1) || !(this.#graceMs >= 0)) throw new RangeError('batchSize must be >= 1 and graceMs >= 0');
    this.#sweep = new EncryptedValueSweep(this.cipher, this.#batch, o.sensitivePredicates ?? []);
    assertOwnKeyPool(o.store, o.db);
    assertOwnKeyPool(o.keyring.store, o.db);
  }

  /** Re-wraps every data key (and blind-index root) not yet under the provider's current KEK. Returns how many. */
  async rewrapAll(): Promise<number> {
    return asSystem('key rotation', async () => {
      const kekId = this.o.keyring.provider.currentKekId();
      let total = 0;
      for (;;) {
        const records = await this.o.store.wrappedByOtherKek(kekId, this.#batch);
        if (records.length === 0) return total;
        for (const r of records) if (await this.o.keyring.rewrapDataKey(r.tenantId, r.id)) total++;
        this.o.logger?.info({ kekId, rewrapped: total }, 'data keys re-wrapped under the current KEK');
      }
    });
  }

  /** Starts a data-key rotation run; the keys change at its first step. */
  async start(startedBy: string | null = null): Promise<RotationRun> {
    return asSystem('key rotation', () => startRun(this.o.db, startedBy));
  }

  /** The run in progress, if any. */
  async currentRun(q: Sql = this.o.db): Promise<RotationRun | undefined> {
    return asSystem('key rotation', () => currentRun(q));
  }

  /** The most recent run, finished or not. */
  async latestRun(): Promise<RotationRun | undefined> {
    return asSystem('key rotation', () => latestRun(this.o.db));
  }

  /** Does one batch of the run in progress (any process may call it; one at a time gets the run). */
  async step(): Promise<RotationStep> {
    return asSystem('key rotation', async () => {
      return this.o.db.transaction(async (tx): Promise<RotationStep> => {
        const locked = await lockRunningRun(tx);
        if (!locked) return (await this.currentRun(tx)) ? { state: 'busy' } : { state: 'idle' };
        const { run, waitMs } = locked;

        if (run.phase === ROTATE_KEYS_PHASE) {
          const after = typeof run.cursor?.[0] === 'string' ? run.cursor[0] : null;
          const tenants = await this.o.store.tenantsAfter(after, this.#batch);
          for (const tenantId of tenants) await this.o.keyring.rotateDataKey(tenantId);
          this.o.logger?.info({ runId: run.id, tenants: tenants.length }, 'new data keys made current');
          const done = tenants.length < this.#batch;
          const next = await this.#save(tx, run.id, {
            phase: done ? SWEEP_PHASES[0]! : ROTATE_KEYS_PHASE,
            cursor: done ? null : [tenants[tenants.length - 1]],
            startSweepClock: done,
            scanned: 0,
            rewritten: 0,
          });
          return { state: 'progress', run: next, rewritten: 0, locked: 0 };
        }

        if (waitMs > 0) return { state: 'waiting', run, waitMs };

        const outcome = await this.#sweep.batch(tx, run.phase, run.cursor);
        if (!outcome.finished) {
          const next = await this.#save(tx, run.id, {
            phase: run.phase,
            cursor: outcome.cursor,
            scanned: outcome.scanned,
            rewritten: outcome.rewritten,
          });
          return { state: 'progress', run: next, rewritten: outcome.rewritten, locked: outcome.locked };
        }
        const following = SWEEP_PHASES[SWEEP_PHASES.indexOf(run.phase) + 1];
        if (following !== undefined) {
          const next = await this.#save(tx, run.id, {
            phase: following,
            cursor: null,
            scanned: outcome.scanned,
            rewritten: outcome.rewritten,
          });
          return { state: 'progress', run: next, rewritten: outcome.rewritten, locked: outcome.locked };
        }
        const retired = await this.o.store.retireNonCurrent();
        const done = await completeRun(tx, run.id);
        this.o.logger?.info(
          { runId: run.id, rowsScanned: done.rowsScanned, rowsRewritten: done.rowsRewritten, retiredKeys: retired },
          'key rotation completed',
        );
        return { state: 'completed', run: done };
      });
    });
  }

  /**
   * Steps until the run in progress completes (or none is in progress), sleeping while it waits
   * for the grace period or another process holds it. Returns the last run seen.
   */
  async runToCompletion(
    options: { signal?: AbortSignal; onStep?: (step: RotationStep) => void; pollMs?: number } = {},
  ): Promise<RotationRun | undefined> {
    return asSystem('key rotation', async () => {
      const pollMs = options.pollMs ?? 250;
      let last: RotationRun | undefined;
      for (;;) {
        options.signal?.throwIfAborted();
        const s = await this.step();
        options.onStep?.(s);
        switch (s.state) {
          case 'idle':
            return last ?? (await this.latestRun());
          case 'completed':
            return s.run;
          case 'busy':
            await sleep(pollMs, undefined, { signal: options.signal });
            break;
          case 'waiting':
            last = s.run;
            await sleep(Math.min(s.waitMs, 1_000), undefined, { signal: options.signal });
            break;
          case 'progress':
            last = s.run;
            // Rows held by running transactions: give them a moment instead of spinning on them.
            if (s.locked > 0) await sleep(20, undefined, { signal: options.signal });
            break;
        }
      }
    });
  }

  /**
   * Reads every stored encrypted value (without locking) and reports those not on their tenant's
   * current key, those still in clear, and those that do not decrypt for their row.
   */
  async checkStoredValues(): Promise<StoredValueCheck> {
    return asSystem('key rotation', () => this.#sweep.check(this.o.db, async (tenantId) => (await this.o.store.current(tenantId))?.id));
  }

  #save(tx: Sql, id: string, progress: RunProgress): Promise<RotationRun> {
    return saveProgress(tx, id, progress, this.#graceMs);
  }
}
