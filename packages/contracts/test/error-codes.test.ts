import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  AppError,
  ERROR_CATEGORIES,
  ERROR_CODES,
  appErrorFromEnvelope,
  buildErrorEnvelope,
  errorBody,
  toAppError,
} from '@controlplane/contracts';

const docs = readFileSync(fileURLToPath(new URL('../../../docs/errors.md', import.meta.url)), 'utf8');

describe('error registry', () => {
  it.each(Object.entries(ERROR_CODES))('%s is documented in docs/errors.md with its status and category', (code, spec) => {
    const row = docs.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
    expect(row, `docs/errors.md has no row for ${code}`).toBeDefined();
    expect(row).toContain(`| ${spec.status} |`);
    expect(row).toContain(`| ${spec.category} |`);
    expect(row).toContain(`| ${spec.retryable ? 'yes' : 'no'} |`);
  });

  it('uses only envelope categories and sane statuses', () => {
    for (const spec of Object.values(ERROR_CODES)) {
      expect(ERROR_CATEGORIES).toContain(spec.category);
      expect(spec.status).toBeGreaterThanOrEqual(400);
      expect(spec.status).toBeLessThan(600);
    }
  });

  it('every 429/503 code is retryable', () => {
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      if (spec.status === 429 || spec.status === 503) expect(spec.retryable, code).toBe(true);
    }
  });
});

describe('toAppError and envelopes', () => {
  it('turns unknown errors into INTERNAL without their text', () => {
    const secret = new Error('duplicate key value violates unique constraint "jobs_pkey" at /srv/app/src/jobs.ts:12');
    const body = errorBody(secret, { service: 'jobforge', correlationId: 'corr-00000001' });
    expect(body.error.code).toBe('INTERNAL');
    expect(body.error.category).toBe('INTERNAL_ERROR');
    const text = JSON.stringify(body);
    expect(text).not.toContain('jobs_pkey');
    expect(text).not.toContain('/srv/app');
    expect(text).not.toContain('stack');
    expect(toAppError(secret).cause).toBe(secret);
  });

  it('keeps an AppError as it is and carries retryAfter', () => {
    const err = new AppError('RATE_LIMITED', { retryAfter: 3 });
    expect(toAppError(err)).toBe(err);
    const env = buildErrorEnvelope(err, { service: 'gateway' });
    expect(env).toMatchObject({ code: 'RATE_LIMITED', retryable: true, retryAfter: 3, category: 'RATE_LIMITED' });
  });

  it('round-trips an envelope from another service', () => {
    const env = buildErrorEnvelope(new AppError('QUOTA_EXCEEDED', { params: { quota: 'queued jobs' }, retryAfter: 10 }), {
      service: 'jobforge',
    });
    const back = appErrorFromEnvelope(env);
    expect(back.code).toBe('QUOTA_EXCEEDED');
    expect(back.status).toBe(409);
    expect(back.retryAfter).toBe(10);
    expect(back.message).toBe('The tenant quota for queued jobs is exhausted.');
  });

  it('maps an unknown code from another service to INTERNAL', () => {
    const env = { ...buildErrorEnvelope(new AppError('FORBIDDEN'), { service: 'x' }), code: 'SOMETHING_NEW' };
    expect(appErrorFromEnvelope(env).code).toBe('INTERNAL');
  });
});
