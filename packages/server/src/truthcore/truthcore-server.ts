import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { PRODUCT_VERSION } from '@controlplane/contracts';
import {
  attachPeerVerification,
  mtlsServerOptions,
  type FieldCipher,
  type Logger,
  type TlsMaterial,
  type Tracing,
} from '@controlplane/platform';
import { createHttpApp, registerAuditHook, registerHealthRoute, type HealthProbe, type HttpApp } from '../http/index.js';
import type { AuditSink } from '../audit/index.js';
import type { ServerMetrics } from '../observability/index.js';
import type { Database } from '../storage/index.js';
import { AssertionService } from './assertions.js';
import { registerTruthcoreRoutes } from './http/routes.js';
import { JobResultService } from './job-results.js';
import { parseTrustAnchors } from './runner-attestation.js';
import { TruthStore } from './truth-store.js';

export const TRUTHCORE_SERVICE = 'truthcore';

export interface TruthcoreServerOptions {
  db: Database;
  logger: Logger;
  /** This service's mTLS material (certificate with spiffe://<domain>/service/truthcore). */
  tls: TlsMaterial;
  trustDomain: string;
  /** PEM of the CA(s) that issue runner certificates: a result's signer must chain to one. */
  caCertPem: string;
  listen: { host: string; port: number };
  /** Service identities allowed to call the tenant API on behalf of clients. */
  trustedServices?: readonly string[];
  /** Service identities allowed to record job results. */
  resultWriters?: readonly string[];
  /** Upper bound on a subscription's polling interval (other replicas' writes are seen by polling). */
  subscriptionPollMs?: number;
  /** Matches up to which `totalCount` is exact. */
  countCap?: number;
  version?: string;
  /** Where security-relevant actions (results recorded or refused, assertions) are recorded. */
  audit?: AuditSink | undefined;
  /** Field encryption for sensitive assertion objects and job results at rest. */
  cipher?: FieldCipher | undefined;
  /** More /health probes (the composition's: encryption at rest, audit checkpoints). */
  healthProbes?: readonly HealthProbe[];
  /** The process's metrics: TruthCore adds its HTTP and PostgreSQL pool metrics. */
  metrics?: ServerMetrics | undefined;
  /** Spans of its requests and of each recorded result (off by default). */
  tracing?: Tracing | undefined;
}

export interface TruthcoreServer {
  url: string;
  assertions: AssertionService;
  results: JobResultService;
  app: HttpApp;
  close(): Promise<void>;
}

export async function startTruthcore(o: TruthcoreServerOptions): Promise<TruthcoreServer> {
  // Parsed before listening: a TruthCore that cannot check signatures must not start.
  const anchors = parseTrustAnchors(o.caCertPem);
  const store = new TruthStore({ cipher: o.cipher });
  const appends = new EventEmitter();
  appends.setMaxListeners(0);
  const assertions = new AssertionService({ db: o.db, store, countCap: o.countCap, onAppend: (tenantId) => appends.emit(tenantId) });
  const results = new JobResultService({ db: o.db, store, assertions, trustDomain: o.trustDomain, anchors, logger: o.logger });
  const version = o.version ?? PRODUCT_VERSION;

  const app = createHttpApp({
    service: TRUTHCORE_SERVICE,
    logger: o.logger,
    https: mtlsServerOptions(o.tls, { trustDomain: o.trustDomain }),
    bodyLimitBytes: 8 * 1024 * 1024,
    metrics: o.metrics,
    tracing: o.tracing,
  });
  // Every verified identity of the trust domain may connect; each route then decides. That way a
  // runner or a stray service is answered 403 (and logged) rather than dropped mid-handshake.
  attachPeerVerification(app.server as unknown as TlsServer, {
    trustDomain: o.trustDomain,
    verifyPeer: () => true,
    onReject: (r) => o.logger.warn({ reason: r.reason, peer: r.principal?.spiffeId, remoteAddress: r.remoteAddress }, 'mTLS peer refused'),
  });
  registerHealthRoute(app, TRUTHCORE_SERVICE, version, [
    { name: 'database', check: async () => void (await o.db.query('select 1')) },
    ...(o.healthProbes ?? []),
  ]);
  if (o.audit) registerAuditHook(app, o.audit, o.logger);
  registerTruthcoreRoutes(app, {
    assertions,
    results,
    trustedServices: new Set(o.trustedServices ?? ['gateway']),
    resultWriters: new Set(o.resultWriters ?? ['jobforge']),
    audit: o.audit,
    tracing: o.tracing,
    pollIntervalMs: o.subscriptionPollMs ?? 1_000,
    waitForAppend: (tenantId, ms, signal) =>
      new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        const done = () => {
          clearTimeout(t);
          appends.off(tenantId, done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const t = setTimeout(done, ms);
        appends.on(tenantId, done);
        signal.addEventListener('abort', done, { once: true });
      }),
  });

  await app.listen({ host: o.listen.host, port: o.listen.port });
  const unwatchPool = o.metrics?.watchPool(TRUTHCORE_SERVICE, o.db.poolStats);
  const addr = app.server.address() as AddressInfo;
  const host = (h: string) => (h.includes(':') ? `[${h}]` : h);
  o.logger.info({ port: addr.port }, 'truthcore listening');
  await o.audit
    ?.record({
      tenantId: null,
      actor: { kind: 'service', id: TRUTHCORE_SERVICE },
      action: 'service.started',
      outcome: 'success',
      details: { resultWriters: [...(o.resultWriters ?? ['jobforge'])] },
    })
    .catch((err: unknown) => o.logger.error({ err }, 'could not record service start in the audit log'));

  return {
    url: `https://${host(o.listen.host)}:${addr.port}`,
    assertions,
    results,
    app,
    async close() {
      unwatchPool?.();
      await app.close();
    },
  };
}
