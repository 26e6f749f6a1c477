import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError } from '@controlplane/contracts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { asSystem, type Database } from '../storage/index.js';
import { signingPublicKeyFrom, type ApiKeyCredential } from './api-keys.js';
import type { AuthOutcome } from './authenticator.js';
import type { DependencyGuard } from './dependency-guard.js';
import { isPlatformAdmin, type GatewayPrincipal } from './rbac.js';
import type { Role } from './route-table.js';
import { gatewaySql as sql } from './sql.js';

/**
 * Dashboard sessions (docs/dashboard.md). `__Host-` makes the browser insist on Secure, Path=/ and
 * no Domain, so no other host or path can set or shadow it.
 */
export const SESSION_COOKIE = '__Host-cp_session';
/** The header that carries the CSRF token on every state-changing request made with the cookie. */
export const CSRF_HEADER = 'x-csrf-token';
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;
/** last_seen_at is written at most this often per session (idle expiry is this precise). */
const TOUCH_SECONDS = 5;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface SessionLimits {
  sessionIdleSeconds: number;
  sessionAbsoluteSeconds: number;
}

/** The session a request was authenticated by (absent for API key requests). */
export interface UiSession {
  tokenHash: Buffer;
  csrfToken: string;
  expiresAt: Date;
}

const tokenHash = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/**
 * The CSRF token of a session: a digest of its secret token, so nothing more is stored, and only
 * the holder of the cookie's value (never another origin: the cookie is HttpOnly) could derive it.
 */
export const csrfTokenOf = (token: string): string => createHash('sha256').update(`csrf:${token}`, 'utf8').digest('base64url');

/** The session token in a Cookie header: undefined when absent, '' when present but malformed. */
export function sessionTokenOf(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader) return undefined;
  let found: string | undefined;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    // Two cookies of that name (one planted by a sibling) are refused, not guessed between.
    if (found !== undefined) return '';
    found = part.slice(eq + 1).trim();
  }
  if (found === undefined) return undefined;
  return TOKEN_RE.test(found) ? found : '';
}

export function setSessionCookie(reply: FastifyReply, token: string): void {
  reply.header('set-cookie', `${SESSION_COOKIE}=${token}; Path=/; Secure; HttpOnly; SameSite=Strict`);
}

export function clearSessionCookie(reply: FastifyReply): void {
  reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0`);
}

/** The request's own origin, as the browser would write it in `Origin`. */
function ownOrigin(req: FastifyRequest): string | undefined {
  const host = req.headers.host;
  return host ? `https://${host}` : undefined;
}

/**
 * Cross-site request checks for a cookie-authenticated request: a foreign `Origin` is refused on
 * any method, and a state-changing method needs its own origin and the session's CSRF token in
 * `x-csrf-token` (compared in constant time). SameSite=Strict alone would stop most of this; these
 * hold too where a browser or a sibling subdomain does not play by it.
 */
export function checkCrossSite(req: FastifyRequest, csrfToken: string): void {
  const origin = req.headers.origin;
  const own = ownOrigin(req);
  if (origin !== undefined && origin !== own) throw new AppError('FORBIDDEN', { message: 'cross-origin request refused' });
  if (SAFE_METHODS.has(req.method)) return;
  if (origin === undefined) throw new AppError('FORBIDDEN', { message: 'a state-changing request needs its Origin header' });
  const presented = req.headers[CSRF_HEADER];
  const expected = Buffer.from(csrfToken, 'utf8');
  const given = Buffer.from(typeof presented === 'string' ? presented : '', 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw new AppError('FORBIDDEN', { message: 'missing or wrong CSRF token' });
}

/** The Origin check alone: sign-in is a state change made with an API key, from this origin only. */
export function checkSameOrigin(req: FastifyRequest): void {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== ownOrigin(req)) throw new AppError('FORBIDDEN', { message: 'cross-origin request refused' });
}

export type SessionOutcome = (AuthOutcome & { ok: true; session: UiSession }) | { ok: false; reason: SessionFailureReason; keyId?: string };
export type SessionFailureReason = 'malformed' | 'unknown_session' | 'session_expired' | 'revoked' | 'expired' | 'tenant_suspended';

/**
 * Sessions in PostgreSQL: every request reads its session and its key in one statement, so an
 * expired session, a revoked or expired key and a suspended tenant are refused on every replica
 * at once, with no cache to invalidate.
 */
export class SessionStore {
  constructor(private readonly o: { db: Database; guard: DependencyGuard; limits: SessionLimits }) {}

  /** Opens a session for an authenticated key; returns its token (for the cookie) and CSRF token. */
  async open(p: GatewayPrincipal): Promise<{ token: string; csrfToken: string; expiresAt: Date }> {
    const token = randomBytes(32).toString('base64url');
    const { expires_at } = await this.#system('open a dashboard session', async () => {
      await sql('ui_session_sweep').run(this.o.db, { idle_seconds: this.o.limits.sessionIdleSeconds });
      const res = await sql('ui_session_create').run<{ expires_at: Date }>(this.o.db, {
        token_hash: tokenHash(token),
        key_id: p.keyId,
        tenant_id: p.tenantId,
        absolute_seconds: this.o.limits.sessionAbsoluteSeconds,
      });
      return res.rows[0]!;
    });
    return { token, csrfToken: csrfTokenOf(token), expiresAt: expires_at };
  }

  async close(hash: Buffer): Promise<void> {
    await this.#system('end a dashboard session', () => sql('ui_session_delete').run(this.o.db, { token_hash: hash }));
  }

  async authenticate(token: string): Promise<SessionOutcome> {
    if (!TOKEN_RE.test(token)) return { ok: false, reason: 'malformed' };
    const hash = tokenHash(token);
    const row = await this.#system('look up a dashboard session', async () => {
      const res = await sql('ui_session_credential').run<SessionRow>(this.o.db, {
        token_hash: hash,
        idle_seconds: this.o.limits.sessionIdleSeconds,
        touch_seconds: TOUCH_SECONDS,
      });
      return res.rows[0];
    });
    if (!row) return { ok: false, reason: 'unknown_session' };
    const failure =
      row.session_expired || row.session_idle ? 'session_expired' : row.revoked ? 'revoked' : row.expired ? 'expired' : undefined;
    if (failure ?? !row.tenant_active) {
      await this.close(hash);
      return { ok: false, reason: failure ?? 'tenant_suspended', keyId: row.id };
    }
    if (row.touch_due)
      await this.#system('record dashboard session use', () => sql('ui_session_touch').run(this.o.db, { token_hash: hash }));
    const tenantRate: ApiKeyCredential['tenantRate'] = { requestsPerSecond: row.requests_per_second, burst: row.burst };
    return {
      ok: true,
      tenantRate,
      session: { tokenHash: hash, csrfToken: csrfTokenOf(token), expiresAt: row.session_expires_at },
      principal: {
        keyId: row.id,
        tenantId: row.tenant_id,
        role: row.role,
        platformAdmin: isPlatformAdmin(row.tenant_id, row.role),
        signingPublicKey: signingPublicKeyFrom(row.signing_public_key),
        actor: `apikey:${row.id}`,
      },
    };
  }

  #system<T>(why: string, work: () => Promise<T>): Promise<T> {
    return this.o.guard.run(() => asSystem(why, work));
  }
}

interface SessionRow {
  id: string;
  tenant_id: string;
  role: Role;
  signing_public_key: string;
  revoked: boolean;
  expired: boolean;
  tenant_active: boolean;
  requests_per_second: number | null;
  burst: number | null;
  session_expired: boolean;
  session_idle: boolean;
  touch_due: boolean;
  session_expires_at: Date;
}
