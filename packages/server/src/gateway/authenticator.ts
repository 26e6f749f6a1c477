import { timingSafeEqual, type KeyObject } from 'node:crypto';
import type { Logger } from '@controlplane/platform';
import { type Database, asSystem } from '../storage/index.js';
import { findApiKeyCredential, hashApiKey, parseApiKey, signingPublicKeyFrom, touchApiKey, type ApiKeyCredential } from './api-keys.js';
import type { DependencyGuard } from './dependency-guard.js';
import { isPlatformAdmin, type GatewayPrincipal } from './rbac.js';

/** Why authentication failed: for the audit log and metrics only, never for the client. */
export type AuthFailureReason = 'malformed' | 'unknown_key' | 'wrong_secret' | 'revoked' | 'expired' | 'tenant_suspended';

export type AuthOutcome =
  | { ok: true; principal: GatewayPrincipal; tenantRate: ApiKeyCredential['tenantRate'] }
  | { ok: false; reason: AuthFailureReason; keyId?: string | undefined };

// Compared against when the prefix is unknown, so that case does the same hashing and comparing.
const DUMMY_HASH = hashApiKey('cpk_0000000000000000_' + 'A'.repeat(43));

/** Public keys never change for a key id, so parsed ones are kept (bounded). */
const MAX_CACHED_KEYS = 10_000;

/**
 * Checks `Authorization: Bearer cpk_…` against PostgreSQL on every request. Reading the row each
 * time (one unique-index lookup) is what makes a revocation effective on every replica at once:
 * there is no cache to invalidate. Every failure does the same work — parse, one SHA-256, one
 * constant-time comparison — and the caller answers them all with one envelope.
 */
export class ApiKeyAuthenticator {
  readonly #publicKeys = new Map<string, KeyObject>();
  readonly #touching = new Set<Promise<void>>();
  readonly #touchingIds = new Set<string>();

  constructor(
    private readonly o: {
      db: Database;
      guard: DependencyGuard;
      logger: Logger;
      /** last_used_at is written at most this often per key. */
      lastUsedIntervalSeconds: number;
    },
  ) {}

  async authenticate(presented: string): Promise<AuthOutcome> {
    const parsed = parseApiKey(presented);
    const credential = parsed
      ? await this.o.guard.run(() => asSystem('look up an API key by its prefix', () => findApiKeyCredential(this.o.db, parsed.prefix)))
      : undefined;
    const actual = hashApiKey(presented);
    const matches = timingSafeEqual(actual, credential?.secretHash.length === 32 ? credential.secretHash : DUMMY_HASH);
    if (!parsed) return { ok: false, reason: 'malformed' };
    if (!credential) return { ok: false, reason: 'unknown_key' };
    if (!matches) return { ok: false, reason: 'wrong_secret', keyId: credential.id };
    if (credential.revoked) return { ok: false, reason: 'revoked', keyId: credential.id };
    if (credential.expired) return { ok: false, reason: 'expired', keyId: credential.id };
    if (!credential.tenantActive) return { ok: false, reason: 'tenant_suspended', keyId: credential.id };
    this.#touch(credential);
    return {
      ok: true,
      tenantRate: credential.tenantRate,
      principal: {
        keyId: credential.id,
        tenantId: credential.tenantId,
        role: credential.role,
        platformAdmin: isPlatformAdmin(credential.tenantId, credential.role),
        signingPublicKey: this.#publicKey(credential),
        actor: `apikey:${credential.id}`,
      },
    };
  }

  #publicKey(c: ApiKeyCredential): KeyObject {
    let key = this.#publicKeys.get(c.id);
    if (!key) {
      key = signingPublicKeyFrom(c.signingPublicKeyPem);
      if (this.#publicKeys.size >= MAX_CACHED_KEYS) this.#publicKeys.clear();
      this.#publicKeys.set(c.id, key);
    }
    return key;
  }

  // Off the request path: a slow or failed bookkeeping write must not fail or delay the request.
  #touch(c: ApiKeyCredential): void {
    const due = c.lastUsedAt === null || Date.now() - c.lastUsedAt.getTime() >= this.o.lastUsedIntervalSeconds * 1000;
    if (!due || this.#touchingIds.has(c.id)) return;
    this.#touchingIds.add(c.id);
    const p = asSystem('record API key use', () => touchApiKey(this.o.db, c.id, this.o.lastUsedIntervalSeconds))
      .catch((err: unknown) => this.o.logger.warn({ err, keyId: c.id }, 'could not record API key use'))
      .finally(() => {
        this.#touching.delete(p);
        this.#touchingIds.delete(c.id);
      });
    this.#touching.add(p);
  }

  /** Waits for outstanding last-used writes (at shutdown, before the database closes). */
  async drain(): Promise<void> {
    await Promise.all([...this.#touching]);
  }
}
