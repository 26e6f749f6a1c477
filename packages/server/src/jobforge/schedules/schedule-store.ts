import type { Schedule, ScheduleJobTemplate } from '@controlplane/contracts';
import { sqlFolder, type Sql } from '../../storage/index.js';
import type { ScheduleRule } from './slots.js';

/** The statements of sql/schedules. */
export const scheduleSql = sqlFolder('schedules');

export interface ScheduleRow {
  tenant_id: string;
  id: string;
  name: string;
  template: ScheduleJobTemplate;
  cron: string | null;
  timezone: string;
  interval_ms: string | number | null;
  start_at: Date | null;
  end_at: Date | null;
  max_runs: number | null;
  runs: number;
  paused: boolean;
  overlap: Schedule['overlap'];
  catch_up: Schedule['catchUp'];
  catch_up_limit: number;
  next_fire_at: Date | null;
  buffered_at: Date | null;
  last_job_id: string | null;
  last_fired_at: Date | null;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
}

export function ruleOf(row: ScheduleRow): ScheduleRule {
  return {
    cron: row.cron,
    timezone: row.timezone,
    intervalMs: row.interval_ms === null ? null : Number(row.interval_ms),
    anchor: row.start_at ?? row.created_at,
    endAt: row.end_at,
  };
}

export function toSchedule(row: ScheduleRow): Schedule {
  const opt = <K extends string, V>(key: K, v: V | null | undefined) => (v === null || v === undefined ? {} : { [key]: v });
  return {
    id: row.id,
    name: row.name,
    job: row.template,
    ...opt('cron', row.cron),
    timezone: row.timezone,
    ...opt('intervalMs', row.interval_ms === null ? null : Number(row.interval_ms)),
    ...opt('startAt', row.start_at?.toISOString()),
    ...opt('endAt', row.end_at?.toISOString()),
    ...opt('maxRuns', row.max_runs),
    runs: row.runs,
    paused: row.paused,
    overlap: row.overlap,
    catchUp: row.catch_up,
    catchUpLimit: row.catch_up_limit,
    ...opt('nextFireAt', row.next_fire_at?.toISOString()),
    ...opt('lastJobId', row.last_job_id),
    ...opt('lastFiredAt', row.last_fired_at?.toISOString()),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export async function advanceSchedule(
  q: Sql,
  row: ScheduleRow,
  lease: string,
  next: { nextFireAt: Date | null; runs: number; lastJobId: string | null; lastFiredAt: Date | null; bufferedAt: Date | null },
): Promise<boolean> {
  const res = await scheduleSql('schedule_advance').run(q, {
    tenant_id: row.tenant_id,
    id: row.id,
    lease,
    next_fire_at: next.nextFireAt,
    runs: next.runs,
    last_job_id: next.lastJobId,
    last_fired_at: next.lastFiredAt,
    buffered_at: next.bufferedAt,
  });
  return res.rows.length > 0;
}
