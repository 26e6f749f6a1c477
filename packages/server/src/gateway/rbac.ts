import { AppError } from '@controlplane/contracts';
import type { KeyObject } from 'node:crypto';
import { SYSTEM_TENANT } from '../tenancy/index.js';
import { ROLES, ROUTES, type Role, type RouteSpec } from './route-table.js';

/** The authenticated caller of a gateway request. */
export interface GatewayPrincipal {
  /** API key id; also the key id of its request signatures. */
  keyId: string;
  tenantId: string;
  role: Role;
  /** An admin key of the reserved `system` tenant. */
  platformAdmin: boolean;
  signingPublicKey: KeyObject;
  /** What JobForge and TruthCore record as the actor (`x-cp-actor`). */
  actor: string;
}

export function isPlatformAdmin(tenantId: string, role: Role): boolean {
  return tenantId === SYSTEM_TENANT && role === 'admin';
}

/** Whether the route table lets this caller in (before any resource-level tenant check). */
export function isAllowed(route: RouteSpec, principal: Pick<GatewayPrincipal, 'role' | 'platformAdmin'> | undefined): boolean {
  if (route.access === 'public') return true;
  if (!principal) return false;
  if (route.access === 'platform' && !principal.platformAdmin) return false;
  return route.roles.includes(principal.role);
}

/** Throws AUTHENTICATION_REQUIRED without a caller and FORBIDDEN when the route table refuses it. */
export function authorize(route: RouteSpec, principal: GatewayPrincipal | undefined): void {
  if (route.access === 'public') return;
  if (!principal) throw new AppError('AUTHENTICATION_REQUIRED');
  if (!isAllowed(route, principal)) throw new AppError('FORBIDDEN');
}

const mark = (yes: boolean) => (yes ? '✓' : '—');

/** The route table as the Markdown table in docs/rbac.md (a test keeps the two identical). */
export function renderRbacTable(routes: readonly RouteSpec[] = ROUTES): string {
  const head = ['method', 'path', 'access', ...ROLES, 'signed', 'upstream'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of routes) {
    const roleCells = ROLES.map((role) => (r.access === 'public' ? 'any' : mark(r.roles.includes(role))));
    const upstream = r.upstream.service === 'gateway' ? 'gateway' : `${r.upstream.service} \`${r.upstream.method} ${r.upstream.path}\``;
    lines.push(`| ${r.method} | \`${r.path}\` | ${r.access} | ${roleCells.join(' | ')} | ${r.signed ? 'yes' : 'no'} | ${upstream} |`);
  }
  return lines.join('\n');
}
