import { parseOrThrow } from '@controlplane/contracts';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { forwardedCaller, type HttpApp } from '../../http/index.js';
import type { Scheduler } from '../schedules/index.js';

/**
 * `/v1/schedules`: a tenant's schedules, on behalf of the gateway (which requires a request
 * signature for every change and audits it). Another tenant's schedule answers 404, as one that
 * does not exist.
 */
export function registerScheduleRoutes(app: HttpApp, deps: { scheduler: Scheduler; trustedServices: ReadonlySet<string> }): void {
  const caller = (req: FastifyRequest) => {
    const c = forwardedCaller(req, deps.trustedServices);
    req.ctx.principal = { kind: 'client', id: c.actor, tenantId: c.tenantId };
    return c;
  };
  const id = (req: FastifyRequest) => parseOrThrow(z.uuid(), (req.params as { id?: string }).id, ['params', 'id']);
  const s = deps.scheduler;

  app.post('/v1/schedules', { config: { audit: 'schedule.created' } }, async (req, reply) => {
    const c = caller(req);
    return reply.code(201).send(await s.create(c.tenantId, c.actor, req.body));
  });
  app.get('/v1/schedules', async (req) => ({ schedules: await s.list(caller(req).tenantId) }));
  app.get('/v1/schedules/:id', async (req) => s.get(caller(req).tenantId, id(req)));
  app.post('/v1/schedules/:id/pause', { config: { audit: 'schedule.paused' } }, async (req) =>
    s.setPaused(caller(req).tenantId, id(req), true),
  );
  app.post('/v1/schedules/:id/resume', { config: { audit: 'schedule.resumed' } }, async (req) =>
    s.setPaused(caller(req).tenantId, id(req), false),
  );
  app.post('/v1/schedules/:id/delete', { config: { audit: 'schedule.deleted' } }, async (req) => {
    const c = caller(req);
    await s.delete(c.tenantId, id(req));
    return { id: id(req), deleted: true };
  });
  app.post('/v1/schedules/:id/trigger', { config: { audit: 'schedule.triggered' } }, async (req, reply) => {
    const c = caller(req);
    return reply.code(202).send(await s.trigger(c.tenantId, id(req), c.actor));
  });
}
