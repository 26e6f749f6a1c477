import { z } from 'zod';
import { IsoDateTime, JsonObject } from './common.js';
import { JobType, RetryPolicy } from './job.js';

export const SCHEDULE_OVERLAP_POLICIES = ['skip', 'buffer-one', 'allow', 'cancel-previous'] as const;
export const SCHEDULE_CATCH_UP_POLICIES = ['skip', 'latest', 'all'] as const;

/** The job each fire submits: an ordinary JobRequest without its id and times (those come from the slot). */
export const ScheduleJobTemplate = z.object({
  type: JobType,
  priority: z.number().int().min(0).max(100).optional(),
  data: JsonObject.default({}),
  options: JsonObject.optional(),
  tags: z.array(z.string().min(1).max(128)).max(64).optional(),
  concurrencyKey: z.string().min(1).max(256).optional(),
  retryPolicy: RetryPolicy.optional(),
  timeoutMs: z.number().int().min(1).max(86_400_000).optional(),
});
export type ScheduleJobTemplate = z.infer<typeof ScheduleJobTemplate>;

/** A schedule as a client creates it: a job template and when to fire it. */
export const ScheduleInput = z
  .object({
    id: z.uuid().optional(),
    name: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[a-z0-9][a-z0-9._:-]*$/, 'must be lowercase letters, digits and . _ : -'),
    job: ScheduleJobTemplate,
    /** A cron expression (5 or 6 fields), read in `timezone`. */
    cron: z.string().min(1).max(256).optional(),
    timezone: z.string().min(1).max(64).default('UTC'),
    /** Or a fixed interval from `startAt` (or the creation time). */
    intervalMs: z
      .number()
      .int()
      .min(1000)
      .max(366 * 86_400_000)
      .optional(),
    startAt: IsoDateTime.optional(),
    endAt: IsoDateTime.optional(),
    maxRuns: z.number().int().min(1).max(1_000_000_000).optional(),
    paused: z.boolean().default(false),
    overlap: z.enum(SCHEDULE_OVERLAP_POLICIES).default('allow'),
    catchUp: z.enum(SCHEDULE_CATCH_UP_POLICIES).default('latest'),
    /** Under catchUp `all`: the most missed slots fired after downtime. */
    catchUpLimit: z.number().int().min(1).max(1000).default(10),
  })
  .refine((s) => (s.cron === undefined) !== (s.intervalMs === undefined), {
    message: 'give exactly one of cron and intervalMs',
    path: ['cron'],
  })
  .refine((s) => !s.startAt || !s.endAt || s.endAt > s.startAt, { message: 'must be after startAt', path: ['endAt'] });
export type ScheduleInput = z.input<typeof ScheduleInput>;

export const Schedule = z.object({
  id: z.uuid(),
  name: z.string(),
  job: ScheduleJobTemplate,
  cron: z.string().optional(),
  timezone: z.string(),
  intervalMs: z.number().int().optional(),
  startAt: IsoDateTime.optional(),
  endAt: IsoDateTime.optional(),
  maxRuns: z.number().int().optional(),
  runs: z.number().int(),
  paused: z.boolean(),
  overlap: z.enum(SCHEDULE_OVERLAP_POLICIES),
  catchUp: z.enum(SCHEDULE_CATCH_UP_POLICIES),
  catchUpLimit: z.number().int(),
  nextFireAt: IsoDateTime.optional(),
  lastJobId: z.uuid().optional(),
  lastFiredAt: IsoDateTime.optional(),
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
});
export type Schedule = z.infer<typeof Schedule>;
