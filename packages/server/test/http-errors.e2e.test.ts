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
import { EcoErrorBody, expectContract } from '../../../test/support/ecosystem-contracts.js';

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
    app.get('/items/:id', async (req) => ({ params: req.params, query: req.query }));
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

  /** Writes raw bytes over TLS and reads the whole answer (status line, headers, body) until the server closes. */
  const rawHttp = (bytes: string) =>
    new Promise<{ status: number; head: string; body: any; text: string }>((resolve, reject) => {
      const port = (app.server.address() as AddressInfo).port;
      const sock = tlsConnect({ host: '127.0.0.1', port, ca: pki.ca.certPem, servername: 'localhost' }, () => {
        sock.write(bytes);
      });
      let t = '';
      sock.setEncoding('utf8');
      sock.on('data', (c: string) => (t += c));
      sock.on('error', () => undefined);
      sock.on('close', () => {
        const [head = '', text = ''] = t.split('\r\n\r\n', 2) as [string?, string?];
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body, text });
      });
      setTimeout(() => reject(new Error('no answer')), 15_000).unref();
    });

  const expectCleanEnvelope = (res: { status: number; body: any; text?: string }, status: number, code: string, echo?: string) => {
    expect(res.status).toBe(status);
    expectContract(EcoErrorBody, res.body, `${status} ${code}`);
    expect(res.body.error.code).toBe(code);
    const text = JSON.stringify(res.body);
    for (const leak of ['FST_', 'Fastify', 'fastify', 'statusCode', 'Client Error']) expect(text).not.toContain(leak);
    if (echo) expect(text).not.toContain(echo);
  };

  it('answers a URL parameter over the bound with a 414 envelope that does not echo it', async () => {
    const id = 'LONGPARAM'.repeat(40);
    const res = await send(`/items/${id}`, undefined, {}, 'GET');
    expectCleanEnvelope(res, 414, 'URL_TOO_LONG', 'LONGPARAM');
  });

  it('answers a URL that cannot be decoded with a 400 envelope', async () => {
    const res = await send('/items/%E0%A4%A', undefined, {}, 'GET');
    expectCleanEnvelope(res, 400, 'MALFORMED_REQUEST', '%E0');
  });

  it('answers oversized headers (431), bytes that are not HTTP (400) and a request that never finishes (408) with envelopes', async () => {
    const big = await rawHttp(`GET /items/a HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'HEADERMARK'.repeat(2000)}\r\n\r\n`);
    expectCleanEnvelope(big, 431, 'HEADERS_TOO_LARGE', 'HEADERMARK');
    const garbage = await rawHttp('NOT HTTP AT ALL \u0001\u0002\r\n\r\n');
    expectCleanEnvelope(garbage, 400, 'MALFORMED_REQUEST', 'NOT HTTP');
    // headers complete, body promised and never sent: the request timeout (2 s here) ends it
    const slow = await rawHttp(
      'POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":',
    );
    expectCleanEnvelope(slow, 408, 'REQUEST_TIMEOUT');
    expect(slow.body.error.retryable).toBe(true);
  });

  it('answers 413, malformed JSON and a wrong content type with envelopes that echo nothing', async () => {
    expectCleanEnvelope(await raw(JSON.stringify({ blob: 'BODYMARK'.repeat(20_000) })), 413, 'BODY_TOO_LARGE', 'BODYMARK');
    expectCleanEnvelope(await raw('{"BODYMARK": '), 400, 'MALFORMED_JSON', 'BODYMARK');
    expectCleanEnvelope(await raw('BODYMARK=1', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE', 'BODYMARK');
  });

  it.each([
    ['a NUL in a body value', '{"payload":{"data":{"items":["ok","a\\u0000b"]}}}', ['payload', 'data', 'items', '1']],
    ['a lone high surrogate in a body value', '{"source":"x\\ud800"}', ['source']],
    ['a lone low surrogate in a body value', '{"a":[{"b":"\\udc00y"}]}', ['a', '0', 'b']],
    ['a NUL in a body key', '{"data":{"k\\u0000":1}}', ['data', 'k\ufffd']],
    ['a lone surrogate in a body key', '{"\\ud800":1}', ['\ufffd']],
  ])('refuses %s with 400 and its path', async (_name, body, path) => {
    const res = await raw(body);
    expect(res.status).toBe(400);
    expectContract(EcoErrorBody, res.body, 'unstorable');
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', category: 'VALIDATION_ERROR' });
    expect(res.body.error.details).toContainEqual(expect.objectContaining({ path, code: 'unstorable_character' }));
  });

  it('keeps a surrogate pair (an emoji) and other unusual text', async () => {
    const res = await raw('{"e":"\\ud83d\\ude00","z":"\\u0001 tab\\t"}');
    expect(res.status).toBe(200);
    expect(res.body.got).toEqual({ e: '\u{1F600}', z: '\u0001 tab\t' });
  });

  it.each([
    ['a NUL in a URL parameter', '/items/a%00b', ['params', 'id']],
    ['a NUL in a query value', '/items/a?action=%00', ['query', 'action']],
    ['a NUL in a query key', '/items/a?ac%00tion=x', ['query', 'ac\ufffdtion']],
  ])('refuses %s with 400 and its path', async (_name, path, detailPath) => {
    const res = await send(path, undefined, {}, 'GET');
    expect(res.status).toBe(400);
    expectContract(EcoErrorBody, res.body, 'unstorable');
    expect(res.body.error.details).toContainEqual(expect.objectContaining({ path: detailPath, code: 'unstorable_character' }));
  });
});
