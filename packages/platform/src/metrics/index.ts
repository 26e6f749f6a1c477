export { createMetricsRegistry, Counter, Gauge, Histogram, Registry } from './registry.js';
export { startMetricsListener, type ListenerHealth, type MetricsListener } from './metrics-listener.js';
