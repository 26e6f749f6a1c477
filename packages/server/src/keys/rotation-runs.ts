import { InternalError } from '@controlplane/contracts';
import type { Sql } from '../storage/index.js';
import { keysSql as sql } from './sql.js';

/**
 * The bookkeeping of data-key rotation runs (table key_rotation_runs): one run at a time, each
 * batch committing its progress with the rows it rewrote, so a crashed run resumes exactly where
 * its last committed batch ended.
 */
export interface RotationRun {
  id: string;
  status: 'running' | 'completed' | 'cancelled';
  phase: string;
  cursor: unknown[] | null;
  sweepAfter: Date | null;
  rowsScanned: number;
  rowsRewritten: number;
  startedBy: string | null;
  startedAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

/** A run as sql/keys/_rotation_run_columns.sql reads it. */
interface RunRow {
  id: string;
  status: RotationRun['status'];
  phase: string;
  cursor: unknown[] | null;
  sweep_after: Date | null;
  rows_scanned: string;
  rows_rewritten: string;
  started_by: string | null;
  started_at: Date;
  updated_at: Date;
  finished_at: Date | null;
  wait_ms: number | null;
}

function toRun(r: RunRow): RotationRun {
  return {
    id: String(r.id),
    status: r.status,
    phase: r.phase,
    cursor: r.cursor,
    sweepAfter: r.sweep_after,
    rowsScanned: Number(r.rows_scanned),
    rowsRewritten: Number(r.rows_rewritten),
    startedBy: r.started_by,
    startedAt: r.started_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
  };
}

/** What a batch did, to be committed with the run's new position. */
export interface RunProgress {
  phase: string;
  cursor: unknown[] | null;
  scanned: number;
  rewritten: number;
  /** The sweep may start once `graceMs` have passed from now. */
  startSweepClock?: boolean;
}

/** Starts a run; CP_KEYS_ROTATION_IN_PROGRESS while another is running. */
export async function startRun(q: Sql, startedBy: string | null): Promise<RotationRun> {
  try {
    const res = await sql('rotation_run_start').run<RunRow>(q, { started_by: startedBy });
    return toRun(res.rows[0]!);
  } catch (err) {
    if ((err as { code?: unknown }).code === '23505') {
      const running = await currentRun(q);
      throw new InternalError('CP_KEYS_ROTATION_IN_PROGRESS', { params: { runId: running?.id ?? '?' } });
    }
    throw err;
  }
}

/** The run in progress, if any. */
export async function currentRun(q: Sql): Promise<RotationRun | undefined> {
  const res = await sql('rotation_run_current').run<RunRow>(q);
  return res.rows[0] && toRun(res.rows[0]);
}

/** The most recent run, finished or not. */
export async function latestRun(q: Sql): Promise<RotationRun | undefined> {
  const res = await sql('rotation_run_latest').run<RunRow>(q);
  return res.rows[0] && toRun(res.rows[0]);
}

/**
 * The run in progress, locked until the transaction ends, with how long its sweep must still wait
 * (by the database clock); undefined when none is running or another process holds it.
 */
export async function lockRunningRun(tx: Sql): Promise<{ run: RotationRun; waitMs: number } | undefined> {
  const row = (await sql('rotation_run_lock').run<RunRow>(tx)).rows[0];
  return row && { run: toRun(row), waitMs: row.wait_ms ?? 0 };
}

export async function saveProgress(tx: Sql, id: string, p: RunProgress, graceMs: number): Promise<RotationRun> {
  const res = await sql('rotation_run_save').run<RunRow>(tx, {
    id,
    phase: p.phase,
    cursor: p.cursor === null ? null : JSON.stringify(p.cursor),
    scanned: p.scanned,
    rewritten: p.rewritten,
    start_sweep_clock: p.startSweepClock === true,
    grace_ms: graceMs,
  });
  return toRun(res.rows[0]!);
}

export async function completeRun(tx: Sql, id: string): Promise<RotationRun> {
  const res = await sql('rotation_run_complete').run<RunRow>(tx, { id });
  return toRun(res.rows[0]!);
}
