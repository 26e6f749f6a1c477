import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { RouteSpec } from './route-table.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's entry in the route table: what the gateway's hook plugins act on. */
    spec?: RouteSpec;
  }
}

export type RouteHandler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/**
 * Registers one route of the table with its entry in `config.spec`. The route gets no hooks of its
 * own here: the access-control and request-signature plugins add them, from the same entry, as the
 * route is registered (their `onRoute` hooks).
 */
export function registerTableRoute(app: FastifyInstance, spec: RouteSpec, handler: RouteHandler): void {
  app.route({ method: spec.method, url: spec.path, config: { spec }, handler });
}

/**
 * The table entry of a route being registered. Every gateway route comes from the table; one that
 * does not is a programming error, refused at start-up rather than served without access control.
 */
export function tableEntryOf(route: Pick<RouteOptions, 'method' | 'url' | 'config'>): RouteSpec {
  const spec = route.config?.spec;
  if (!spec) throw new Error(`gateway route ${String(route.method)} ${route.url} is not in the route table`);
  return spec;
}

/** Appends a hook to a route's own hooks of one kind (which Fastify accepts as one function or a list). */
export function withHook<T>(existing: T | T[] | undefined, hook: T): T[] {
  return [...(existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]), hook];
}
