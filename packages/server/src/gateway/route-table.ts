/**
 * Every route of the gateway, in one table that the server registers and enforces and the tests
 * iterate (docs/rbac.md is generated from it). A route is reachable only as declared here.
 */
import { ROLES, type Role } from '@controlplane/contracts';
export { ROLES, type Role };

/**
 * - `public`: no authentication (the health check and the dashboard's static files).
 * - `tenant`: an API key whose role is in `roles`; the route acts inside the key's tenant.
 * - `platform`: an admin key of the reserved `system` tenant (a platform administrator).
 */
export type RouteAccess = 'public' | 'tenant' | 'platform';

export type UpstreamService = 'jobforge' | 'truthcore';

export interface RouteSpec {
  /** Stable operation id; handlers, audit actions and tests refer to routes by it. */
  readonly id: string;
  readonly method: 'GET' | 'POST' | 'PUT';
  /** Fastify path syntax (`:id`). */
  readonly path: string;
  readonly access: RouteAccess;
  readonly roles: readonly Role[];
  /** A CP-SIG-V1 request signature by the calling key is required (docs/request-signing.md). */
  readonly signed: boolean;
  /** Where the request goes: an internal service route (same `:params`), or handled here. */
  readonly upstream:
    { readonly service: UpstreamService; readonly method: 'GET' | 'POST' | 'PUT'; readonly path: string } | { readonly service: 'gateway' };
  /** Audit action recorded for every outcome of this route (signed routes have one). */
  readonly audit?: string;
  /** The upstream answer is a Server-Sent Events stream, piped through. */
  readonly stream?: boolean;
}

const ALL: readonly Role[] = ROLES;
const WRITERS: readonly Role[] = ['admin', 'operator', 'submitter'];
const OPERATORS: readonly Role[] = ['admin', 'operator'];
const ADMINS: readonly Role[] = ['admin'];

const jf = (method: 'GET' | 'POST' | 'PUT', path: string) => ({ service: 'jobforge', method, path }) as const;
const tc = (method: 'GET' | 'POST' | 'PUT', path: string) => ({ service: 'truthcore', method, path }) as const;
const local = { service: 'gateway' } as const;

export const ROUTES = [
  { id: 'health', method: 'GET', path: '/health', access: 'public', roles: [], signed: false, upstream: local },

  // The dashboard (docs/dashboard.md): its static files, public like any page before sign-in, and an
  // API key exchanged for a browser session, which then stands for that key on every route here.
  { id: 'ui.assets', method: 'GET', path: '/ui/*', access: 'public', roles: [], signed: false, upstream: local },
  { id: 'session.create', method: 'POST', path: '/session', access: 'tenant', roles: ALL, signed: false, upstream: local },
  { id: 'session.get', method: 'GET', path: '/session', access: 'tenant', roles: ALL, signed: false, upstream: local },
  { id: 'session.end', method: 'POST', path: '/session/end', access: 'tenant', roles: ALL, signed: false, upstream: local },
  // Queue depth and oldest job by type, runners by state, dead letters: the dashboard's overview.
  { id: 'overview', method: 'GET', path: '/overview', access: 'tenant', roles: ALL, signed: false, upstream: jf('GET', '/v1/overview') },

  { id: 'jobs.submit', method: 'POST', path: '/jobs', access: 'tenant', roles: WRITERS, signed: false, upstream: jf('POST', '/v1/jobs') },
  {
    id: 'jobs.submitBatch',
    method: 'POST',
    path: '/jobs/batch',
    access: 'tenant',
    roles: WRITERS,
    signed: false,
    upstream: jf('POST', '/v1/jobs/batch'),
  },
  { id: 'jobs.list', method: 'GET', path: '/jobs', access: 'tenant', roles: ALL, signed: false, upstream: jf('GET', '/v1/jobs') },
  { id: 'jobs.get', method: 'GET', path: '/jobs/:id', access: 'tenant', roles: ALL, signed: false, upstream: jf('GET', '/v1/jobs/:id') },
  {
    id: 'jobs.cancel',
    method: 'POST',
    path: '/jobs/:id/cancel',
    access: 'tenant',
    roles: WRITERS,
    signed: true,
    upstream: jf('POST', '/v1/jobs/:id/cancel'),
    audit: 'job.cancel',
  },
  {
    id: 'jobs.retry',
    method: 'POST',
    path: '/jobs/:id/retry',
    access: 'tenant',
    roles: OPERATORS,
    signed: false,
    upstream: jf('POST', '/v1/jobs/:id/retry'),
  },
  {
    id: 'jobs.events',
    method: 'GET',
    path: '/jobs/:id/events',
    access: 'tenant',
    roles: ALL,
    signed: false,
    upstream: jf('GET', '/v1/jobs/:id/events'),
    stream: true,
  },
  {
    id: 'jobs.attempts',
    method: 'GET',
    path: '/jobs/:id/attempts',
    access: 'tenant',
    roles: ALL,
    signed: false,
    upstream: jf('GET', '/v1/jobs/:id/attempts'),
  },
  {
    id: 'jobs.provenance',
    method: 'GET',
    path: '/jobs/:id/provenance',
    access: 'tenant',
    roles: ALL,
    signed: false,
    upstream: tc('GET', '/v1/jobs/:id/provenance'),
  },

  {
    id: 'truth.assert',
    method: 'POST',
    path: '/assert',
    access: 'tenant',
    roles: WRITERS,
    signed: false,
    upstream: tc('POST', '/v1/assert'),
  },
  { id: 'truth.query', method: 'POST', path: '/query', access: 'tenant', roles: ALL, signed: false, upstream: tc('POST', '/v1/query') },
  {
    id: 'truth.assertion',
    method: 'GET',
    path: '/assertions/:id',
    access: 'tenant',
    roles: ALL,
    signed: false,
    upstream: tc('GET', '/v1/assertions/:id'),
  },
  // Follow new assertions matching ?subject=&predicate= as Server-Sent Events (resumable with Last-Event-ID).
  {
    id: 'truth.subscribe',
    method: 'GET',
    path: '/subscribe',
    access: 'tenant',
    roles: ALL,
    signed: false,
    upstream: tc('GET', '/v1/subscribe'),
    stream: true,
  },

  {
    id: 'apiKeys.create',
    method: 'POST',
    path: '/admin/api-keys',
    access: 'tenant',
    roles: ADMINS,
    signed: true,
    upstream: local,
    audit: 'apikey.create',
  },
  { id: 'apiKeys.list', method: 'GET', path: '/admin/api-keys', access: 'tenant', roles: ADMINS, signed: false, upstream: local },
  {
    id: 'apiKeys.revoke',
    method: 'POST',
    path: '/admin/api-keys/:id/revoke',
    access: 'tenant',
    roles: ADMINS,
    signed: true,
    upstream: local,
    audit: 'apikey.revoke',
  },
  {
    id: 'joinTokens.create',
    method: 'POST',
    path: '/admin/join-tokens',
    access: 'tenant',
    roles: ADMINS,
    signed: true,
    upstream: jf('POST', '/v1/join-tokens'),
    audit: 'jointoken.create',
  },
  {
    id: 'runners.list',
    method: 'GET',
    path: '/admin/runners',
    access: 'tenant',
    roles: OPERATORS,
    signed: false,
    upstream: jf('GET', '/v1/runners'),
  },
  {
    id: 'runners.revoke',
    method: 'POST',
    path: '/admin/runners/:id/revoke',
    access: 'tenant',
    roles: OPERATORS,
    signed: true,
    upstream: jf('POST', '/v1/runners/:id/revoke'),
    audit: 'runner.revoke',
  },
  {
    id: 'jobTypes.list',
    method: 'GET',
    path: '/admin/job-types',
    access: 'tenant',
    roles: ALL,
    signed: false,
    upstream: jf('GET', '/v1/job-types'),
  },
  // JobForge has no single-type read; the gateway filters its list.
  {
    id: 'jobTypes.get',
    method: 'GET',
    path: '/admin/job-types/:type',
    access: 'tenant',
    roles: ALL,
    signed: false,
    upstream: jf('GET', '/v1/job-types'),
  },
  {
    id: 'jobTypes.put',
    method: 'PUT',
    path: '/admin/job-types/:type',
    access: 'tenant',
    roles: ADMINS,
    signed: true,
    upstream: jf('PUT', '/v1/job-types/:type'),
    audit: 'jobtype.put',
  },
  {
    id: 'schedules.list',
    method: 'GET',
    path: '/schedules',
    access: 'tenant',
    roles: ALL,
    signed: false,
    upstream: jf('GET', '/v1/schedules'),
  },
  {
    id: 'schedules.get',
    method: 'GET',
    path: '/schedules/:id',
    access: 'tenant',
    roles: ALL,
    signed: false,
    upstream: jf('GET', '/v1/schedules/:id'),
  },
  {
    id: 'schedules.create',
    method: 'POST',
    path: '/schedules',
    access: 'tenant',
    roles: OPERATORS,
    signed: true,
    upstream: jf('POST', '/v1/schedules'),
    audit: 'schedule.create',
  },
  {
    id: 'schedules.pause',
    method: 'POST',
    path: '/schedules/:id/pause',
    access: 'tenant',
    roles: OPERATORS,
    signed: true,
    upstream: jf('POST', '/v1/schedules/:id/pause'),
    audit: 'schedule.pause',
  },
  {
    id: 'schedules.resume',
    method: 'POST',
    path: '/schedules/:id/resume',
    access: 'tenant',
    roles: OPERATORS,
    signed: true,
    upstream: jf('POST', '/v1/schedules/:id/resume'),
    audit: 'schedule.resume',
  },
  {
    id: 'schedules.delete',
    method: 'POST',
    path: '/schedules/:id/delete',
    access: 'tenant',
    roles: OPERATORS,
    signed: true,
    upstream: jf('POST', '/v1/schedules/:id/delete'),
    audit: 'schedule.delete',
  },
  {
    id: 'schedules.trigger',
    method: 'POST',
    path: '/schedules/:id/trigger',
    access: 'tenant',
    roles: OPERATORS,
    signed: true,
    upstream: jf('POST', '/v1/schedules/:id/trigger'),
    audit: 'schedule.trigger',
  },
  {
    id: 'tenants.create',
    method: 'POST',
    path: '/admin/tenants',
    access: 'platform',
    roles: ADMINS,
    signed: true,
    upstream: local,
    audit: 'tenant.create',
  },
  { id: 'tenants.list', method: 'GET', path: '/admin/tenants', access: 'platform', roles: ADMINS, signed: false, upstream: local },
  {
    id: 'quotas.put',
    method: 'PUT',
    path: '/admin/tenants/:id/quotas',
    access: 'platform',
    roles: ADMINS,
    signed: true,
    upstream: local,
    audit: 'quota.put',
  },
  // A tenant admin may read its own tenant's quotas; any other tenant's answer 404.
  { id: 'quotas.get', method: 'GET', path: '/admin/tenants/:id/quotas', access: 'tenant', roles: ADMINS, signed: false, upstream: local },
  // Scoped to the caller's tenant; a platform administrator may read any tenant's (or all).
  { id: 'audit.query', method: 'GET', path: '/admin/audit', access: 'tenant', roles: ADMINS, signed: false, upstream: local },
] as const satisfies readonly RouteSpec[];

export type RouteId = (typeof ROUTES)[number]['id'];

export function routeById(id: RouteId): RouteSpec {
  const spec = ROUTES.find((r) => r.id === id);
  if (!spec) throw new Error(`no route ${id}`);
  return spec;
}
