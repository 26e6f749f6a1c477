// Hostile bodies, slow clients, failing and stopped upstreams, load shedding and SSE pass-through,
// against a real gateway in front of real JobForge and a stand-in TruthCore over mTLS.
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresQueue, startJobforge, type GatewayServer } from '@controlplane/server';
import { createGatewayHarness, expectNoInternals, jobRequest, logger, type GatewayHarness } from './support/gateway-harness.js';
import { TRUST_DOMAIN } from './support/pki-fixture.js';

let h: GatewayHarness;

describe('gateway resilience', () => {
  let gw: GatewayServer;

  beforeAll(async () => {
    h = await createGatewayHarness();
    gw = await h.startGateway(
      {
        bodyLimitBytes: 64 * 1024,
        jsonMaxDepth: 64,
        headersTimeoutMs: 1_000,
        requestTimeoutMs: 2_000,
        upstreamTimeoutMs: 600,
        upstreamRetries: 1,
        breakerThreshold: 3,
        breakerHalfOpenAfterMs: 1_500,
      },
      { redisScope: 'resilience' },
    );
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  describe('hostile requests', () => {
    it('refuses a body over the size limit with 413 and keeps serving', async () => {
      const big = await h.client.call(gw.url, 'POST', '/jobs', {
        key: h.keys.submitter,
        body: jobRequest({ payload: { type: 'echo', data: { blob: 'x'.repeat(100 * 1024) } } }),
      });
      expect(big.status).toBe(413);
      expect(big.body.error).toMatchObject({ code: 'BODY_TOO_LARGE', category: 'VALIDATION_ERROR', service: 'gateway' });
      // Without a key it is refused before a byte of the body is parsed.
      const anonymous = await h.client.call(gw.url, 'POST', '/jobs', { rawBody: 'x'.repeat(100 * 1024) });
      expect(anonymous.status).toBe(401);
      expect((await h.client.call(gw.url, 'GET', '/health')).status).toBe(200);
    });

    it('refuses a 10,000-level nested body and prototype-pollution keys with a 400, no crash', async () => {
      const deep = '['.repeat(10_000) + ']'.repeat(10_000);
      const res = await h.client.call(gw.url, 'POST', '/jobs', { key: h.keys.submitter, rawBody: deep });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('JSON_TOO_DEEP');
      const deepObject = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
      expect((await h.client.call(gw.url, 'POST', '/query', { key: h.keys.viewer, rawBody: deepObject })).body.error.code).toBe(
        'JSON_TOO_DEEP',
      );
      const polluted = await h.client.call(gw.url, 'POST', '/jobs', { key: h.keys.submitter, rawBody: '{"__proto__":{"admin":true}}' });
      expect(polluted.status).toBe(400);
      expect(polluted.body.error.code).toBe('FORBIDDEN_KEY');
      const notJson = await h.client.call(gw.url, 'POST', '/jobs', {
        key: h.keys.submitter,
        rawBody: 'a=1',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(notJson.status).toBe(415);
      expect((await h.client.call(gw.url, 'GET', '/health')).body.status).toBe('healthy');
    });

    it('answers invalid job input with 400 and field paths', async () => {
      const res = await h.client.call(gw.url, 'POST', '/jobs', { key: h.keys.submitter, body: { id: 'not-a-uuid', type: 'echo' } });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.details.map((d: { path: string[] }) => d.path)).toContainEqual(['id']);
    });

    it('speaks only HTTPS with TLS 1.3, with HSTS on every answer', async () => {
      const port = Number(new URL(gw.url).port);
      const plain = await new Promise<string>((resolve) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/health', timeout: 3_000 }, (res) =>
          resolve(`answered ${res.statusCode}`),
        );
        req.on('error', (err) => resolve(`refused: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.end();
      });
      expect(plain).toMatch(/^refused/);
      const tls12 = await new Promise<string>((resolve) => {
        const s = tlsConnect({ host: '127.0.0.1', port, ca: h.pki.ca.certPem, maxVersion: 'TLSv1.2' }, () =>
          resolve(`connected ${s.getProtocol()}`),
        );
        s.on('error', (err) => resolve(`refused: ${err.message}`));
      });
      expect(tls12).toMatch(/^refused/);
      const res = await h.client.call(gw.url, 'GET', '/jobs', { key: h.keys.viewer });
      expect(res.headers['strict-transport-security']).toContain('max-age=');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    });

    it('closes a slow-loris connection once the header timeout passes', async () => {
      const port = Number(new URL(gw.url).port);
      const started = Date.now();
      const closedAfter = await new Promise<number>((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port, ca: h.pki.ca.certPem, servername: 'localhost' }, () => {
          socket.write('GET /health HTTP/1.1\r\nHost: x\r\n');
          const drip = setInterval(() => {
            if (!socket.destroyed) socket.write('X-Slow: 1\r\n');
          }, 200);
          socket.on('close', () => {
            clearInterval(drip);
            resolve(Date.now() - started);
          });
        });
        socket.on('error', () => undefined);
        setTimeout(() => reject(new Error('the slow connection was never closed')), 8_000).unref();
      });
      expect(closedAfter).toBeGreaterThanOrEqual(900);
      expect(closedAfter).toBeLessThan(4_000);
    });
  });

  describe('upstream failures', () => {
    it('hides an upstream 500 behind INTERNAL without internals', async () => {
      h.truthcore.mode = 'fail500';
      const res = await h.client.call(gw.url, 'POST', '/assert', { key: h.keys.submitter, body: { subject: 's' } });
      expect(res.status).toBe(500);
      expect(res.body.error).toMatchObject({ code: 'INTERNAL', service: 'gateway', retryable: false });
      expectNoInternals(res);
      h.truthcore.mode = 'ok';
      // One failure, below the threshold; a success resets the count.
      expect((await h.client.call(gw.url, 'POST', '/query', { key: h.keys.viewer, body: {} })).status).toBe(200);
    });

    it('retries only idempotent calls, then trips the breaker and stops calling the upstream', async () => {
      h.truthcore.mode = 'fail503';
      h.truthcore.hits = 0;
      const post = await h.client.call(gw.url, 'POST', '/assert', { key: h.keys.submitter, body: { subject: 's' } });
      expect(post.status).toBe(503);
      expect(h.truthcore.hits).toBe(1); // a POST is never sent twice
      const get = await h.client.call(gw.url, 'GET', `/assertions/${randomUUID()}`, { key: h.keys.viewer });
      expect(get.status).toBe(503);
      expect(h.truthcore.hits).toBe(3); // one retry of the GET; three failures open the breaker
      expect(gw.metrics().breakers.truthcore).toBe('open');

      const tripped = await h.client.call(gw.url, 'GET', `/assertions/${randomUUID()}`, { key: h.keys.viewer });
      expect(tripped.status).toBe(503);
      expect(tripped.body.error).toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
        category: 'SERVICE_UNAVAILABLE',
        retryable: true,
        retryAfter: 2,
      });
      expect(tripped.headers['retry-after']).toBe('2');
      expect(h.truthcore.hits).toBe(3);
      expectNoInternals(tripped);
      // JobForge has its own breaker: unaffected.
      expect((await h.client.call(gw.url, 'GET', '/jobs', { key: h.keys.viewer })).status).toBe(200);
      const health = await h.client.call(gw.url, 'GET', '/health');
      expect(health.body.status).toBe('degraded');
      expectNoInternals({ ...health, text: JSON.stringify(health.body.checks.map((c: { message?: string }) => c.message ?? '')) });

      h.truthcore.mode = 'ok';
      await sleep(1_600);
      const healed = await h.client.call(gw.url, 'GET', `/assertions/${randomUUID()}`, { key: h.keys.viewer });
      expect(healed.status).toBe(200);
      expect(gw.metrics().breakers.truthcore).toBe('closed');
    });

    it('answers a hanging upstream with UPSTREAM_TIMEOUT after the configured bound', async () => {
      h.truthcore.mode = 'hang';
      const t0 = Date.now();
      const res = await h.client.call(gw.url, 'POST', '/query', { key: h.keys.viewer, body: {} });
      const took = Date.now() - t0;
      h.truthcore.mode = 'ok';
      expect(res.status).toBe(504);
      expect(res.body.error).toMatchObject({ code: 'UPSTREAM_TIMEOUT', retryable: true });
      expect(res.headers['retry-after']).toBe('1');
      expect(took).toBeGreaterThanOrEqual(550);
      expect(took).toBeLessThan(3_000);
    });

    it('answers 503 SERVICE_UNAVAILABLE with Retry-After and no internals when JobForge is stopped', async () => {
      const jf2 = await startJobforge({
        db: h.db,
        queue: ({ db, store }) => new PostgresQueue(db, store),
        logger,
        tls: h.pki.material('jobforge'),
        trustDomain: TRUST_DOMAIN,
        ca: h.pki.ca,
        listen: { host: '127.0.0.1', port: 0 },
        enrollListen: { host: '127.0.0.1', port: 0 },
        duties: false,
      });
      const g = await h.startGateway(
        { breakerThreshold: 3, breakerHalfOpenAfterMs: 10_000, upstreamRetries: 1 },
        { jobforgeUrl: jf2.url, redisScope: 'stopped' },
      );
      const id = await h.seedJob('ta');
      expect((await h.client.call(g.url, 'GET', `/jobs/${id}`, { key: h.keys.viewer })).status).toBe(200);
      await jf2.close();

      const down = await h.client.call(g.url, 'GET', `/jobs/${id}`, { key: h.keys.viewer });
      expect(down.status).toBe(503);
      expect(down.body.error).toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
        category: 'SERVICE_UNAVAILABLE',
        retryable: true,
        service: 'gateway',
      });
      expect(Number(down.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(down.body.error.retryAfter).toBeGreaterThanOrEqual(1);
      expectNoInternals(down);
      const submit = await h.client.call(g.url, 'POST', '/jobs', { key: h.keys.submitter, body: jobRequest() });
      expect(submit.status).toBe(503);
      expectNoInternals(submit);
      // Three failed attempts so far: the breaker is open and answers at once with its Retry-After.
      expect(g.metrics().breakers.jobforge).toBe('open');
      const fast = await h.client.call(g.url, 'GET', `/jobs/${id}`, { key: h.keys.viewer });
      expect(fast.status).toBe(503);
      expect(fast.headers['retry-after']).toBe('10');
    });
  });

  describe('streams and load', () => {
    /** Opens GET /jobs/:id/events and resolves once the stream has started. */
    function openEvents(base: string, jobId: string) {
      const chunks: string[] = [];
      let ended!: Promise<void>;
      const opened = new Promise<{ destroy(): void; status: number }>((resolve, reject) => {
        const req = httpsRequest(
          `${base}/jobs/${jobId}/events`,
          { agent: h.client.agent, headers: { authorization: `Bearer ${h.keys.viewer.key}` } },
          (res) => {
            ended = new Promise((r) => res.on('close', () => r()));
            res.setEncoding('utf8');
            res.on('data', (c: string) => chunks.push(c));
            res.on('error', () => undefined);
            resolve({ destroy: () => req.destroy(), status: res.statusCode ?? 0 });
          },
        );
        req.on('error', (err) => (chunks.length ? undefined : reject(err)));
        req.end();
      });
      return { opened, chunks, ended: () => ended };
    }

    it('streams job events through and closes the upstream stream when the client leaves', async () => {
      const id = await h.seedJob('ta');
      const s = openEvents(gw.url, id);
      const stream = await s.opened;
      expect(stream.status).toBe(200);
      for (let i = 0; i < 50 && !s.chunks.join('').includes('job.queued'); i++) await sleep(20);
      expect(s.chunks.join('')).toContain('event: job.queued');
      expect(gw.metrics().openStreams).toBe(1);
      // A live event arrives through the pipe.
      const cancel = await h.client.call(gw.url, 'POST', `/jobs/${id}/cancel`, { key: h.keys.operator, sign: true });
      expect(cancel.status).toBe(200);
      await s.ended();
      expect(s.chunks.join('')).toContain('event: job.cancelled');
      for (let i = 0; i < 50 && gw.metrics().openStreams > 0; i++) await sleep(20);
      expect(gw.metrics().openStreams).toBe(0);

      const other = openEvents(gw.url, await h.seedJob('ta'));
      await other.opened;
      for (let i = 0; i < 50 && gw.metrics().openStreams === 0; i++) await sleep(20);
      expect(gw.metrics().openStreams).toBe(1);
      (await other.opened).destroy();
      for (let i = 0; i < 50 && gw.metrics().openStreams > 0; i++) await sleep(20);
      expect(gw.metrics().openStreams).toBe(0);
    });

    it('sheds load with 503 OVERLOADED and Retry-After when too many requests are in flight', async () => {
      const g = await h.startGateway({ maxInFlight: 1 }, { redisScope: 'shed' });
      const s = openEvents(g.url, await h.seedJob('ta'));
      const stream = await s.opened;
      expect(g.metrics().inFlight).toBe(1);
      const shed = await h.client.call(g.url, 'GET', '/jobs', { key: h.keys.viewer });
      expect(shed.status).toBe(503);
      expect(shed.body.error).toMatchObject({ code: 'OVERLOADED', retryable: true, retryAfter: 1 });
      expect(shed.headers['retry-after']).toBe('1');
      // Health answers even when shedding, so a balancer can tell "busy" from "dead".
      expect((await h.client.call(g.url, 'GET', '/health')).status).toBe(200);
      stream.destroy();
      for (let i = 0; i < 50 && g.metrics().inFlight > 0; i++) await sleep(20);
      expect((await h.client.call(g.url, 'GET', '/jobs', { key: h.keys.viewer })).status).toBe(200);
    });
  });
});
