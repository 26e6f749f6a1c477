import { z } from 'zod';
import { IsoDateTime } from './common.js';

export const HealthStatus = z.enum(['healthy', 'degraded', 'unhealthy']);
export type HealthStatus = z.infer<typeof HealthStatus>;

export const HealthCheck = z.object({
  status: HealthStatus,
  service: z.string().min(1),
  version: z.string().min(1),
  timestamp: IsoDateTime,
  /** Seconds since the process started. */
  uptime: z.number().nonnegative(),
  checks: z.array(
    z.object({
      name: z.string().min(1),
      status: HealthStatus,
      /** A public, non-internal summary (e.g. "reachable"); never an error text. */
      message: z.string().optional(),
      durationMs: z.number().nonnegative().optional(),
    }),
  ),
});
export type HealthCheck = z.infer<typeof HealthCheck>;
