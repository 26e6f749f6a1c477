import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** What the listener answers on `GET /health`, when the process has a health check of its own. */
export interface ListenerHealth {
  status: string;
  [k: string]: unknown;
}

export interface MetricsListener {
  /** `http://host:port`: metrics at `${url}/metrics`. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The process's plain-HTTP listener for Prometheus (`GET /metrics`) and, where given, liveness
 * probes (`GET /health`). It serves no job data and no credentials (metric labels are tenants, job
 * types, pools, routes and states, never a job id), and binds to loopback unless configured
 * otherwise: exposing it further is a deployment's decision (docs/observability.md).
 */
export async function startMetricsListener(o: {
  host: string;
  port: number;
  registry: Registry;
  health?: (() => ListenerHealth) | undefined;
}): Promise<MetricsListener> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      o.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': o.registry.contentType });
          res.end(text);
        },
        () => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('metrics collection failed\n');
        },
      );
    } else if (req.method === 'GET' && path === '/health' && o.health) {
      const h = o.health();
      res.writeHead(h.status === 'unhealthy' ? 503 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(h));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not found"}');
    }
  });
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${addr.port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
