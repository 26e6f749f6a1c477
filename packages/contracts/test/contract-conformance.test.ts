// Every error the registry can produce, built the way the services build it, against the ecosystem's
// published ErrorEnvelope (test/support/ecosystem-contracts.ts); and our own schemas refuse what the
// ecosystem's refuse (a dotted ErrorDetail path).
import { describe, expect, it } from 'vitest';
import {
  AppError,
  ERROR_CODES,
  ErrorBody,
  ErrorDetail,
  JobRequest,
  ValidationError,
  allContractJsonSchemas,
  buildErrorEnvelope,
  errorBody,
  parseOrThrow,
  pointerToPath,
  withArrayDetailPaths,
  type ErrorCode,
} from '@controlplane/contracts';
import { EcoErrorBody, EcoErrorDetail, expectContract } from '../../../test/support/ecosystem-contracts.js';
import { validJobRequest } from './fixtures.js';

const CODES = Object.keys(ERROR_CODES) as ErrorCode[];

describe('error envelopes against the ecosystem contract', () => {
  it.each(CODES)('%s, bare and with every optional field, is an ecosystem ErrorBody', (code) => {
    const bare = errorBody(new AppError(code), { service: 'gateway' });
    expectContract(EcoErrorBody, bare, code);
    const full = errorBody(
      new AppError(code, {
        params: { limit: 1, jobType: 't', version: '9', jobId: 'j', id: 'i', resource: 'job', state: 's', expected: 'e', quota: 'q' },
        details: [
          { path: ['payload', 'data', 'items', '0'], message: 'must be a string', code: 'invalid_type' },
          { message: 'whole request' },
        ],
        retryAfter: 2,
      }),
      { service: 'jobforge', operation: 'POST /v1/jobs', correlationId: 'corr-1', causationId: 'cause-1' },
    );
    expectContract(EcoErrorBody, full, `${code} with details`);
    expect(ErrorBody.parse(full)).toEqual(full);
  });

  it('turns Zod issues into array paths with indices as strings', () => {
    const bad = { ...validJobRequest(), metadata: { source: 'x', createdAt: 'yesterday', tags: ['ok', 7] } };
    let err: unknown;
    try {
      parseOrThrow(JobRequest, bad, ['jobs', 3]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    const env = buildErrorEnvelope(err as ValidationError, { service: 'jobforge' });
    expectContract(EcoErrorBody, { error: env }, 'a JobRequest refusal');
    expect(env.details.map((d) => d.path)).toEqual(
      expect.arrayContaining([
        ['jobs', '3', 'metadata', 'createdAt'],
        ['jobs', '3', 'metadata', 'tags', '1'],
      ]),
    );
  });

  it('turns JSON Pointers (Ajv) into array paths, unescaping ~0 and ~1', () => {
    expect(pointerToPath('')).toEqual([]);
    expect(pointerToPath('/items/0/a~1b/c~0d')).toEqual(['items', '0', 'a/b', 'c~d']);
  });

  it('refuses a dotted-string path, as the ecosystem does', () => {
    const dotted = { path: 'payload.data.items[0]', message: 'x' };
    expect(EcoErrorDetail.safeParse(dotted).success).toBe(false);
    expect(ErrorDetail.safeParse(dotted).success).toBe(false);
    expect(ErrorDetail.safeParse({ path: ['payload', 0], message: 'x' }).success).toBe(false);
  });

  it('publishes the array path in the exported JSON Schema', () => {
    const envelope = allContractJsonSchemas().ErrorEnvelope as {
      properties: { details: { items: { properties: { path: { type: string; items: { type: string } } } } } };
    };
    const path = envelope.properties.details.items.properties.path;
    expect(path).toMatchObject({ type: 'array', items: { type: 'string' } });
  });

  it('reads an envelope stored with dotted paths back as arrays', () => {
    const stored = buildErrorEnvelope(new AppError('VALIDATION_FAILED'), { service: 'jobforge' });
    const legacy = {
      ...stored,
      details: [{ path: 'payload.data.items[0]', message: 'm' }, { message: 'whole' }],
    } as unknown as typeof stored;
    const read = withArrayDetailPaths(legacy);
    expect(read.details).toEqual([{ path: ['payload', 'data', 'items', '0'], message: 'm' }, { message: 'whole' }]);
    expectContract(EcoErrorBody, { error: read }, 'a legacy envelope read back');
    expect(withArrayDetailPaths(stored)).toBe(stored);
  });
});
