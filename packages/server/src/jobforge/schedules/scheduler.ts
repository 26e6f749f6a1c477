import { randomUUID } from 'node:crypto';
import {
  AppError,
  JobRequest,
  parseOrThrow,
  ScheduleInput,
  TERMINAL_JOB_STATUSES,
  type JobRequestInput,
  type Schedule,
} from '@controlplane/contracts';
import type { Logger } from '@controlplane/platform';
import { asSystem, withTenant, type Database } from '../../storage/index.js';
import type { JobLifecycle } from '../lifecycle/index.js';
import { advanceSchedule, ruleOf, scheduleSql as sql, toSchedule, type ScheduleRow } from './schedule-store.js';
import { checkTimezone, nextSlot, parseCron, slotJobId } from './slots.js';

export interface SchedulerOptions {
  db: Database;
  jobs: JobLifecycle;
  logger: Logger;
  /** The clock slots are judged by (tests drive it). */
  now?: () => Date;
  /** How long a firing replica holds a schedule before another may take it over. */
  leaseMs?: number;
}

/** Under catch-up `skip`, a slot this late is a missed one, not the current one. */
const SKIP_GRACE_MS = 60_000;

/**
 * Schedules: a tenant's recurring jobs. Every replica runs `tick` (a duty); each due schedule is
 * taken under a short lease, its due slots chosen by the catch-up policy and fired one by one by
 * the overlap policy, each as an ordinary submission (same validation, quotas and events) whose job
 * id comes from the schedule and the slot — so a slot fired twice (two replicas, a restart, a lease
 * that ran out mid-fire) is one job, and a slot is only passed over by the policies, never lost.
 */
export class Scheduler {
  readonly #now: () => Date;
  readonly #leaseMs: number;

  constructor(private readonly o: SchedulerOptions) {
    this.#now = o.now ?? (() => new Date());
    this.#leaseMs = o.leaseMs ?? 30_000;
  }

  async create(tenantId: string, actor: string | null, body: unknown): Promise<Schedule> {
    const input = parseOrThrow(ScheduleInput, body);
    checkTimezone(input.timezone);
    if (input.cron !== undefined) parseCron(input.cron, input.timezone);
    // The template must make a valid job: checked now, with its paths, not at the first fire.
    parseOrThrow(JobRequest, requestOf('00000000-0000-4000-8000-000000000000', input.job, new Date(), 'x'), ['job']);
    const id = input.id ?? randomUUID();
    const now = this.#now();
    return withTenant(tenantId, async () => {
      const startAt = input.startAt ? new Date(input.startAt) : null;
      const rule = {
        cron: input.cron ?? null,
        timezone: input.timezone,
        intervalMs: input.intervalMs ?? null,
        anchor: startAt ?? now,
        endAt: input.endAt ? new Date(input.endAt) : null,
      };
      const first = nextSlot(rule, new Date(Math.max(now.getTime(), rule.anchor.getTime()) - 1));
      try {
        const res = await sql('schedule_insert').run<ScheduleRow>(this.o.db, {
          tenant_id: tenantId,
          id,
          name: input.name,
          template: JSON.stringify(input.job),
          cron: input.cron ?? null,
          timezone: input.timezone,
          interval_ms: input.intervalMs ?? null,
          start_at: startAt ?? now,
          end_at: rule.endAt,
          max_runs: input.maxRuns ?? null,
          paused: input.paused,
          overlap: input.overlap,
          catch_up: input.catchUp,
          catch_up_limit: input.catchUpLimit,
          next_fire_at: first,
          created_by: actor,
        });
        if (res.rows[0]) return toSchedule(res.rows[0]);
      } catch (err) {
        if ((err as { code?: string }).code === '23505') throw new AppError('RESOURCE_CONFLICT', { params: { resource: 'schedule' } });
        throw err;
      }
      // Nothing inserted: the same id again (a retried create) answers the schedule it made; a
      // name the tenant already uses is a conflict.
      const existing = (await sql('schedule_get').run<ScheduleRow>(this.o.db, { tenant_id: tenantId, id })).rows[0];
      if (existing && existing.name === input.name) return toSchedule(existing);
      throw new AppError('RESOURCE_CONFLICT', { params: { resource: 'schedule' } });
    });
  }

  async list(tenantId: string): Promise<Schedule[]> {
    return withTenant(tenantId, async () =>
      (await sql('schedule_list').run<ScheduleRow>(this.o.db, { tenant_id: tenantId })).rows.map(toSchedule),
    );
  }

  async get(tenantId: string, id: string): Promise<Schedule> {
    return toSchedule(await this.#row(tenantId, id));
  }

  async #row(tenantId: string, id: string): Promise<ScheduleRow> {
    const row = await withTenant(
      tenantId,
      async () => (await sql('schedule_get').run<ScheduleRow>(this.o.db, { tenant_id: tenantId, id })).rows[0],
    );
    if (!row) throw new AppError('RESOURCE_NOT_FOUND', { params: { resource: 'schedule' } });
    return row;
  }

  /** Pauses (no slot fires) or resumes (from the next slot after now: the pause's slots are not caught up). */
  async setPaused(tenantId: string, id: string, paused: boolean): Promise<Schedule> {
    const row = await this.#row(tenantId, id);
    const next = this.#limitReached(row) ? null : nextSlot(ruleOf(row), new Date(this.#now().getTime() - 1));
    return withTenant(tenantId, async () => {
      const res = await sql('schedule_set_paused').run<ScheduleRow>(this.o.db, { tenant_id: tenantId, id, paused, next_fire_at: next });
      if (!res.rows[0]) throw new AppError('RESOURCE_NOT_FOUND', { params: { resource: 'schedule' } });
      return toSchedule(res.rows[0]);
    });
  }

  async delete(tenantId: string, id: string): Promise<void> {
    const res = await withTenant(tenantId, () => sql('schedule_delete').run(this.o.db, { tenant_id: tenantId, id }));
    if (res.rows.length === 0) throw new AppError('RESOURCE_NOT_FOUND', { params: { resource: 'schedule' } });
  }

  /** Fires the schedule's job now, outside its slots (not counted against maxRuns). */
  async trigger(tenantId: string, id: string, actor: string | null): Promise<{ jobId: string }> {
    const row = await this.#row(tenantId, id);
    const jobId = randomUUID();
    await this.o.jobs.submission.submit(tenantId, actor ?? `schedule:${id}`, requestOf(jobId, row.template, this.#now(), id));
    return { jobId };
  }

  /** One firing round of this replica: every due schedule it can take. Answers the jobs submitted. */
  async tick(limit = 100): Promise<number> {
    const lease = randomUUID();
    const rows = await asSystem(
      'fire schedules',
      async () =>
        (await sql('schedules_due').run<ScheduleRow>(this.o.db, { now: this.#now(), limit, lease, lease_ms: this.#leaseMs })).rows,
    );
    let fired = 0;
    for (const row of rows) {
      try {
        fired += await withTenant(row.tenant_id, () => this.#fire(row, lease));
      } catch (err) {
        this.o.logger.warn({ err, tenantId: row.tenant_id, scheduleId: row.id }, 'schedule fire failed; retried when its lease runs out');
      }
    }
    return fired;
  }

  #limitReached(row: ScheduleRow): boolean {
    return row.max_runs !== null && row.runs >= row.max_runs;
  }

  async #fire(row: ScheduleRow, lease: string): Promise<number> {
    const now = this.#now();
    const rule = ruleOf(row);
    const due: Date[] = [];
    let next = row.next_fire_at;
    while (next && next <= now && due.length < row.catch_up_limit + 1) {
      due.push(next);
      next = nextSlot(rule, next);
    }
    if (next && next <= now) next = nextSlot(rule, now);
    let slots: Date[];
    if (row.catch_up === 'all') slots = due.slice(-row.catch_up_limit);
    else if (row.catch_up === 'latest') slots = due.slice(-1);
    else slots = due.filter((d) => now.getTime() - d.getTime() <= Math.min(SKIP_GRACE_MS, intervalOf(rule, d))).slice(-1);

    let runs = row.runs;
    let lastJobId = row.last_job_id;
    let lastFiredAt = row.last_fired_at;
    let buffered = row.buffered_at;
    let fired = 0;
    const fire = async (slot: Date) => {
      const id = slotJobId(row.tenant_id, row.id, slot);
      try {
        await this.o.jobs.submission.submit(row.tenant_id, `schedule:${row.id}`, requestOf(id, row.template, slot, row.id));
      } catch (err) {
        // The slot's job exists with another body (the template changed between two firings): it is fired.
        if (!(err instanceof AppError && err.code === 'IDEMPOTENCY_CONFLICT')) throw err;
      }
      runs++;
      fired++;
      lastJobId = id;
      lastFiredAt = slot;
    };
    const previousActive = async () => {
      if (!lastJobId) return false;
      const prev = await this.o.jobs.queries.getRow(row.tenant_id, lastJobId).catch(() => undefined);
      return prev !== undefined && !TERMINAL_JOB_STATUSES.includes(prev.status);
    };
    if (buffered && !(await previousActive())) {
      if (!this.#limitReached({ ...row, runs })) await fire(buffered);
      buffered = null;
    }
    for (const slot of slots) {
      if (this.#limitReached({ ...row, runs })) break;
      if (row.overlap !== 'allow' && (await previousActive())) {
        if (row.overlap === 'skip') continue;
        if (row.overlap === 'buffer-one') {
          buffered = slot;
          continue;
        }
        await this.o.jobs.operator.cancel(row.tenant_id, lastJobId!);
      }
      await fire(slot);
    }
    const done = this.#limitReached({ ...row, runs });
    const recorded = await advanceSchedule(this.o.db, row, lease, {
      nextFireAt: done ? null : next,
      runs,
      lastJobId,
      lastFiredAt,
      bufferedAt: done ? null : buffered,
    });
    return recorded ? fired : 0;
  }
}

function intervalOf(rule: ReturnType<typeof ruleOf>, slot: Date): number {
  if (rule.intervalMs !== null) return rule.intervalMs;
  const after = nextSlot({ ...rule, endAt: null }, slot);
  return after ? after.getTime() - slot.getTime() : SKIP_GRACE_MS;
}

/** The job a fire submits: the template, under the slot's id, created at the slot's time. */
function requestOf(id: string, t: Schedule['job'], slot: Date, scheduleId: string): JobRequestInput {
  return {
    id,
    type: t.type,
    ...(t.priority !== undefined ? { priority: t.priority } : {}),
    payload: { type: t.type, data: t.data ?? {}, ...(t.options ? { options: t.options } : {}) },
    metadata: {
      source: `schedule:${scheduleId}`,
      createdAt: slot.toISOString(),
      causationId: scheduleId,
      ...(t.tags ? { tags: t.tags } : {}),
      ...(t.concurrencyKey ? { concurrencyKey: t.concurrencyKey } : {}),
    },
    ...(t.retryPolicy ? { retryPolicy: t.retryPolicy } : {}),
    ...(t.timeoutMs !== undefined ? { timeoutMs: t.timeoutMs } : {}),
  };
}
