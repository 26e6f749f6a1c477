import { METRICS_PORTS, createLogger } from '@controlplane/platform';
import { startServiceFromConfig, type ServiceName } from '@controlplane/server';
import { CliError, EXIT, type Command } from '../command.js';
import { CONFIG_FLAGS_HELP, loadCliConfig } from '../load-config.js';
import { startupError } from '../startup-errors.js';
import { StopSignal } from '../stop-signal.js';

const WHAT: Record<ServiceName, string> = {
  gateway: 'the public HTTPS API: API keys, RBAC, rate limits, signatures; forwards to JobForge and TruthCore over mTLS',
  jobforge: 'job lifecycle, queue, dispatch to runners (mTLS) and runner enrolment',
  truthcore: 'the append-only store of results and assertions (mTLS)',
};

const PORT_FLAG: Record<ServiceName, string[]> = {
  gateway: ['gateway-port'],
  jobforge: ['jobforge-port', 'enroll-port'],
  truthcore: ['truthcore-port'],
};

function serviceCommand(service: ServiceName): Command {
  const usage = `usage: controlplane ${service} [--config <file>] [--${PORT_FLAG[service].join(' <port>] [--')} <port>] [--metrics-port <port>]
       [--log-level <level>]

Runs ${service} alone — ${WHAT[service]} — until SIGTERM/SIGINT, logging JSON to stdout.
It needs PostgreSQL (database.url / DATABASE_URL) and, for several replicas, Redis (redis.url /
REDIS_URL); its certificate comes from tls.certFile / tls.keyFile / tls.caFile (default
<dataDir>/pki/${service}.crt, .key and ca.crt, as \`controlplane pki init\` writes them).
Database migrations are applied at start (safe when replicas start together).
Prometheus metrics are served at http://<metrics.listen>/metrics (default 127.0.0.1:${METRICS_PORTS[service]};
--metrics-port, metrics.enabled=false turns it off; docs/observability.md). See docs/deployment.md.
${CONFIG_FLAGS_HELP}`;
  return {
    path: [service],
    usage,
    options: {
      config: { type: 'string' },
      'log-level': { type: 'string' },
      'metrics-port': { type: 'string' },
      ...Object.fromEntries(PORT_FLAG[service].map((f) => [f, { type: 'string' as const }])),
    },
    async run(ctx) {
      if (ctx.positionals.length > 0) throw new CliError(`unexpected argument '${ctx.positionals[0]}'\n\n${usage}`, EXIT.USAGE);
      const config = loadCliConfig(ctx, ['log-level', 'metrics-port', ...PORT_FLAG[service]]);
      const logger = createLogger({ service, level: config.log.level });
      const stop = new StopSignal(() => process.exit(130));
      try {
        let running;
        try {
          running = await startServiceFromConfig(service, config, { logger });
        } catch (err) {
          throw startupError(err);
        }
        ctx.stderr.write(`${service} listening on ${running.url}${running.enrollUrl ? ` (enrolment ${running.enrollUrl})` : ''}\n`);
        if (running.metricsUrl) ctx.stderr.write(`${service} metrics at ${running.metricsUrl}/metrics\n`);
        await stop.wait();
        logger.info({ signal: stop.received }, 'stopping');
        await running.close();
        ctx.stderr.write(`${service} stopped\n`);
        return EXIT.OK;
      } finally {
        stop.dispose();
      }
    },
  };
}

export const gatewayCommand = serviceCommand('gateway');
export const jobforgeCommand = serviceCommand('jobforge');
export const truthcoreCommand = serviceCommand('truthcore');
