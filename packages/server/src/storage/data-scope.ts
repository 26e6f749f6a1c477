import { AsyncLocalStorage } from 'node:async_hooks';
import { isTenantId } from '@controlplane/contracts';

/**
 * Whose rows a unit of work may see. PostgreSQL row-level security enforces it (migration 009):
 * every tenant table has a policy that shows a row only when its tenant is the connection's
 * `app.tenant_id`, or when `app.scope` is `system`. A connection with neither set sees nothing.
 *
 * The database adapters read the current scope from here and bring each pooled connection's two
 * settings in line before they use it, so code below the HTTP layer does not pass it around:
 *
 * - a request opens an empty scope when it arrives (`openRequestScope`), and fills in the tenant
 *   once the caller is authenticated (`enterTenant`); until then its queries see no tenant rows;
 * - work on behalf of one tenant outside a request runs in `withTenant(tenantId, fn)`;
 * - work that must span tenants (the lease reaper, the reconciler, the outbox relay, key rotation,
 *   the audit chain's head, looking up a credential before its tenant is known) runs in
 *   `asSystem(reason, fn)`. Each such place is a deliberate, named exception.
 *
 * This is a second line of defence under the tenant filter every query already has: a query that
 * forgets its `tenant_id = $1` still returns only the caller's rows. It does not stop an attacker
 * who can run arbitrary SQL as the service role (that role may set the settings itself); keeping
 * that out is the job of parameterised queries and of the role's grants.
 */
export type DataScope = { readonly kind: 'tenant'; readonly tenantId: string } | { readonly kind: 'system'; readonly reason: string };

interface ScopeHolder {
  scope: DataScope | undefined;
}

const storage = new AsyncLocalStorage<ScopeHolder>();

function checkTenant(tenantId: string): void {
  if (!isTenantId(tenantId)) throw new TypeError(`not a tenant id: ${JSON.stringify(tenantId)}`);
}

/** Runs `fn` with the rows of one tenant visible. */
export function withTenant<T>(tenantId: string, fn: () => T): T {
  checkTenant(tenantId);
  return storage.run({ scope: { kind: 'tenant', tenantId } }, fn);
}

/** Runs `fn` with every tenant's rows visible. `reason` names the duty, for readers and logs. */
export function asSystem<T>(reason: string, fn: () => T): T {
  return storage.run({ scope: { kind: 'system', reason } }, fn);
}

/** Runs `fn` (and everything it starts) in a scope that sees no tenant until `enterTenant`. */
export function openRequestScope<T>(holder: object, fn: () => T): T {
  return storage.run(holder as ScopeHolder, fn);
}

/** A fresh holder for `openRequestScope`; keep it on the request to re-enter the same scope. */
export function newScopeHolder(): object {
  return { scope: undefined } satisfies ScopeHolder;
}

/**
 * Narrows the current request's scope to one tenant once its caller is known. A scope already
 * bound to another tenant is never widened or switched: that would be a cross-tenant bug.
 */
export function enterTenant(tenantId: string): void {
  checkTenant(tenantId);
  const holder = storage.getStore();
  if (!holder) return;
  const current = holder.scope;
  if (current?.kind === 'tenant' && current.tenantId !== tenantId) {
    throw new Error(`data scope already bound to another tenant`);
  }
  if (current?.kind === 'system') return;
  holder.scope = { kind: 'tenant', tenantId };
}

/** Widens the current request's scope to every tenant: for a platform administrator's requests. */
export function enterSystem(reason: string): void {
  const holder = storage.getStore();
  if (holder) holder.scope = { kind: 'system', reason };
}

export function currentDataScope(): DataScope | undefined {
  return storage.getStore()?.scope;
}

/**
 * The scope a database adapter applies: the current one, or — for work that runs outside every
 * scope (no request, no withTenant/asSystem) — the adapter's `unscoped` setting. Services leave
 * that unset, so such work sees no tenant rows; operator tools (migrations, audit verify, the
 * CLI's bootstrap) and test observers open their connection with `unscoped: 'system'`.
 */
export function effectiveDataScope(unscoped: 'none' | 'system' | undefined): DataScope | undefined {
  const holder = storage.getStore();
  if (holder) return holder.scope;
  return unscoped === 'system' ? SYSTEM_UNSCOPED : undefined;
}

const SYSTEM_UNSCOPED: DataScope = { kind: 'system', reason: 'unscoped work on a system connection' };

/** The connection settings for a scope, and a key to tell whether a connection already has them. */
export function scopeSettings(scope: DataScope | undefined): { key: string; tenantId: string; scope: string } {
  if (!scope) return { key: 'none', tenantId: '', scope: '' };
  if (scope.kind === 'system') return { key: 'system', tenantId: '', scope: 'system' };
  return { key: `tenant:${scope.tenantId}`, tenantId: scope.tenantId, scope: 'tenant' };
}

/** One statement that sets both (session-level, so they hold for every later statement). */
export const SET_SCOPE_SQL = `select set_config('app.tenant_id', $1, false), set_config('app.scope', $2, false)`;
