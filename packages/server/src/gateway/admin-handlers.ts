import { AppError, IsoDateTime, parseOrThrow, ROLES, TenantId } from '@controlplane/contracts';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Database } from '../storage/index.js';
import {
  createTenant,
  getTenantQuotas,
  listTenants,
  putTenantQuotas,
  tenantExists,
  TenantQuotasInput,
  type TenantQuotas,
} from '../tenancy/index.js';
import { createApiKey, listApiKeys, revokeApiKey, type ApiKeyRecord } from './api-keys.js';
import type { AuditReader } from './audit-port.js';
import type { GatewayPrincipal } from './rbac.js';

export interface AdminDeps {
  db: Database;
  auditQuery?: AuditReader | undefined;
}

const Uuid = z.uuid();

const CreateKeyBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    role: z.enum(ROLES),
    expiresAt: IsoDateTime.optional(),
    /** Platform administrators only: create the key in this tenant (e.g. a new tenant's first admin). */
    tenantId: TenantId.optional(),
    /** Your own Ed25519 public key (SPKI PEM); leave out to have one generated and returned once. */
    signingPublicKey: z.string().min(1).max(2000).optional(),
  })
  .strict();

const ListQuery = z.object({ tenant: TenantId.optional(), limit: z.coerce.number().int().min(1).max(500).default(100) });
const TenantBody = z.object({ id: TenantId, name: z.string().trim().min(1).max(200) }).strict();
const TenantListQuery = z.object({ after: TenantId.optional(), limit: z.coerce.number().int().min(1).max(500).default(100) });
const AuditListQuery = z.object({
  tenant: TenantId.optional(),
  action: z.string().min(1).max(100).optional(),
  actor: z.string().min(1).max(200).optional(),
  after: IsoDateTime.optional(),
  before: IsoDateTime.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().min(1).max(500).optional(),
});

export function keyView(k: ApiKeyRecord) {
  return {
    id: k.id,
    tenantId: k.tenantId,
    prefix: k.prefix,
    role: k.role,
    name: k.name,
    expiresAt: k.expiresAt?.toISOString() ?? null,
    revokedAt: k.revokedAt?.toISOString() ?? null,
    lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
    createdBy: k.createdBy,
    createdAt: k.createdAt.toISOString(),
  };
}

function quotasView(tenantId: string, q: TenantQuotas) {
  return { tenantId, ...q, updatedAt: q.updatedAt?.toISOString() ?? null };
}

/**
 * The tenant an admin request acts on: the caller's own, or — for platform administrators only —
 * the one it names. A tenant admin naming another tenant is refused (FORBIDDEN) rather than
 * silently answered about its own.
 */
function targetTenant(p: GatewayPrincipal, named: string | undefined): string {
  if (named === undefined || named === p.tenantId) return p.tenantId;
  if (!p.platformAdmin) throw new AppError('FORBIDDEN');
  return named;
}

const param = (req: FastifyRequest, name: string) => (req.params as Record<string, string | undefined>)[name];

export async function createKeyHandler(deps: AdminDeps, p: GatewayPrincipal, body: unknown) {
  const b = parseOrThrow(CreateKeyBody, body ?? {});
  const expiresAt = b.expiresAt ? new Date(b.expiresAt) : null;
  if (expiresAt && expiresAt.getTime() <= Date.now())
    throw new AppError('VALIDATION_FAILED', { details: [{ path: ['expiresAt'], message: 'must be in the future' }] });
  const created = await createApiKey(deps.db, {
    tenantId: targetTenant(p, b.tenantId),
    role: b.role,
    name: b.name,
    expiresAt,
    createdBy: p.actor,
    signingPublicKeyPem: b.signingPublicKey,
  });
  return {
    ...keyView(created),
    key: created.key,
    signingKeyId: created.id,
    signingPublicKey: created.signingPublicKeyPem,
    ...(created.signingPrivateKeyPem ? { signingPrivateKey: created.signingPrivateKeyPem } : {}),
  };
}

export async function listKeysHandler(deps: AdminDeps, p: GatewayPrincipal, query: unknown) {
  const q = parseOrThrow(ListQuery, query, ['query']);
  return { apiKeys: (await listApiKeys(deps.db, targetTenant(p, q.tenant), { limit: q.limit })).map(keyView) };
}

export async function revokeKeyHandler(deps: AdminDeps, p: GatewayPrincipal, req: FastifyRequest) {
  const id = parseOrThrow(Uuid, param(req, 'id'), ['params', 'id']);
  return keyView(await revokeApiKey(deps.db, p.platformAdmin ? null : p.tenantId, id));
}

export async function createTenantHandler(deps: AdminDeps, body: unknown) {
  const b = parseOrThrow(TenantBody, body ?? {});
  const t = await createTenant(deps.db, b);
  return { id: t.id, name: t.name, status: t.status, createdAt: t.createdAt.toISOString() };
}

export async function listTenantsHandler(deps: AdminDeps, query: unknown) {
  const q = parseOrThrow(TenantListQuery, query, ['query']);
  const rows = await listTenants(deps.db, { limit: q.limit + 1, after: q.after });
  const page = rows.slice(0, q.limit);
  return {
    tenants: page.map((t) => ({ id: t.id, name: t.name, status: t.status, createdAt: t.createdAt.toISOString() })),
    nextCursor: rows.length > q.limit ? (page[page.length - 1]?.id ?? null) : null,
  };
}

export async function putQuotasHandler(deps: AdminDeps, p: GatewayPrincipal, req: FastifyRequest) {
  const tenantId = parseOrThrow(TenantId, param(req, 'id'), ['params', 'id']);
  const input = parseOrThrow(TenantQuotasInput, req.body ?? {});
  return quotasView(tenantId, await putTenantQuotas(deps.db, tenantId, input, p.actor));
}

export async function getQuotasHandler(deps: AdminDeps, p: GatewayPrincipal, req: FastifyRequest) {
  const tenantId = parseOrThrow(TenantId, param(req, 'id'), ['params', 'id']);
  // Another tenant's quotas answer like a tenant that does not exist.
  if (tenantId !== p.tenantId && !p.platformAdmin) throw new AppError('RESOURCE_NOT_FOUND', { params: { resource: 'tenant' } });
  if (!(await tenantExists(deps.db, tenantId))) throw new AppError('RESOURCE_NOT_FOUND', { params: { resource: 'tenant' } });
  return quotasView(tenantId, await getTenantQuotas(deps.db, tenantId));
}

export async function auditQueryHandler(deps: AdminDeps, p: GatewayPrincipal, query: unknown) {
  if (!deps.auditQuery)
    throw new AppError('SERVICE_UNAVAILABLE', { retryable: false, message: 'The audit log cannot be queried through this gateway.' });
  const q = parseOrThrow(AuditListQuery, query, ['query']);
  // A platform administrator without ?tenant= reads every event; anyone else only their tenant's.
  const tenantId = p.platformAdmin && q.tenant === undefined ? undefined : targetTenant(p, q.tenant);
  const page = await deps.auditQuery.query({
    tenantId,
    action: q.action,
    actorId: q.actor,
    after: q.after ? new Date(q.after) : undefined,
    before: q.before ? new Date(q.before) : undefined,
    limit: q.limit,
    cursor: q.cursor,
  });
  return { events: page.events, nextCursor: page.nextCursor };
}
