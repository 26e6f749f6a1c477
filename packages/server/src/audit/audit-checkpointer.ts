import type { Logger } from '@controlplane/platform';
import { type Database, asSystem } from '../storage/index.js';
import type { AuditSink } from './audit-event.js';
import {
  AUDIT_CHECKPOINT_ACTION,
  assertCheckpointDirWritable,
  pruneCheckpoints,
  signCheckpoint,
  writeCheckpointFile,
  type CheckpointSigner,
} from './audit-checkpoint.js';
import { auditSql as sql } from './sql.js';

export interface AuditCheckpointerOptions {
  db: Database;
  /** Where the `audit.checkpoint` event is recorded after each file. */
  audit: AuditSink;
  /** The checkpoint directory (outside the database). */
  dir: string;
  /** The service writing, as named in its certificate (`gateway`, `jobforge`, `truthcore`). */
  service: string;
  signer: CheckpointSigner;
  intervalMs: number;
  logger: Logger;
  /** Checkpoint files of this service kept (default 500); older ones are removed. */
  keep?: number;
}

/**
 * A service's duty of anchoring the audit chain outside the database: every `intervalMs`, and on
 * close, it signs the chain's head with the service's key, writes it as a file to the checkpoint
 * directory, and records in the chain that it did (`audit.checkpoint`, naming the file), so that a
 * deleted file is noticed too. A head that has not moved (other than by checkpoint events) is not
 * written again.
 */
export class AuditCheckpointer {
  #timer: NodeJS.Timeout | undefined;
  #lastSeq: string | undefined;
  #running: Promise<string | undefined> | undefined;
  #failure: Error | undefined;
  #closed = false;

  constructor(private readonly o: AuditCheckpointerOptions) {}

  /** Fails (CP_COMPOSE_AUDIT_CHECKPOINT_DIR at the caller) when the directory cannot be written; then ticks. */
  start(): void {
    assertCheckpointDirWritable(this.o.dir);
    this.#timer = setInterval(() => void this.checkpoint().catch(() => undefined), this.o.intervalMs);
    this.#timer.unref();
  }

  /** The last write's failure, while the next has not succeeded: /health reports it. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Writes a checkpoint of the current head now, unless nothing but checkpoints was appended since the last. Returns its file. */
  checkpoint(): Promise<string | undefined> {
    // One at a time: a tick and a close must not write two checkpoints of one head.
    const run = (this.#running ?? Promise.resolve(undefined)).catch(() => undefined).then(() => this.#write());
    this.#running = run;
    return run;
  }

  async #write(): Promise<string | undefined> {
    try {
      const file = await asSystem('audit checkpoint', async () => {
        const head = (await sql('head_event').run<{ seq: string; hash: string }>(this.o.db)).rows[0];
        if (!head) return undefined;
        if (this.#lastSeq !== undefined) {
          const { rows } = await sql('events_besides_after').run<{ n: number }>(this.o.db, {
            after: this.#lastSeq,
            action: AUDIT_CHECKPOINT_ACTION,
          });
          if ((rows[0]?.n ?? 0) === 0) return undefined;
        }
        const name = writeCheckpointFile(this.o.dir, signCheckpoint(head, this.o.signer), this.o.service);
        await this.o.audit.record({
          tenantId: null,
          actor: { kind: 'service', id: this.o.service },
          action: AUDIT_CHECKPOINT_ACTION,
          outcome: 'success',
          resource: { kind: 'audit-checkpoint', id: name },
          details: { seq: head.seq, hash: head.hash, file: name },
        });
        this.#lastSeq = head.seq;
        return name;
      });
      if (file) pruneCheckpoints(this.o.dir, this.o.service, this.o.keep ?? 500);
      this.#failure = undefined;
      return file;
    } catch (err) {
      this.#failure = err as Error;
      this.o.logger.error(
        { err, dir: this.o.dir },
        'cannot write an audit checkpoint: the audit head is not anchored outside the database',
      );
      throw err;
    }
  }

  /** Stops the timer and writes a last checkpoint (the database must still be open). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.checkpoint().catch(() => undefined);
  }
}
