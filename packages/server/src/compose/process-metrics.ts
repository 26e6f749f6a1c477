import { METRICS_PORTS, createMetricsRegistry, startMetricsListener, type Config, type MetricsListener } from '@controlplane/platform';
import { ServerMetrics } from '../observability/index.js';

export interface ProcessMetrics {
  metrics: ServerMetrics;
  /** Absent when `metrics.enabled` is false. */
  listener: MetricsListener | undefined;
}

/**
 * The process's metrics and their listener (`metrics.listen`; loopback and the process's own port
 * by default): one registry for every service the process runs, with Node's process metrics.
 */
export async function startProcessMetrics(config: Readonly<Config>, process: keyof typeof METRICS_PORTS): Promise<ProcessMetrics> {
  const metrics = new ServerMetrics({ registry: createMetricsRegistry() });
  if (!config.metrics.enabled) return { metrics, listener: undefined };
  const listener = await startMetricsListener({
    host: config.metrics.listen.host,
    port: config.metrics.listen.port ?? METRICS_PORTS[process],
    registry: metrics.registry,
  });
  return { metrics, listener };
}
