import type { HealthCheck, HealthStatus } from '@controlplane/contracts';
import type { HttpApp } from './create-app.js';

export interface HealthProbe {
  name: string;
  /**
   * Resolves when healthy, or with a verdict of its own (a setting the operator chose, such as
   * storing payloads in clear, shown with its message); a rejection marks the probe unhealthy (its
   * text is logged, not shown).
   */
  check(): Promise<void | ProbeVerdict>;
  /** A failing non-critical probe degrades rather than fails the service. */
  critical?: boolean;
}

export interface ProbeVerdict {
  status: HealthStatus;
  /** Shown to anyone who asks /health: say what is wrong, never a secret. */
  message: string;
}

const startedAt = Date.now();

export async function runHealthChecks(
  service: string,
  version: string,
  probes: readonly HealthProbe[],
  log?: { warn(obj: object, msg: string): void },
): Promise<HealthCheck> {
  const checks = await Promise.all(
    probes.map(async (p) => {
      const t0 = performance.now();
      try {
        const verdict = await p.check();
        const durationMs = Math.round(performance.now() - t0);
        if (verdict) return { name: p.name, status: verdict.status, message: verdict.message, durationMs };
        return { name: p.name, status: 'healthy' as HealthStatus, durationMs };
      } catch (err) {
        log?.warn({ err, probe: p.name }, 'health probe failed');
        return {
          name: p.name,
          status: (p.critical === false ? 'degraded' : 'unhealthy') as HealthStatus,
          message: 'unavailable',
          durationMs: Math.round(performance.now() - t0),
        };
      }
    }),
  );
  const status: HealthStatus = checks.some((c) => c.status === 'unhealthy')
    ? 'unhealthy'
    : checks.some((c) => c.status === 'degraded')
      ? 'degraded'
      : 'healthy';
  return { status, service, version, timestamp: new Date().toISOString(), uptime: Math.round((Date.now() - startedAt) / 1000), checks };
}

/** `GET /health`: no authentication, no internal detail; 503 when unhealthy so load balancers react. */
export function registerHealthRoute(app: HttpApp, service: string, version: string, probes: readonly HealthProbe[]): void {
  app.get('/health', async (req, reply) => {
    const health = await runHealthChecks(service, version, probes, req.log);
    reply.code(health.status === 'unhealthy' ? 503 : 200).send(health);
  });
}
