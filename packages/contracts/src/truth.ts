import { z } from 'zod';
import { IsoDateTime, JsonObject } from './common.js';

export const TruthAssertion = z.object({
  id: z.uuid(),
  subject: z.string().min(1).max(1024),
  predicate: z.string().min(1).max(256),
  object: z.json(),
  confidence: z.number().min(0).max(1).default(1),
  timestamp: IsoDateTime,
  source: z.string().min(1).max(256),
  expiresAt: IsoDateTime.optional(),
  metadata: JsonObject.default({}),
});
export type TruthAssertion = z.infer<typeof TruthAssertion>;
export type TruthAssertionInput = z.input<typeof TruthAssertion>;

export const TruthQuery = z.object({
  id: z.uuid().optional(),
  pattern: z
    .object({
      subject: z.string().min(1).max(1024).optional(),
      predicate: z.string().min(1).max(256).optional(),
      object: z.json().optional(),
    })
    .default({}),
  filters: z
    .object({
      minConfidence: z.number().min(0).max(1).default(0),
      sources: z.array(z.string().min(1).max(256)).max(64).optional(),
      before: IsoDateTime.optional(),
      after: IsoDateTime.optional(),
    })
    .default({ minConfidence: 0 }),
  limit: z.number().int().min(1).max(1000).default(100),
  offset: z.number().int().min(0).max(1_000_000).default(0),
});
export type TruthQuery = z.infer<typeof TruthQuery>;
export type TruthQueryInput = z.input<typeof TruthQuery>;

export const TruthQueryResult = z.object({
  assertions: z.array(TruthAssertion),
  totalCount: z.number().int().nonnegative(),
  hasMore: z.boolean(),
  queryTimeMs: z.number().nonnegative(),
});
export type TruthQueryResult = z.infer<typeof TruthQueryResult>;
