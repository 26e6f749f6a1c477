// Hostile input through the gateway of the system `controlplane dev` composes: strings PostgreSQL
// cannot hold (NUL, unpaired surrogates) in every stored field, id, filter and query are refused
// with 400 and their path; then fast-check throws arbitrary JSON and strings at every route of the
// route table and must see no 5xx and a healthy system afterwards.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '@controlplane/server';
import { EcoErrorBody, EcoHealthCheck, expectContract } from '../../../test/support/ecosystem-contracts.js';
import { hostileJson, hostileSegment, hostileString } from './support/hostile-input.js';
import { startDevSystem, type DevSystem } from './support/dev-system.js';

const job = (over: Record<string, unknown> = {}, data: Record<string, unknown> = { a: 1 }) => ({
  id: randomUUID(),
  type: 'echo',
  payload: { type: 'echo', data },
  metadata: { source: 'hardening', createdAt: new Date().toISOString() },
  ...over,
});

describe('hardened input through the gateway', () => {
  let dev: DevSystem;

  beforeAll(async () => {
    dev = await startDevSystem('cp-hardening-');
  });
  afterAll(async () => {
    await dev?.close();
  });

  const NUL = 'a\u0000b';
  const LONE = 'x\ud800';
  const assertion = (over: Record<string, unknown> = {}) => ({
    id: randomUUID(),
    subject: 'device:h1',
    predicate: 'temperature',
    object: 20,
    source: 'sensor',
    timestamp: new Date().toISOString(),
    ...over,
  });

  it.each<[string, string, string, unknown, string[], { sign?: boolean; platform?: boolean }?]>([
    ['job data value', 'POST', '/jobs', job({}, { note: NUL }), ['payload', 'data', 'note']],
    ['job data value in an array', 'POST', '/jobs', job({}, { items: ['ok', LONE] }), ['payload', 'data', 'items', '1']],
    ['job data key', 'POST', '/jobs', job({}, { [`k${NUL}`]: 1 }), ['payload', 'data', 'ka\ufffdb']],
    ['job options', 'POST', '/jobs', { ...job(), payload: { type: 'echo', data: {}, options: { o: LONE } } }, ['payload', 'options', 'o']],
    ['metadata.source', 'POST', '/jobs', job({ metadata: { source: NUL, createdAt: new Date().toISOString() } }), ['metadata', 'source']],
    [
      'metadata.source (lone surrogate)',
      'POST',
      '/jobs',
      job({ metadata: { source: LONE, createdAt: new Date().toISOString() } }),
      ['metadata', 'source'],
    ],
    [
      'a tag',
      'POST',
      '/jobs',
      job({ metadata: { source: 's', tags: [NUL], createdAt: new Date().toISOString() } }),
      ['metadata', 'tags', '0'],
    ],
    ['the job id', 'POST', '/jobs', job({ id: NUL }), ['id']],
    ['the job type', 'POST', '/jobs', job({ type: LONE }), ['type']],
    ['a batch item', 'POST', '/jobs/batch', { jobs: [job(), job({}, { x: NUL })] }, ['jobs', '1', 'payload', 'data', 'x']],
    ['an assertion subject', 'POST', '/assert', assertion({ subject: NUL }), ['subject']],
    ['an assertion object', 'POST', '/assert', assertion({ object: { deep: [LONE] } }), ['object', 'deep', '0']],
    ['an assertion source', 'POST', '/assert', assertion({ source: LONE }), ['source']],
    ['an assertion metadata key', 'POST', '/assert', assertion({ metadata: { [NUL]: true } }), ['metadata', 'a\ufffdb']],
    ['a TruthQuery subject pattern', 'POST', '/query', { pattern: { subject: NUL } }, ['pattern', 'subject']],
    ['a TruthQuery object pattern', 'POST', '/query', { pattern: { object: { v: LONE } } }, ['pattern', 'object', 'v']],
    ['a TruthQuery source filter', 'POST', '/query', { filters: { sources: [NUL] } }, ['filters', 'sources', '0']],
    ['an API key name', 'POST', '/admin/api-keys', { name: NUL, role: 'viewer' }, ['name'], { sign: true }],
    ['a tenant id', 'POST', '/admin/tenants', { id: NUL, name: 'n' }, ['id'], { sign: true, platform: true }],
    [
      'a job type contract',
      'PUT',
      '/admin/job-types/t1',
      { inputSchema: { type: 'object', description: NUL } },
      ['inputSchema', 'description'],
      { sign: true },
    ],
  ])('refuses a NUL or lone surrogate in %s with 400 and its path', async (_what, method, path, body, detailPath, o = {}) => {
    const res = await dev.call(method, path, body, o);
    expect(res.status, res.text).toBe(400);
    expectContract(EcoErrorBody, res.body, `${method} ${path}`);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', category: 'VALIDATION_ERROR' });
    expect(res.body.error.details).toContainEqual(expect.objectContaining({ path: detailPath, code: 'unstorable_character' }));
  });

  it.each<[string, string, string, string[], { sign?: boolean; platform?: boolean }?]>([
    ['a job id', 'GET', '/jobs/a%00b', ['params', 'id']],
    ['a job id (cancel)', 'POST', '/jobs/%00/cancel', ['params', 'id'], { sign: true }],
    ['an assertion id', 'GET', '/assertions/%00', ['params', 'id']],
    ['a job type name', 'GET', '/admin/job-types/t%00', ['params', 'type']],
    ['a tenant id', 'GET', '/admin/tenants/%00/quotas', ['params', 'id']],
    ['a job list filter', 'GET', '/jobs?type=%00', ['query', 'type']],
    ['a job list cursor', 'GET', '/jobs?cursor=a%00', ['query', 'cursor']],
    ['an audit filter', 'GET', '/admin/audit?action=%00', ['query', 'action']],
    ['an audit filter name', 'GET', '/admin/audit?act%00ion=x', ['query', 'act\ufffdion']],
    ['a subscription subject', 'GET', '/subscribe?subject=%00', ['query', 'subject']],
  ])('refuses a NUL in %s with 400 and its path', async (_what, method, path, detailPath, o = {}) => {
    const res = await dev.call(method, path, undefined, o);
    expect(res.status, res.text).toBe(400);
    expectContract(EcoErrorBody, res.body, `${method} ${path}`);
    expect(res.body.error.details).toContainEqual(expect.objectContaining({ path: detailPath, code: 'unstorable_character' }));
  });

  it('refuses a NUL in the enrolment listener', async () => {
    const res = await dev.call('POST', '/enroll', { joinToken: 'cpjt_x', csr: 'x', name: NUL }, { base: dev.system.jobforge.enrollUrl });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toContainEqual(expect.objectContaining({ path: ['name'], code: 'unstorable_character' }));
  });

  it('answers arbitrary JSON and strings on every route with no 5xx, and stays healthy', async () => {
    const templates: Record<string, (data: unknown) => unknown> = {
      'jobs.submit': (data) => job({}, { data }),
      'jobs.submitBatch': (data) => ({ jobs: [job({}, { data })] }),
      'truth.assert': (object) => assertion({ object }),
      'truth.query': (object) => ({ pattern: { object } }),
    };
    const routes = ROUTES.filter((r) => r.id !== 'health');
    const request = fc.record({
      route: fc.constantFrom(...routes),
      params: fc.array(hostileSegment(), { minLength: 2, maxLength: 2 }),
      query: fc.dictionary(hostileString(), hostileString(), { maxKeys: 3 }),
      body: fc.oneof(
        hostileJson().map((v) => ({ json: v })),
        hostileString().map((s) => ({ raw: s })),
        hostileJson().map((v) => ({ template: v })),
      ),
    });
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async ({ route, params, query, body }) => {
        let i = 0;
        const path = route.path.replace(/:[A-Za-z]+/g, () => params[i++] ?? 'x');
        const qs = Object.entries(query)
          .map(([k, v]) => `${hostileQueryPart(k)}=${hostileQueryPart(v)}`)
          .join('&');
        const url = qs ? `${path}?${qs}` : path;
        const hasBody = route.method !== 'GET';
        const make = templates[route.id];
        const o = { sign: route.signed, platform: route.access === 'platform' };
        const res = !hasBody
          ? await dev.call(route.method, url, undefined, o)
          : 'raw' in body
            ? await dev.call(route.method, url, undefined, { ...o, rawBody: body.raw })
            : await dev.call(
                route.method,
                url,
                'template' in body && make ? make(body.template) : 'json' in body ? body.json : body.template,
                o,
              );
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
        expect(res.status, `${route.method} ${url}: ${res.text.slice(0, 300)}`).toBeLessThan(500);
        if (res.status >= 400) expectContract(EcoErrorBody, res.body, `${route.method} ${url}`);
      }),
      { numRuns: 150 },
    );
    expect([...seen.keys()].some((s) => s === 400)).toBe(true);
    const health = await dev.call('GET', '/health');
    expect(health.status).toBe(200);
    expect(expectContract(EcoHealthCheck, health.body, 'health').status).toBe('healthy');
    expect((await dev.call('POST', '/jobs', job())).status).toBe(202);
  }, 300_000);
});

/** A query key or value as a client might send it: percent-encoded when it can be, raw bytes when it cannot. */
function hostileQueryPart(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return '%ED%A0%80'; // a lone surrogate in (invalid) UTF-8
  }
}
