// The route table and the pieces of the gateway that need no server: docs in step with the table,
// critical operations signed, upstream paths safe, in-process limiters and key parsing.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AppError } from '@controlplane/contracts';
import {
  API_KEY_PREFIX,
  hashApiKey,
  InMemoryFailureCounter,
  InMemoryRateLimiter,
  parseApiKey,
  renderRbacTable,
  ROLES,
  ROUTES,
  upstreamPath,
  LoadShedder,
} from '@controlplane/server';

const docs = (name: string) => readFileSync(fileURLToPath(new URL(`../../../docs/${name}`, import.meta.url)), 'utf8');

describe('gateway route table', () => {
  it('is what docs/rbac.md shows', () => {
    const text = docs('rbac.md');
    const m = /<!-- rbac-table:begin -->\n([\s\S]*?)\n<!-- rbac-table:end -->/.exec(text);
    expect(m, 'docs/rbac.md needs the rbac-table markers').not.toBeNull();
    expect(m![1]).toBe(renderRbacTable());
  });

  it('lists every route path in docs/gateway.md', () => {
    const text = docs('gateway.md');
    for (const r of ROUTES) expect(text, `${r.method} ${r.path}`).toContain(`\`${r.method} ${r.path}\``);
  });

  it('has unique operations and method+path pairs, and roles only from the known set', () => {
    expect(new Set(ROUTES.map((r) => r.id)).size).toBe(ROUTES.length);
    expect(new Set(ROUTES.map((r) => `${r.method} ${r.path}`)).size).toBe(ROUTES.length);
    for (const r of ROUTES) {
      for (const role of r.roles) expect(ROLES).toContain(role);
      if (r.access === 'public') expect(r.roles).toEqual([]);
      else expect(r.roles.length).toBeGreaterThan(0);
    }
    expect(ROUTES.filter((r) => r.access === 'public').map((r) => r.path)).toEqual(['/health', '/ui/*']);
  });

  it('requires a signature, and records an audit action, on every critical operation', () => {
    const critical = [
      'apiKeys.create',
      'apiKeys.revoke',
      'joinTokens.create',
      'jobs.cancel',
      'runners.revoke',
      'jobTypes.put',
      'tenants.create',
      'quotas.put',
      'schedules.create',
      'schedules.pause',
      'schedules.resume',
      'schedules.delete',
      'schedules.trigger',
    ];
    const signed = ROUTES.filter((r) => r.signed);
    expect(signed.map((r) => r.id).sort()).toEqual([...critical].sort());
    for (const r of signed) expect((r as { audit?: string }).audit, r.id).toMatch(/^[a-z]+\.[a-z]+$/);
    // Nothing that only reads needs one (and GETs cannot carry a body to sign meaningfully).
    for (const r of signed) expect(r.method).not.toBe('GET');
  });

  it('keeps platform routes to admins and admin routes away from viewers', () => {
    for (const r of ROUTES.filter((r) => r.access === 'platform')) expect(r.roles).toEqual(['admin']);
    for (const r of ROUTES.filter((r) => r.path.startsWith('/admin/') && r.method !== 'GET')) expect(r.roles, r.id).not.toContain('viewer');
  });
});

describe('upstream paths', () => {
  it('encodes each parameter as one segment, so it cannot reach another upstream route', () => {
    expect(upstreamPath('/v1/jobs/:id/cancel', { id: 'abc' })).toBe('/v1/jobs/abc/cancel');
    expect(upstreamPath('/v1/runners/:id/revoke', { id: '../../v1/join-tokens' })).toBe('/v1/runners/..%2F..%2Fv1%2Fjoin-tokens/revoke');
    expect(upstreamPath('/v1/jobs/:id', { id: 'a?tenant=t2#x' })).toBe('/v1/jobs/a%3Ftenant%3Dt2%23x');
    expect(() => upstreamPath('/v1/jobs/:id', {})).toThrow(AppError);
  });
});

describe('API key format', () => {
  it('parses only cpk_<16 hex>_<43 base64url> and hashes the whole text', () => {
    const key = `${API_KEY_PREFIX}0123456789abcdef_${'A'.repeat(43)}`;
    expect(parseApiKey(key)).toEqual({ prefix: '0123456789abcdef', text: key });
    for (const bad of [
      '',
      'cpk_0123456789abcdef',
      `cpk_0123456789ABCDEF_${'A'.repeat(43)}`,
      `cpk_0123456789abcdef_${'A'.repeat(42)}`,
      `${key} `,
      `x${key}`,
    ]) {
      expect(parseApiKey(bad), bad).toBeUndefined();
    }
    expect(hashApiKey(key)).toHaveLength(32);
    expect(hashApiKey(key).equals(hashApiKey(key.replace(/A$/, 'B')))).toBe(false);
  });
});

describe('in-process limiters (embedded mode)', () => {
  it('refills a token bucket over time and says when to retry', async () => {
    let now = 1_000_000;
    const limiter = new InMemoryRateLimiter(() => now);
    const rule = { capacity: 2, refillPerSecond: 1 };
    expect((await limiter.take(['key', 'k'], rule)).allowed).toBe(true);
    expect((await limiter.take(['key', 'k'], rule)).allowed).toBe(true);
    const refused = await limiter.take(['key', 'k'], rule);
    expect(refused).toEqual({ allowed: false, retryAfterMs: 1000 });
    expect((await limiter.take(['key', 'other'], rule)).allowed).toBe(true);
    now += 500;
    expect((await limiter.take(['key', 'k'], rule)).retryAfterMs).toBe(500);
    now += 500;
    expect((await limiter.take(['key', 'k'], rule)).allowed).toBe(true);
  });

  it('blocks a subject for the rest of the window after max failures', async () => {
    let now = 0;
    const counter = new InMemoryFailureCounter({ max: 3, windowSeconds: 10 }, () => now);
    expect(await counter.recordFailure('1.2.3.4')).toBe(0);
    expect(await counter.recordFailure('1.2.3.4')).toBe(0);
    expect(await counter.blockedForMs('1.2.3.4')).toBe(0);
    now = 4_000;
    expect(await counter.recordFailure('1.2.3.4')).toBe(6_000);
    expect(await counter.blockedForMs('1.2.3.4')).toBe(6_000);
    expect(await counter.blockedForMs('5.6.7.8')).toBe(0);
    now = 10_000;
    expect(await counter.blockedForMs('1.2.3.4')).toBe(0);
  });

  it('sheds when the event loop is blocked', async () => {
    const shedder = new LoadShedder({ maxInFlight: 100, maxEventLoopDelayMs: 50, sampleIntervalMs: 100 });
    try {
      const release = shedder.admit();
      release();
      release(); // idempotent
      expect(shedder.inFlight).toBe(0);
      await new Promise((r) => setTimeout(r, 30)); // let the monitor take its first samples
      // A handler hogs the event loop; the next sample (every 100 ms) reports the stall until the
      // one after it. On a loaded machine a poll can miss that window, so stall again and retry.
      let seen = false;
      for (let round = 0; round < 5 && !seen; round++) {
        const until = Date.now() + 200;
        while (Date.now() < until) {
          // a handler hogging the event loop
        }
        for (const deadline = Date.now() + 400; Date.now() < deadline && !seen;) {
          await new Promise((r) => setTimeout(r, 5));
          seen = shedder.eventLoopDelayMs > 50;
          if (seen) expect(() => shedder.admit()).toThrow(expect.objectContaining({ code: 'OVERLOADED', retryAfter: 1 }));
        }
      }
      expect(seen).toBe(true);
    } finally {
      shedder.stop();
    }
  });
});
