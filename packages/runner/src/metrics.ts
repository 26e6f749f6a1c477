import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HealthCheck } from '@controlplane/contracts';

const CLAIM_BUCKETS_MS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000, 30000];

/** The runner's own counters, exposed in Prometheus text format. */
export class RunnerMetrics {
  running = 0;
  completed = 0;
  failed = 0;
  claims = 0;
  claimMsSum = 0;
  readonly claimBuckets = new Array<number>(CLAIM_BUCKETS_MS.length).fill(0);

  observeClaim(ms: number): void {
    this.claims++;
    this.claimMsSum += ms;
    CLAIM_BUCKETS_MS.forEach((b, i) => {
      if (ms <= b) this.claimBuckets[i]!++;
    });
  }

  render(runnerId: string): string {
    const l = `{runner="${runnerId}"}`;
    const lines = [
      '# HELP controlplane_runner_jobs_running Jobs running now.',
      '# TYPE controlplane_runner_jobs_running gauge',
      `controlplane_runner_jobs_running${l} ${this.running}`,
      '# HELP controlplane_runner_jobs_completed_total Jobs completed.',
      '# TYPE controlplane_runner_jobs_completed_total counter',
      `controlplane_runner_jobs_completed_total${l} ${this.completed}`,
      '# HELP controlplane_runner_jobs_failed_total Jobs failed (any reason).',
      '# TYPE controlplane_runner_jobs_failed_total counter',
      `controlplane_runner_jobs_failed_total${l} ${this.failed}`,
      '# HELP controlplane_runner_claim_latency_ms Time from asking for work to receiving it (claims that returned jobs).',
      '# TYPE controlplane_runner_claim_latency_ms histogram',
      ...CLAIM_BUCKETS_MS.map(
        (b, i) => `controlplane_runner_claim_latency_ms_bucket{runner="${runnerId}",le="${b}"} ${this.claimBuckets[i]}`,
      ),
      `controlplane_runner_claim_latency_ms_bucket{runner="${runnerId}",le="+Inf"} ${this.claims}`,
      `controlplane_runner_claim_latency_ms_sum${l} ${this.claimMsSum}`,
      `controlplane_runner_claim_latency_ms_count${l} ${this.claims}`,
    ];
    return lines.join('\n') + '\n';
  }
}

/**
 * A local listener for liveness probes and scraping. It serves no job data and no credentials, and
 * binds to loopback by default; it is the one plain-HTTP listener, as probes expect.
 */
export async function startMetricsServer(o: {
  host: string;
  port: number;
  runnerId: string;
  metrics: RunnerMetrics;
  health: () => HealthCheck;
}): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health') {
      const h = o.health();
      res.writeHead(h.status === 'unhealthy' ? 503 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(h));
    } else if (req.method === 'GET' && req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(o.metrics.render(o.runnerId));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not found"}');
    }
  });
  server.headersTimeout = 5_000;
  server.requestTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${addr.port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
