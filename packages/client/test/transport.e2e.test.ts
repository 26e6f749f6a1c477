// The client against a stub HTTPS gateway that answers exactly what each test scripts: retries
// honouring Retry-After within bounds, which failures are retried for which calls, typed errors,
// HTTPS-only with a custom CA, re-signing per attempt, and the job event stream with resumption.
import { randomUUID, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ConnectionError,
  ControlPlaneClient,
  ControlPlaneError,
  InvalidRequestError,
  NotFoundError,
  RateLimitedError,
  UnavailableError,
  parseRetryAfter,
  type RetryNotice,
} from '@controlplane/client';
import { generateSigningKeyPair, initPki, InMemoryNonceStore, servicePkiFiles, verifyRequestSignature } from '@controlplane/platform';

const KEY = `cpk_0123456789abcdef_${'A'.repeat(43)}`;

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Script = (req: IncomingMessage, res: ServerResponse, body: string, n: number) => void;

function envelope(code: string, fields: { category?: string; retryable?: boolean; retryAfter?: number; message?: string } = {}) {
  return {
    error: {
      id: randomUUID(),
      timestamp: new Date().toISOString(),
      category: fields.category ?? 'INTERNAL_ERROR',
      severity: 'error',
      code,
      message: fields.message ?? `${code} happened`,
      details: [],
      service: 'gateway',
      correlationId: 'c-1',
      retryable: fields.retryable ?? false,
      ...(fields.retryAfter !== undefined ? { retryAfter: fields.retryAfter } : {}),
      contractVersion: { major: 1, minor: 0, patch: 0 },
    },
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const job = (id: string, status = 'queued') => ({
  id,
  status,
  request: {
    id,
    type: 'echo',
    priority: 50,
    payload: { type: 'echo', version: '1.0.0', data: {}, options: {} },
    metadata: { source: 't', tags: [], createdAt: new Date().toISOString() },
    retryPolicy: {},
    timeoutMs: 30000,
  },
  updatedAt: new Date().toISOString(),
});

describe('client transport against a stub gateway', () => {
  let dir: string;
  let server: Server;
  let url: string;
  let ca: string;
  let script: Script = (_req, res) => send(res, 500, {});
  const seen: Seen[] = [];
  const signing = generateSigningKeyPair();
  const clients: ControlPlaneClient[] = [];

  const client = (o: Partial<ConstructorParameters<typeof ControlPlaneClient>[0]> = {}) => {
    const c = new ControlPlaneClient({
      url,
      apiKey: KEY,
      ca,
      signingKey: { keyId: 'k1', privateKey: signing.privateKeyPem },
      retry: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 5_000 },
      ...o,
    });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cp-client-'));
    await initPki({ dir, trustDomain: 'client.test', services: ['gateway'] });
    const files = servicePkiFiles(dir, 'gateway');
    ca = readFileSync(files.caFile, 'utf8');
    server = createServer({ cert: readFileSync(files.certFile), key: readFileSync(files.keyFile), minVersion: 'TLSv1.3' }, (req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        script(req, res, body, seen.length);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(() => {
    seen.length = 0;
    for (const c of clients.splice(0)) c.close();
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('waits out a 429 for the Retry-After it names, then succeeds with the same correlation id', async () => {
    const id = randomUUID();
    script = (_req, res, _b, n) =>
      n === 1
        ? send(res, 429, envelope('RATE_LIMITED', { category: 'RATE_LIMITED', retryable: true, retryAfter: 1 }), { 'retry-after': '1' })
        : send(res, 200, job(id));
    const notices: RetryNotice[] = [];
    const t0 = Date.now();
    const got = await client({ onRetry: (n) => notices.push(n) }).jobs.get(id);
    expect(got.id).toBe(id);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_000);
    expect(seen.map((s) => s.url)).toEqual([`/jobs/${id}`, `/jobs/${id}`]);
    expect(seen[0]!.headers['x-correlation-id']).toBe(seen[1]!.headers['x-correlation-id']);
    expect(seen[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ operation: 'jobs.get', attempt: 1 });
    expect(notices[0]!.delayMs).toBeGreaterThanOrEqual(1_000);
    expect(notices[0]!.error).toBeInstanceOf(RateLimitedError);
  });

  it('signs every attempt of a critical operation afresh, so a retry is never a replay', async () => {
    const id = randomUUID();
    script = (_req, res, _b, n) =>
      n === 1
        ? send(res, 429, envelope('RATE_LIMITED', { category: 'RATE_LIMITED', retryable: true, retryAfter: 0 }), { 'retry-after': '0' })
        : send(res, 200, job(id, 'cancelled'));
    const cancelled = await client().jobs.cancel(id);
    expect(cancelled.status).toBe('cancelled');
    expect(seen).toHaveLength(2);
    const [a, b] = seen.map((s) => s.headers['x-cp-signature'] as string);
    expect(a).not.toBe(b);
    const nonceStore = new InMemoryNonceStore();
    const publicKeyFor = async () => createPublicKey(signing.publicKeyPem);
    for (const s of seen) {
      await expect(
        verifyRequestSignature({
          method: s.method,
          url: s.url,
          body: s.body,
          header: s.headers['x-cp-signature'],
          publicKeyFor,
          nonceStore,
        }),
      ).resolves.toEqual({ keyId: 'k1' });
    }
  });

  it('gives up after maxAttempts with the last envelope, and at once when Retry-After exceeds maxDelayMs', async () => {
    script = (_req, res) =>
      send(res, 429, envelope('RATE_LIMITED', { category: 'RATE_LIMITED', retryable: true, retryAfter: 0 }), { 'retry-after': '0' });
    const err = await client()
      .jobs.list()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err).toMatchObject({ status: 429, code: 'RATE_LIMITED', retryable: true });
    expect((err as ControlPlaneError).envelope.service).toBe('gateway');
    expect(seen).toHaveLength(3);

    seen.length = 0;
    script = (_req, res) =>
      send(res, 429, envelope('RATE_LIMITED', { category: 'RATE_LIMITED', retryable: true }), { 'retry-after': '120' });
    const t0 = Date.now();
    const long = await client()
      .jobs.list()
      .catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(long).toBeInstanceOf(RateLimitedError);
    // The header fills in the envelope's retryAfter when the body did not say.
    expect((long as RateLimitedError).retryAfter).toBe(120);
    expect(seen).toHaveLength(1);
  });

  it('retries a 503 only for calls that are safe to repeat, but load shedding for every call', async () => {
    script = (_req, res) =>
      send(res, 503, envelope('SERVICE_UNAVAILABLE', { category: 'SERVICE_UNAVAILABLE', retryable: true, retryAfter: 0 }));
    const create = await client()
      .apiKeys.create({ name: 'x', role: 'viewer' })
      .catch((e: unknown) => e);
    expect(create).toBeInstanceOf(UnavailableError);
    expect(seen).toHaveLength(1);

    seen.length = 0;
    await expect(client().jobs.get(randomUUID())).rejects.toBeInstanceOf(UnavailableError);
    expect(seen).toHaveLength(3);

    seen.length = 0;
    script = (_req, res, _b, n) =>
      n === 1
        ? send(res, 503, envelope('OVERLOADED', { category: 'SERVICE_UNAVAILABLE', retryable: true, retryAfter: 0 }))
        : send(res, 201, { id: randomUUID(), key: KEY, name: 'x', role: 'viewer' });
    const made = await client().apiKeys.create({ name: 'x', role: 'viewer' });
    expect(made.name).toBe('x');
    expect(seen).toHaveLength(2);
  });

  it('maps answers to typed errors carrying the envelope, and does not retry client errors', async () => {
    script = (_req, res) => send(res, 404, envelope('JOB_NOT_FOUND', { category: 'RESOURCE_NOT_FOUND', message: 'Job x was not found.' }));
    const nf = await client()
      .jobs.get('x')
      .catch((e: unknown) => e);
    expect(nf).toBeInstanceOf(NotFoundError);
    expect(nf).toBeInstanceOf(ControlPlaneError);
    expect(nf).toMatchObject({ status: 404, code: 'JOB_NOT_FOUND', message: 'Job x was not found.', correlationId: 'c-1' });
    expect(seen).toHaveLength(1);

    script = (_req, res) => send(res, 400, envelope('VALIDATION_FAILED', { category: 'VALIDATION_ERROR' }));
    await expect(client().jobs.submit({ type: 'echo' })).rejects.toBeInstanceOf(InvalidRequestError);

    script = (_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>bad gateway</html>');
    };
    const proxy = await client({ retry: { maxAttempts: 1 } })
      .jobs.get('x')
      .catch((e: unknown) => e);
    expect(proxy).toBeInstanceOf(UnavailableError);
    expect(proxy).toMatchObject({ status: 502, code: 'UNEXPECTED_RESPONSE', retryable: true });
    expect((proxy as ControlPlaneError).envelope.service).toBe('client');
  });

  it('builds the job request from the short form and sends it as JSON', async () => {
    script = (_req, res, body) => send(res, 202, { ...job(JSON.parse(body).id) });
    await client().jobs.submit({ type: 'primes', data: { limit: 10 }, priority: 70, retryPolicy: { maxRetries: 1 } });
    const sent = JSON.parse(seen[0]!.body);
    expect(sent).toMatchObject({
      type: 'primes',
      priority: 70,
      payload: { type: 'primes', data: { limit: 10 } },
      metadata: { source: 'controlplane-client' },
      retryPolicy: { maxRetries: 1 },
    });
    expect(sent.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[0]!.headers['content-type']).toBe('application/json');
    expect(seen[0]!.headers['x-cp-signature']).toBeUndefined();
  });

  it('refuses plain HTTP, refuses a gateway its CA did not certify, and needs a signing key for critical calls', async () => {
    expect(() => new ControlPlaneClient({ url: url.replace('https:', 'http:'), apiKey: KEY })).toThrow(/https/);
    const untrusted = await client({ ca: undefined, retry: { maxAttempts: 1 } })
      .jobs.get('x')
      .catch((e: unknown) => e);
    expect(untrusted).toBeInstanceOf(ConnectionError);
    expect(untrusted).toMatchObject({ status: 0, code: 'CONNECTION_FAILED' });
    expect(seen).toHaveLength(0);

    const unsigned = await client({ signingKey: undefined })
      .jobs.cancel(randomUUID())
      .catch((e: unknown) => e);
    expect(unsigned).toMatchObject({ code: 'SIGNING_KEY_REQUIRED' });
    expect(seen).toHaveLength(0);
  });

  it('retries a refused connection even for a call that is not idempotent', async () => {
    const notices: RetryNotice[] = [];
    const closed = new ControlPlaneClient({
      url: 'https://127.0.0.1:1',
      apiKey: KEY,
      ca,
      signingKey: { keyId: 'k1', privateKey: signing.privateKeyPem },
      retry: { maxAttempts: 2, baseDelayMs: 10 },
      onRetry: (n) => notices.push(n),
    });
    clients.push(closed);
    const err = await closed.joinTokens.create().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(notices.map((n) => n.operation)).toEqual(['joinTokens.create']);
  });

  it('streams job events across chunk boundaries, resumes with Last-Event-ID after a drop, and stops at the terminal event', async () => {
    const id = randomUUID();
    const ev = (seq: number, type: string, data?: object) =>
      `id: ${seq}\nevent: ${type}\ndata: ${JSON.stringify({ id: randomUUID(), type, jobId: id, timestamp: new Date().toISOString(), ...(data ? { data } : {}), metadata: { service: 'jobforge', version: '1.0.0' } })}\n\n`;
    script = (req, res, _b, n) => {
      if (req.url === `/jobs/${id}`) return send(res, 200, job(id, 'completed'));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (n === 1) {
        const text = `: stream open\n\n${ev(1, 'job.created')}${ev(2, 'job.queued')}${ev(3, 'job.started')}`;
        // Split mid-line, mid-field and mid-UTF-8 sequence: the parser must not care.
        const bytes = Buffer.from(text + ev(4, 'job.progress', { pct: 50, message: 'halfway — ½' }));
        res.write(bytes.subarray(0, 17));
        res.write(bytes.subarray(17, bytes.length - 40));
        setTimeout(() => res.write(bytes.subarray(bytes.length - 40)), 20);
        // A connection cut without ending the stream, as when a gateway replica goes away.
        setTimeout(() => res.destroy(), 80);
        return;
      }
      res.end(`: keep-alive\n\n${ev(5, 'job.completed', { runnerId: 'r1' })}${ev(6, 'job.never')}`);
    };
    const c = client();
    const events = [];
    for await (const e of c.jobs.events(id)) events.push(e);
    expect(events.map((e) => [e.seq, e.type])).toEqual([
      ['1', 'job.created'],
      ['2', 'job.queued'],
      ['3', 'job.started'],
      ['4', 'job.progress'],
      ['5', 'job.completed'],
    ]);
    expect(events[3]!.data).toEqual({ pct: 50, message: 'halfway — ½' });
    const streams = seen.filter((s) => s.url.endsWith('/events'));
    expect(streams).toHaveLength(2);
    expect(streams[0]!.headers['last-event-id']).toBeUndefined();
    expect(streams[1]!.headers['last-event-id']).toBe('4');
    expect(streams[1]!.headers.accept).toBe('text/event-stream');

    seen.length = 0;
    script = (req, res) => {
      if (req.url === `/jobs/${id}`) return send(res, 200, job(id, 'completed'));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(ev(9, 'job.completed'));
    };
    const progress: string[] = [];
    const done = await c.jobs.wait(id, { onEvent: (e) => progress.push(e.type), timeoutMs: 5_000 });
    expect(done.status).toBe('completed');
    expect(progress).toEqual(['job.completed']);
  });

  it('turns a wait that runs out of time into WAIT_TIMEOUT', async () => {
    const id = randomUUID();
    script = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
    };
    const err = await client()
      .jobs.wait(id, { timeoutMs: 300 })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'WAIT_TIMEOUT', status: 0 });
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('7')).toBe(7);
    expect(parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2030, 0, 1))).toBe(30);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});
