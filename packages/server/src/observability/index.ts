export { BREAKER_STATE, ServerMetrics } from './server-metrics.js';
