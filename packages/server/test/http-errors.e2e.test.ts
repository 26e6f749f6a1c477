// The shared HTTP layer over real HTTPS: errors become envelopes without internals, logs carry the
// correlation id without secrets, and hostile bodies and slow clients are refused without a 5xx.
import { connect as tlsConnect } from 'node:tls';
import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, InternalError } from '@controlplane/contracts';
import { createLogger, requestJson, type JsonResponse } from '@controlplane/platform';
import { createHttpApp, type HttpApp } from '@controlplane/server';
import { createPkiFixture, type PkiFixture } from './support/pki-fixture.js';

const SECRET = 'sk_live_SECRET-MARKER-4f1c';

class PgLikeError extends Error {
  constructor() {
    super(
      'duplicate key value violates unique constraint "jobs_pkey" in SELECT * FROM jobs WHERE tenant_id = $1 at /srv/controlplane/packages/server/src/jobforge/job-store.ts:42',
    );
    this.name = 'PgLikeError';
  }
}

async function deepInside(): Promise<never> {
  await sleep(1);
  await Promise.resolve();
  throw new PgLikeError();
}

describe('HTTP error handling over HTTPS', () => {
  let pki: PkiFixture;
  let app: HttpApp;
  let base: string;
  let agent: Agent;
  const lines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    pki = await createPkiFixture();
    const destination = new Writable({
      write(chunk, _e, cb) {
        for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const m = pki.material('gateway');
    app = createHttpApp({
      service: 'gateway',
      logger: createLogger({ service: 'gateway', level: 'info', destination }),
      https: { cert: m.cert, key: m.key, minVersion: 'TLSv1.3' },
      bodyLimitBytes: 64 * 1024,
      jsonMaxDepth: 32,
      headersTimeoutMs: 1_000,
      requestTimeoutMs: 2_000,
    });
    app.post('/boom', async (req) => {
      req.log.info({ apiKey: SECRET, payload: { data: SECRET }, headers: { authorization: `Bearer ${SECRET}` } }, 'about to fail');
      return deepInside();
    });
    app.post('/echo', async (req) => ({ got: req.body }));
    app.get('/refuse', async () => {
      throw new AppError('RATE_LIMITED', { retryAfter: 7 });
    });
    app.get('/internal', async () => {
      throw new InternalError('CP_CRYPTO_DECRYPT_AUTHENTICATION_FAILED', { params: { where: 'jobs.request of row row-MARKER-77' } });
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `https://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    agent = new Agent({ ca: pki.ca.certPem, keepAlive: false });
  });

  afterAll(async () => {
    agent?.destroy();
    await app?.close();
    pki?.cleanup();
  });

  const send = (
    path: string,
    body: unknown,
    headers: Record<string, string> = {},
    method: 'GET' | 'POST' = 'POST',
  ): Promise<JsonResponse<any>> => requestJson({ url: `${base}${path}`, method, body, agent, headers });

  it('turns an error raised deep in a handler into an envelope with no internals', async () => {
    const res = await send('/boom', { apiKey: SECRET }, { 'x-correlation-id': 'client-corr-0001', authorization: `Bearer ${SECRET}` });
    expect(res.status).toBe(500);
    expect(res.headers['x-correlation-id']).toBe('client-corr-0001');
    expect(res.body.error).toMatchObject({
      code: 'INTERNAL',
      category: 'INTERNAL_ERROR',
      service: 'gateway',
      correlationId: 'client-corr-0001',
      retryable: false,
      operation: 'POST /boom',
    });
    const text = JSON.stringify(res.body);
    for (const leak of ['jobs_pkey', 'SELECT', '/srv/', 'job-store.ts', 'PgLikeError', 'stack', 'deepInside', SECRET])
      expect(text).not.toContain(leak);

    await sleep(100); // the completion line is written after the response
    const failure = lines.find((l) => l.msg === 'request failed');
    expect(failure).toBeDefined();
    expect(failure!.correlationId).toBe('client-corr-0001');
    expect(JSON.stringify(failure)).toContain('jobs_pkey'); // the detail is in the log...
    const mine = lines.filter((l) => l.correlationId === 'client-corr-0001');
    expect(mine.map((l) => l.msg)).toEqual(expect.arrayContaining(['about to fail', 'request failed', 'request completed']));
    expect(JSON.stringify(lines)).not.toContain(SECRET); // ...but no secret is, on any line
  });

  it('answers an internal error (a CP_* code) as INTERNAL: its code, message and params reach the log only', async () => {
    const res = await send('/internal', undefined, { 'x-correlation-id': 'client-corr-0002' }, 'GET');
    expect(res.status).toBe(500);
    expect(res.body.error).toMatchObject({ code: 'INTERNAL', category: 'INTERNAL_ERROR', retryable: false });
    const text = JSON.stringify(res.body);
    for (const leak of ['CP_', 'Cannot decrypt', 'row-MARKER-77', 'InternalError']) expect(text).not.toContain(leak);

    await sleep(100);
    const failure = lines.find((l) => l.msg === 'request failed' && l.correlationId === 'client-corr-0002');
    expect(JSON.stringify(failure)).toContain('CP_CRYPTO_DECRYPT_AUTHENTICATION_FAILED');
    expect(JSON.stringify(failure)).toContain('row-MARKER-77');
  });

  it('makes a correlation id when the caller sends none or a malformed one', async () => {
    const res = await send('/echo', { a: 1 }, { 'x-correlation-id': 'bad id\twith tab' });
    expect(res.status).toBe(200);
    expect(res.headers['x-correlation-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sends security headers and Retry-After', async () => {
    const res = await send('/refuse', undefined, {}, 'GET');
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.body.error).toMatchObject({ code: 'RATE_LIMITED', retryable: true, retryAfter: 7 });
    expect(res.headers['strict-transport-security']).toContain('max-age=');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-store');
  });

  /** Sends a body exactly as given (a 10,000-level body cannot go through JSON.stringify). */
  const raw = (body: string, type = 'application/json') =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = httpsRequest(`${base}/echo`, { method: 'POST', agent, headers: { 'content-type': type } }, (res) => {
        let t = '';
        res.on('data', (c: Buffer) => (t += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(t) }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it.each([
    ['an oversized body', () => JSON.stringify({ blob: 'x'.repeat(100 * 1024) }), 413, 'BODY_TOO_LARGE'],
    ['a 10,000-level nested body', () => '['.repeat(10_000) + ']'.repeat(10_000), 400, 'JSON_TOO_DEEP'],
    ['a 10,000-level nested object body', () => '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000), 400, 'JSON_TOO_DEEP'],
    ['a __proto__ key', () => '{"a":{"__proto__":{"polluted":true}}}', 400, 'FORBIDDEN_KEY'],
    ['a constructor.prototype key', () => '{"constructor":{"prototype":{"polluted":true}}}', 400, 'FORBIDDEN_KEY'],
  ])('refuses %s with a 4xx envelope', async (_name, make, status, code) => {
    const res = await raw(make());
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses malformed JSON, a wrong content type and an unknown route', async () => {
    expect((await raw('{"a":', 'application/json')).body.error.code).toBe('MALFORMED_JSON');
    expect((await raw('a=1', 'application/x-www-form-urlencoded')).status).toBe(415);
    const nf = await send('/nowhere', undefined, {}, 'GET');
    expect(nf.status).toBe(404);
    expect(nf.body.error.code).toBe('ROUTE_NOT_FOUND');
  });

  it('refuses plain HTTP on the HTTPS port', async () => {
    const port = (app.server.address() as AddressInfo).port;
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/echo', method: 'GET', timeout: 3_000 }, (res) =>
        resolve(`answered ${res.statusCode}`),
      );
      req.on('error', (err) => resolve(`refused: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
    expect(outcome).toMatch(/^refused/);
  });

  it('closes a slow-loris connection that never finishes its headers', async () => {
    const port = (app.server.address() as AddressInfo).port;
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const sock = tlsConnect({ host: '127.0.0.1', port, ca: pki.ca.certPem, servername: 'localhost' }, () => {
        sock.write('POST /echo HTTP/1.1\r\nHost: localhost\r\n');
        const drip = setInterval(() => {
          if (!sock.destroyed) sock.write('X-Slow: 1\r\n');
        }, 200);
        sock.on('close', () => {
          clearInterval(drip);
          resolve(Date.now() - started);
        });
      });
      sock.on('error', () => undefined);
      setTimeout(() => reject(new Error('slow-loris connection was never closed')), 15_000).unref();
    });
    expect(closedAfter).toBeLessThan(10_000);
  });
});
