import { z } from 'zod';

export const ERROR_CATEGORIES = [
  'VALIDATION_ERROR',
  'SCHEMA_MISMATCH',
  'RUNTIME_ERROR',
  'TIMEOUT',
  'NETWORK_ERROR',
  'AUTHENTICATION_ERROR',
  'AUTHORIZATION_ERROR',
  'RESOURCE_NOT_FOUND',
  'RESOURCE_CONFLICT',
  'RATE_LIMITED',
  'SERVICE_UNAVAILABLE',
  'RUNNER_ERROR',
  'TRUTHCORE_ERROR',
  'INTERNAL_ERROR',
] as const;
export const ErrorCategory = z.enum(ERROR_CATEGORIES);
export type ErrorCategory = z.infer<typeof ErrorCategory>;

export const ErrorSeverity = z.enum(['fatal', 'error', 'warning', 'info']);
export type ErrorSeverity = z.infer<typeof ErrorSeverity>;

export const ContractVersion = z.object({
  major: z.number().int().nonnegative(),
  minor: z.number().int().nonnegative(),
  patch: z.number().int().nonnegative(),
});
export type ContractVersion = z.infer<typeof ContractVersion>;

/**
 * Where in the request a problem is: property names, and array indices written as strings
 * (`["payload","data","items","0"]`), as the ecosystem's `z.array(z.string())` publishes it.
 */
export const ErrorDetailPath = z.array(z.string().max(1024)).max(64);
export type ErrorDetailPath = z.infer<typeof ErrorDetailPath>;

export const ErrorDetail = z.object({
  path: ErrorDetailPath.optional(),
  message: z.string().max(4096),
  code: z.string().max(128).optional(),
});
export type ErrorDetail = z.infer<typeof ErrorDetail>;

export const ErrorEnvelope = z.object({
  id: z.uuid(),
  timestamp: z.iso.datetime({ offset: true }),
  category: ErrorCategory,
  severity: ErrorSeverity,
  code: z.string().min(1).max(128),
  message: z.string().max(4096),
  details: z.array(ErrorDetail).max(256).default([]),
  service: z.string().min(1).max(128),
  operation: z.string().max(256).optional(),
  correlationId: z.string().max(128).optional(),
  causationId: z.string().max(128).optional(),
  retryable: z.boolean(),
  /** Seconds the caller should wait before trying again. */
  retryAfter: z.number().nonnegative().optional(),
  contractVersion: ContractVersion,
});
export type ErrorEnvelope = z.infer<typeof ErrorEnvelope>;

/** Every error body on the wire is `{ "error": ErrorEnvelope }`. */
export const ErrorBody = z.object({ error: ErrorEnvelope });
export type ErrorBody = z.infer<typeof ErrorBody>;
