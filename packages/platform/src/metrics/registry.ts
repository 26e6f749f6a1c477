import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * A Prometheus registry for one process, with Node's process and event-loop metrics
 * (`process_*`, `nodejs_*`: CPU, memory, handles, GC, event-loop lag) already in it. Each process
 * makes one and every service in it registers its own metrics there; tests make one per system so
 * that two systems in one test process do not count into each other.
 */
export function createMetricsRegistry(o: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (o.defaultMetrics !== false) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  return registry;
}

export { Counter, Gauge, Histogram, Registry } from 'prom-client';
