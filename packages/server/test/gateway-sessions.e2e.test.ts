// Dashboard sessions attacked over real HTTPS with real JobForge behind the gateway: forged and
// missing CSRF tokens, other origins, expired and idle sessions, a revoked key's session, one
// tenant's session reaching for another's job, a viewer doing an admin's work, a session minting
// sessions. Every refusal comes from the API, not from a page.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRequest, SIGNATURE_HEADER } from '@controlplane/platform';
import type { GatewayServer } from '@controlplane/server';
import { createGatewayHarness, jobRequest, type GatewayHarness, type KeyFixture, type Reply } from './support/gateway-harness.js';

let h: GatewayHarness;
let gw: GatewayServer;

interface Session {
  cookie: string;
  csrf: string;
  key: KeyFixture;
}

async function signIn(key: KeyFixture): Promise<Session> {
  const res = await h.client.call(gw.url, 'POST', '/session', { key, headers: { origin: gw.url } });
  expect(res.status, res.text).toBe(201);
  const setCookie = String(res.headers['set-cookie']);
  const m = /^(__Host-cp_session=[A-Za-z0-9_-]{43});/.exec(setCookie);
  expect(m, setCookie).not.toBeNull();
  return { cookie: m![1]!, csrf: res.body.csrfToken, key };
}

/** A request as the dashboard makes it: the cookie, its own Origin and the CSRF token. */
function asPage(
  s: Session,
  method: string,
  path: string,
  o: { body?: unknown; csrf?: string | null; origin?: string | null; sign?: boolean } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { cookie: s.cookie };
  const origin = o.origin === undefined ? gw.url : o.origin;
  if (origin !== null) headers.origin = origin;
  const csrf = o.csrf === undefined ? s.csrf : o.csrf;
  if (csrf !== null) headers['x-csrf-token'] = csrf;
  const text = o.body === undefined ? undefined : JSON.stringify(o.body);
  if (o.sign) headers[SIGNATURE_HEADER] = signRequest({ method, url: path, body: text, keyId: s.key.id, privateKey: s.key.privateKey });
  return h.client.call(gw.url, method, path, { headers, ...(text !== undefined ? { rawBody: text } : {}) });
}

const hashOf = (s: Session) => createHash('sha256').update(s.cookie.slice('__Host-cp_session='.length)).digest();

const expectRefused = (res: Reply, status: number, code: string) => {
  expect(res.status, res.text).toBe(status);
  expect(res.body.error.code).toBe(code);
};

describe('dashboard sessions', () => {
  beforeAll(async () => {
    h = await createGatewayHarness();
    gw = await h.startGateway();
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it('turn an API key into a HttpOnly, Secure, SameSite=Strict cookie that acts as that key', async () => {
    const res = await h.client.call(gw.url, 'POST', '/session', { key: h.keys.operator, headers: { origin: gw.url } });
    expect(res.status).toBe(201);
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/^__Host-cp_session=[A-Za-z0-9_-]{43}; /);
    for (const attr of ['Path=/', 'Secure', 'HttpOnly', 'SameSite=Strict']) expect(cookie).toContain(attr);
    expect(cookie).not.toMatch(/Domain=/i);
    expect(res.body).toMatchObject({ keyId: h.keys.operator.id, tenantId: 'ta', role: 'operator', idleTimeoutSeconds: 900 });
    expect(res.body.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(res.body)).not.toContain(cookie.slice('__Host-cp_session='.length, cookie.indexOf(';')));

    const s = { cookie: cookie.slice(0, cookie.indexOf(';')), csrf: res.body.csrfToken, key: h.keys.operator };
    const me = await asPage(s, 'GET', '/session');
    expect(me.body).toMatchObject({ keyId: h.keys.operator.id, csrfToken: s.csrf });
    const submitted = await asPage(s, 'POST', '/jobs', { body: jobRequest() });
    expect(submitted.status, submitted.text).toBe(202);
    const row = await h.db.query('select tenant_id, submitted_by from jobs where id = $1', [submitted.body.id]);
    expect(row.rows).toEqual([{ tenant_id: 'ta', submitted_by: `apikey:${h.keys.operator.id}` }]);
    expect(h.audit.events.some((e) => e.action === 'session.create' && e.resource?.id === h.keys.operator.id)).toBe(true);
  });

  it('refuse a state-changing request without the CSRF token, with a forged one, or with another session’s', async () => {
    const s = await signIn(h.keys.operator);
    const other = await signIn(h.keys.operator);
    expectRefused(await asPage(s, 'POST', '/jobs', { body: jobRequest(), csrf: null }), 403, 'FORBIDDEN');
    expectRefused(await asPage(s, 'POST', '/jobs', { body: jobRequest(), csrf: 'A'.repeat(43) }), 403, 'FORBIDDEN');
    expectRefused(await asPage(s, 'POST', '/jobs', { body: jobRequest(), csrf: other.csrf }), 403, 'FORBIDDEN');
    expectRefused(await asPage(s, 'POST', '/jobs', { body: jobRequest(), csrf: s.csrf.slice(0, 20) }), 403, 'FORBIDDEN');
    const denied = h.audit.events.filter((e) => e.action === 'access.denied' && e.details?.reason === 'cross_site');
    expect(denied.length).toBeGreaterThanOrEqual(4);
    expect((await asPage(s, 'POST', '/jobs', { body: jobRequest() })).status).toBe(202);
  });

  it('refuse requests from another origin, and state changes that name no origin', async () => {
    const s = await signIn(h.keys.operator);
    expectRefused(await asPage(s, 'POST', '/jobs', { body: jobRequest(), origin: 'https://evil.example' }), 403, 'FORBIDDEN');
    // The right token from a foreign page (it could not read it, but suppose it had) is still refused.
    expectRefused(await asPage(s, 'POST', '/jobs', { body: jobRequest(), origin: 'null' }), 403, 'FORBIDDEN');
    expectRefused(await asPage(s, 'POST', '/jobs', { body: jobRequest(), origin: null }), 403, 'FORBIDDEN');
    expectRefused(await asPage(s, 'GET', '/jobs', { origin: 'https://evil.example' }), 403, 'FORBIDDEN');
    expect((await asPage(s, 'GET', '/jobs', { origin: null })).status).toBe(200);
    // Sign-in from another origin is refused too (login CSRF).
    const res = await h.client.call(gw.url, 'POST', '/session', { key: h.keys.viewer, headers: { origin: 'https://evil.example' } });
    expectRefused(res, 403, 'FORBIDDEN');
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it('end at the absolute expiry and after the idle timeout (by the database clock), and at sign-out', async () => {
    const absolute = await signIn(h.keys.viewer);
    const idle = await signIn(h.keys.viewer);
    await h.db.query(`update ui_sessions set expires_at = now() - interval '1 second' where token_hash = $1`, [hashOf(absolute)]);
    expectRefused(await asPage(absolute, 'GET', '/jobs'), 401, 'AUTHENTICATION_FAILED');
    expect((await asPage(idle, 'GET', '/jobs')).status).toBe(200);
    await h.db.query(`update ui_sessions set last_seen_at = now() - interval '901 seconds' where token_hash = $1`, [hashOf(idle)]);
    expectRefused(await asPage(idle, 'GET', '/jobs'), 401, 'AUTHENTICATION_FAILED');
    expect(h.audit.events.filter((e) => e.action === 'auth.failed' && e.details?.reason === 'session_expired').length).toBe(2);
    // An ended session's row is gone, not just refused.
    const rows = await h.db.query('select 1 from ui_sessions where token_hash = any($1)', [[hashOf(absolute), hashOf(idle)]]);
    expect(rows.rows).toEqual([]);

    const fresh = await signIn(h.keys.viewer);
    const ended = await asPage(fresh, 'POST', '/session/end');
    expect(ended.status).toBe(204);
    expect(String(ended.headers['set-cookie'])).toContain('Max-Age=0');
    expectRefused(await asPage(fresh, 'GET', '/jobs'), 401, 'AUTHENTICATION_FAILED');
  });

  it('die when their API key is revoked (on the next request, on every replica)', async () => {
    const key = await h.newKey('ta', 'operator');
    const s = await signIn(key);
    const replica = await h.startGateway();
    expect((await asPage(s, 'GET', '/jobs')).status).toBe(200);
    const revoked = await h.client.call(gw.url, 'POST', `/admin/api-keys/${key.id}/revoke`, { key: h.keys.admin, sign: true });
    expect(revoked.status).toBe(200);
    expectRefused(await asPage(s, 'GET', '/jobs'), 401, 'AUTHENTICATION_FAILED');
    const viaReplica = await h.client.call(replica.url, 'GET', '/jobs', { headers: { cookie: s.cookie } });
    expectRefused(viaReplica, 401, 'AUTHENTICATION_FAILED');
  });

  it('see only their own tenant: another tenant’s job is not found', async () => {
    const jobOfB = await h.seedJob('tb');
    const s = await signIn(h.keys.admin);
    expectRefused(await asPage(s, 'GET', `/jobs/${jobOfB}`), 404, 'JOB_NOT_FOUND');
    expectRefused(await asPage(s, 'GET', `/jobs/${jobOfB}/attempts`), 404, 'JOB_NOT_FOUND');
    expectRefused(await asPage(s, 'POST', `/jobs/${jobOfB}/retry`), 404, 'JOB_NOT_FOUND');
    expectRefused(await asPage(s, 'POST', `/jobs/${jobOfB}/cancel`, { sign: true }), 404, 'JOB_NOT_FOUND');
    const listed = await asPage(s, 'GET', '/jobs?limit=500');
    expect(listed.body.jobs.map((j: { id: string }) => j.id)).not.toContain(jobOfB);
    const overview = await asPage(s, 'GET', '/overview');
    expect(overview.status).toBe(200);
  });

  it('have exactly their key’s role: a viewer cannot cancel, retry, revoke or read admin data', async () => {
    const s = await signIn(h.keys.viewer);
    const job = await h.seedJob('ta');
    expectRefused(await asPage(s, 'POST', `/jobs/${job}/cancel`, { sign: true }), 403, 'FORBIDDEN');
    expectRefused(await asPage(s, 'POST', `/jobs/${job}/retry`), 403, 'FORBIDDEN');
    expectRefused(await asPage(s, 'POST', '/jobs', { body: jobRequest() }), 403, 'FORBIDDEN');
    for (const path of ['/admin/api-keys', '/admin/runners', '/admin/audit']) expectRefused(await asPage(s, 'GET', path), 403, 'FORBIDDEN');
    expectRefused(await asPage(s, 'POST', `/admin/runners/${job}/revoke`, { sign: true }), 403, 'FORBIDDEN');
    await expect(h.jf.jobs.queries.get('ta', job)).resolves.toMatchObject({ status: 'queued' });
    expect((await asPage(s, 'GET', `/jobs/${job}`)).status).toBe(200);
  });

  it('still need the key’s signature on critical operations, which the session cannot make', async () => {
    const s = await signIn(h.keys.admin);
    const job = await h.seedJob('ta');
    expectRefused(await asPage(s, 'POST', `/jobs/${job}/cancel`), 401, 'SIGNATURE_REQUIRED');
    const done = await asPage(s, 'POST', `/jobs/${job}/cancel`, { sign: true });
    expect(done.status, done.text).toBe(200);
    expect(done.body.status).toBe('cancelled');
  });

  it('cannot mint sessions, and a malformed or planted second cookie is refused', async () => {
    const s = await signIn(h.keys.admin);
    const res = await asPage(s, 'POST', '/session');
    expectRefused(res, 403, 'FORBIDDEN');
    expect(res.headers['set-cookie']).toBeUndefined();
    const bad = await h.client.call(gw.url, 'GET', '/jobs', { headers: { cookie: '__Host-cp_session=not-a-token' } });
    expectRefused(bad, 401, 'AUTHENTICATION_FAILED');
    const twice = await h.client.call(gw.url, 'GET', '/jobs', { headers: { cookie: `${s.cookie}; ${s.cookie}` } });
    expectRefused(twice, 401, 'AUTHENTICATION_FAILED');
    const unknown = await h.client.call(gw.url, 'GET', '/jobs', { headers: { cookie: `__Host-cp_session=${'B'.repeat(43)}` } });
    expectRefused(unknown, 401, 'AUTHENTICATION_FAILED');
  });
});
