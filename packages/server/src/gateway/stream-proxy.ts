import { CORRELATION_HEADER } from '@controlplane/platform';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { SECURITY_HEADERS } from '../http/index.js';
import { ROUTES, type RouteSpec } from './route-table.js';
import { registerTableRoute } from './table-routes.js';
import {
  forwardedHeaders,
  queryString,
  upstreamOf,
  upstreamPath,
  upstreamRouteOf,
  type UpstreamRoute,
  type Upstreams,
} from './upstream-request.js';

/** How many client event streams are open now (for `metrics()`). */
export interface StreamGauge {
  open: number;
}

export interface StreamProxyOptions {
  upstreams: Upstreams;
  gauge: StreamGauge;
}

/**
 * The routes whose table entry is a `stream`: the upstream's Server-Sent Events piped through to
 * the client, each side closed as soon as the other goes.
 */
export const streamProxy: FastifyPluginAsync<StreamProxyOptions> = async (app, o) => {
  async function pipeEvents(req: FastifyRequest, reply: FastifyReply, up: UpstreamRoute): Promise<void> {
    const headers = forwardedHeaders(req);
    const lastEventId = req.headers['last-event-id'];
    if (typeof lastEventId === 'string' && /^\d{1,19}$/.test(lastEventId)) headers['last-event-id'] = lastEventId;
    const { response, abort } = await upstreamOf(o.upstreams, up.service).openStream({
      path: upstreamPath(up.path, req.params as Record<string, string>) + queryString(req.query),
      headers,
    });
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'x-accel-buffering': 'no',
      [CORRELATION_HEADER]: req.id,
    });
    o.gauge.open += 1;
    let closed = false;
    // Whichever side goes first, the other is closed: a client that leaves frees the upstream
    // stream (and JobForge's poller) at once, and an upstream that dies ends the client's stream.
    const finish = () => {
      if (closed) return;
      closed = true;
      o.gauge.open -= 1;
      abort();
      response.destroy();
      if (!res.writableEnded) res.end();
    };
    res.once('close', finish);
    response.once('error', finish);
    response.once('end', finish);
    response.pipe(res, { end: false });
  }

  for (const spec of ROUTES as readonly RouteSpec[]) {
    if (!spec.stream) continue;
    const up = upstreamRouteOf(spec);
    registerTableRoute(app, spec, (req, reply) => pipeEvents(req, reply, up));
  }
};
