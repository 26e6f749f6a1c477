import { describe, expect, it } from 'vitest';
import {
  ErrorEnvelope,
  EvidencePacket,
  HealthCheck,
  JobEvent,
  JobRequest,
  JobResponse,
  JobResult,
  JobStatus,
  RunnerHeartbeat,
  RunnerRegistrationRequest,
  TruthAssertion,
  TruthQuery,
  TruthQueryResult,
  ValidationError,
  buildErrorEnvelope,
  AppError,
  evidenceHash,
  parseOrThrow,
} from '@controlplane/contracts';
import { validJobRequest } from './fixtures.js';

describe('JobRequest', () => {
  it('applies the ecosystem defaults', () => {
    const req = JobRequest.parse(validJobRequest());
    expect(req.priority).toBe(50);
    expect(req.timeoutMs).toBe(30_000);
    expect(req.payload.version).toBe('1.0.0');
    expect(req.payload.options).toEqual({});
    expect(req.metadata.tags).toEqual([]);
    expect(req.retryPolicy.maxRetries).toBe(3);
    expect(req.retryPolicy.nonRetryableCategories).toContain('VALIDATION_ERROR');
  });

  it('keeps every ecosystem field', () => {
    const input = {
      ...validJobRequest(),
      priority: 90,
      timeoutMs: 5000,
      metadata: {
        source: 's',
        userId: 'u',
        sessionId: 'sess',
        correlationId: 'corr-12345678',
        causationId: 'cause-12345678',
        tags: ['a'],
        createdAt: '2026-11-28T12:00:00Z',
        scheduledAt: '2026-11-28T12:01:00Z',
        expiresAt: '2026-11-28T13:00:00Z',
      },
      retryPolicy: {
        maxRetries: 1,
        backoffMs: 10,
        maxBackoffMs: 100,
        backoffMultiplier: 3,
        retryableCategories: ['TIMEOUT'],
        nonRetryableCategories: [],
      },
    };
    const req = JobRequest.parse(input);
    expect(req.metadata).toEqual(input.metadata);
    expect(req.retryPolicy).toEqual(input.retryPolicy);
  });

  it.each([
    ['id', { id: 'not-a-uuid' }],
    ['priority', { priority: 101 }],
    ['priority', { priority: 1.5 }],
    ['type', { type: 'Has Spaces' }],
    ['timeoutMs', { timeoutMs: 0 }],
  ])('rejects a bad %s with its field path', (path, patch) => {
    const res = JobRequest.safeParse({ ...validJobRequest(), ...patch });
    expect(res.success).toBe(false);
    expect(res.error?.issues.map((i) => i.path.join('.'))).toContain(path);
  });

  it('reports nested field paths through parseOrThrow', () => {
    const bad = { ...validJobRequest(), payload: { type: 'x', data: 'nope' }, metadata: { source: '', createdAt: 'yesterday' } };
    let err: unknown;
    try {
      parseOrThrow(JobRequest, bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    const paths = (err as ValidationError).details.map((d) => d.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        ['payload', 'data'],
        ['metadata', 'source'],
        ['metadata', 'createdAt'],
      ]),
    );
    expect((err as ValidationError).status).toBe(400);
    expect((err as ValidationError).category).toBe('VALIDATION_ERROR');
  });

  it('refuses expiresAt before scheduledAt and maxBackoffMs below backoffMs', () => {
    const r1 = JobRequest.safeParse({
      ...validJobRequest(),
      metadata: { source: 's', createdAt: '2026-11-28T12:00:00Z', scheduledAt: '2026-11-28T13:00:00Z', expiresAt: '2026-11-28T12:30:00Z' },
    });
    expect(r1.error?.issues[0]?.path).toEqual(['metadata', 'expiresAt']);
    const r2 = JobRequest.safeParse({ ...validJobRequest(), retryPolicy: { backoffMs: 1000, maxBackoffMs: 10 } });
    expect(r2.error?.issues[0]?.path).toEqual(['retryPolicy', 'maxBackoffMs']);
  });

  it('refuses non-JSON values in payload data', () => {
    const res = JobRequest.safeParse({ ...validJobRequest(), payload: { type: 'x', data: { n: Number.NaN } } });
    expect(res.success).toBe(false);
  });
});

describe('other contracts', () => {
  const now = '2026-11-28T12:00:00.000Z';
  const envelope = buildErrorEnvelope(new AppError('JOB_NOT_FOUND', { params: { jobId: 'j1' } }), {
    service: 'jobforge',
    correlationId: 'corr-12345678',
  });

  it('JobStatus is the ecosystem set', () => {
    expect(JobStatus.options).toEqual(['pending', 'queued', 'running', 'completed', 'failed', 'cancelled', 'retrying']);
  });

  it('builds a valid ErrorEnvelope', () => {
    expect(ErrorEnvelope.parse(envelope)).toEqual(envelope);
    expect(envelope).toMatchObject({
      category: 'RESOURCE_NOT_FOUND',
      code: 'JOB_NOT_FOUND',
      message: 'Job j1 was not found.',
      retryable: false,
      contractVersion: { major: 1, minor: 0, patch: 0 },
    });
  });

  it('accepts valid JobResult, JobResponse and JobEvent', () => {
    const result = JobResult.parse({
      success: false,
      error: envelope,
      metadata: { completedAt: now, durationMs: 5, attempts: 2, runnerId: 'r1' },
    });
    const req = JobRequest.parse(validJobRequest());
    expect(JobResponse.parse({ id: req.id, status: 'failed', request: req, result, updatedAt: now }).status).toBe('failed');
    expect(
      JobEvent.safeParse({
        id: req.id,
        type: 'job.progress',
        jobId: req.id,
        timestamp: now,
        data: { pct: 50 },
        metadata: { service: 'jobforge', version: '0.1.0' },
      }).success,
    ).toBe(true);
    expect(
      JobEvent.safeParse({
        id: req.id,
        type: 'job.exploded',
        jobId: req.id,
        timestamp: now,
        metadata: { service: 'jobforge', version: '0.1.0' },
      }).success,
    ).toBe(false);
  });

  it('TruthAssertion requires subject and predicate and bounds confidence', () => {
    const ok = TruthAssertion.parse({
      id: '3f2b8c1e-6d4a-4b5e-9c7d-1a2b3c4d5e6f',
      subject: 'job:1',
      predicate: 'status',
      object: 'done',
      timestamp: now,
      source: 'jobforge',
    });
    expect(ok.confidence).toBe(1);
    expect(ok.metadata).toEqual({});
    const bad = TruthAssertion.safeParse({ id: ok.id, object: 1, timestamp: now, source: 's', confidence: 2 });
    expect(bad.error?.issues.map((i) => i.path[0])).toEqual(expect.arrayContaining(['subject', 'predicate', 'confidence']));
  });

  it('TruthQuery defaults and TruthQueryResult shape', () => {
    const q = TruthQuery.parse({ pattern: { subject: 'job:1' } });
    expect(q).toMatchObject({ limit: 100, offset: 0, filters: { minConfidence: 0 } });
    expect(TruthQuery.safeParse({ limit: 100_000 }).success).toBe(false);
    expect(TruthQueryResult.parse({ assertions: [], totalCount: 0, hasMore: false, queryTimeMs: 1.5 }).hasMore).toBe(false);
  });

  it('RunnerRegistrationRequest and RunnerHeartbeat', () => {
    const reg = RunnerRegistrationRequest.parse({
      name: 'demo',
      version: '0.1.0',
      contractVersion: '1.0.0',
      capabilities: [{ id: 'echo', name: 'Echo', version: '1.0.0', supportedJobTypes: ['echo'] }],
    });
    expect(reg.capabilities[0]).toMatchObject({ maxConcurrency: 1, timeoutMs: 30_000, inputSchema: {} });
    expect(RunnerRegistrationRequest.safeParse({ ...reg, capabilities: [] }).error?.issues[0]?.path).toEqual(['capabilities']);
    expect(
      RunnerHeartbeat.safeParse({ runnerId: 'r', timestamp: now, status: 'busy', activeJobs: 1, queuedJobs: 0, metrics: { cpu: 0.5 } })
        .success,
    ).toBe(true);
    expect(RunnerHeartbeat.safeParse({ runnerId: 'r', timestamp: now, status: 'asleep', activeJobs: -1, queuedJobs: 0 }).success).toBe(
      false,
    );
  });

  it('HealthCheck', () => {
    expect(
      HealthCheck.safeParse({
        status: 'healthy',
        service: 'gateway',
        version: '0.1.0',
        timestamp: now,
        uptime: 3,
        checks: [{ name: 'db', status: 'healthy' }],
      }).success,
    ).toBe(true);
    expect(
      HealthCheck.safeParse({ status: 'fine', service: 'gateway', version: '0.1.0', timestamp: now, uptime: 3, checks: [] }).success,
    ).toBe(false);
  });

  it('EvidencePacket carries the canonical hash of its items', () => {
    const items = [{ key: 'b', value: { z: 1, a: [true, null] }, source: 'runner', redacted: false }];
    const hash = evidenceHash(items);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(
      EvidencePacket.safeParse({ id: '3f2b8c1e-6d4a-4b5e-9c7d-1a2b3c4d5e6f', runner: 'r1', timestamp: now, hash, items }).success,
    ).toBe(true);
    expect(
      EvidencePacket.safeParse({ id: '3f2b8c1e-6d4a-4b5e-9c7d-1a2b3c4d5e6f', runner: 'r1', timestamp: now, hash: 'ABC', items }).success,
    ).toBe(false);
  });
});
