import { z } from 'zod';
import { IsoDateTime, JsonObject } from './common.js';
import { JobType } from './job.js';

const SemVer = z.string().regex(/^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$/, 'must be a semantic version (e.g. 1.0.0)');

export const RunnerCapability = z.object({
  id: z.string().min(1).max(128),
  name: z.string().min(1).max(256),
  version: SemVer,
  description: z.string().max(4096).default(''),
  inputSchema: JsonObject.default({}),
  outputSchema: JsonObject.default({}),
  supportedJobTypes: z.array(JobType).min(1).max(256),
  maxConcurrency: z.number().int().min(1).max(10_000).default(1),
  timeoutMs: z.number().int().min(1).max(86_400_000).default(30_000),
});
export type RunnerCapability = z.infer<typeof RunnerCapability>;

export const RunnerRegistrationRequest = z.object({
  name: z.string().min(1).max(256),
  version: SemVer,
  contractVersion: SemVer,
  capabilities: z.array(RunnerCapability).min(1).max(256),
  tags: z.array(z.string().min(1).max(128)).max(64).default([]),
});
export type RunnerRegistrationRequest = z.infer<typeof RunnerRegistrationRequest>;
export type RunnerRegistrationRequestInput = z.input<typeof RunnerRegistrationRequest>;

export const RunnerStatus = z.enum(['idle', 'busy', 'draining', 'unhealthy']);
export type RunnerStatus = z.infer<typeof RunnerStatus>;

export const RunnerHeartbeat = z.object({
  runnerId: z.string().min(1).max(256),
  timestamp: IsoDateTime,
  status: RunnerStatus,
  activeJobs: z.number().int().min(0),
  queuedJobs: z.number().int().min(0),
  metrics: z.record(z.string(), z.number()).default({}),
});
export type RunnerHeartbeat = z.infer<typeof RunnerHeartbeat>;
