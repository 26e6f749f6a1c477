// OpenTelemetry tracing across the processes a job touches: the client sends a W3C traceparent,
// the gateway continues it to JobForge, the job carries it in its envelope to the runner (a span
// around the handler), and TruthCore's record of the result joins the same trace. The spans are
// exported over OTLP/HTTP to a receiver in this test, which finds one trace spanning the four
// services and no trace of the job's data anywhere in what was exported.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlaneClient } from '@controlplane/client';
import { createLogger, loadConfig, Tracing } from '@controlplane/platform';
import { DEMO_HANDLERS_MODULE, enrollRunner, RunnerAgent } from '@controlplane/runner';
import { createBootstrapAdminKey, ensureDevPki, ensureTenant, startSystem, type DevPki, type RunningSystem } from '@controlplane/server';

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: Array<{ key: string; value: OtlpValue }>;
}
interface ReceivedSpan extends OtlpSpan {
  service: string;
}

/** An OTLP/HTTP trace receiver (JSON encoding): keeps every request body and every span. */
class OtlpReceiver {
  readonly bodies: string[] = [];
  readonly spans: ReceivedSpan[] = [];
  readonly #server: Server;

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        this.bodies.push(body);
        if (req.method === 'POST' && req.url === '/v1/traces') {
          const parsed = JSON.parse(body) as {
            resourceSpans?: Array<{
              resource?: { attributes?: Array<{ key: string; value: OtlpValue }> };
              scopeSpans?: Array<{ spans?: OtlpSpan[] }>;
            }>;
          };
          for (const rs of parsed.resourceSpans ?? []) {
            const service = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '?';
            for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) this.spans.push({ ...s, service });
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as { port: number }).port}/v1/traces`;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

describe('tracing a job across the services', () => {
  const receiver = new OtlpReceiver();
  const logLines: string[] = [];
  let dir: string;
  let pki: DevPki;
  let system: RunningSystem;
  let runner: RunnerAgent;
  let runnerTracing: Tracing;
  let clientTracing: Tracing;
  let client: ControlPlaneClient;

  beforeAll(async () => {
    const url = await receiver.start();
    dir = mkdtempSync(join(tmpdir(), 'cp-tracing-'));
    // Tracing is configured as an operator would: the standard variable names the receiver.
    const config = loadConfig({
      env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url },
      flags: {
        dataDir: dir,
        'gateway.listen.port': 0,
        'jobforge.listen.port': 0,
        'truthcore.listen.port': 0,
        'jobforge.enrollListen.port': 0,
      },
    });
    expect(config.tracing.tracesEndpoint).toBe(url);
    pki = await ensureDevPki(config);
    const logs = new Writable({
      write(chunk: Buffer, _e, done) {
        logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    system = await startSystem({ config, pki, loggerFor: (service) => createLogger({ service, level: 'info', destination: logs }) });
    await ensureTenant(system.db, { id: 'dev', name: 'Development' });
    const admin = await createBootstrapAdminKey(system.db, 'dev', 'tracing test');
    client = new ControlPlaneClient({
      url: system.gateway.url,
      ca: pki.ca.certPem,
      apiKey: admin.key,
      signingKey: { keyId: admin.id, privateKey: admin.signingPrivateKeyPem! },
    });
    const token = await client.joinTokens.create({ ttlSeconds: 120 });
    await enrollRunner({
      joinToken: token.token,
      enrollUrl: system.jobforge.enrollUrl,
      caFile: join(pki.dir, 'ca.crt'),
      dir: join(dir, 'runner'),
      name: 'tracing-test',
    });
    runnerTracing = new Tracing({ serviceName: 'runner', url });
    runner = new RunnerAgent({
      dir: join(dir, 'runner'),
      handlersModule: DEMO_HANDLERS_MODULE,
      logger: createLogger({ service: 'runner', level: 'silent' }),
      drainTimeoutMs: 1_000,
      tracing: runnerTracing,
    });
    await runner.start();
    clientTracing = new Tracing({ serviceName: 'test-client', url });
    // Set-up (database, certificates, a runner with warm sandboxes) is slow on a loaded machine.
  }, 120_000);

  afterAll(async () => {
    client?.close();
    await runner?.stop();
    await runnerTracing?.shutdown();
    await clientTracing?.shutdown();
    await system?.close();
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds one trace from the client through the gateway, JobForge, the runner and TruthCore, with none of the job’s data', async () => {
    const marker = `marker-${randomBytes(8).toString('hex')}`;
    let traceId = '';
    const job = await clientTracing.inSpan('submit and wait', {}, async (span) => {
      traceId = span!.spanContext().traceId;
      const submitted = await client.jobs.submit({ type: 'echo', data: { secret: marker } });
      return client.jobs.wait(submitted.id, { timeoutMs: 20_000 });
    });
    expect(job.status).toBe('completed');
    expect(job.result?.data).toEqual({ secret: marker });
    await clientTracing.flush();
    await runnerTracing.flush();

    const wanted = ['gateway', 'jobforge', 'runner', 'truthcore', 'test-client'];
    let inTrace: ReceivedSpan[] = [];
    for (let i = 0; i < 200; i++) {
      inTrace = receiver.spans.filter((s) => s.traceId === traceId);
      if (wanted.every((w) => inTrace.some((s) => s.service === w))) break;
      await sleep(100);
    }
    expect([...new Set(inTrace.map((s) => s.service))].sort()).toEqual([...wanted].sort());

    // The links: the gateway continues the client's span, JobForge the gateway's, the runner the
    // submission's (from the envelope), TruthCore's record of the result the same one (from the job).
    const byId = new Map(inTrace.map((s) => [s.spanId, s]));
    const parentService = (s: ReceivedSpan) => (s.parentSpanId ? byId.get(s.parentSpanId)?.service : undefined);
    // (A loaded machine may shed the first attempt with a 503 that the client retries, in the same trace.)
    const status = (s: ReceivedSpan) => Number(s.attributes?.find((a) => a.key === 'http.response.status_code')?.value.intValue);
    const gatewaySubmit = inTrace.find((s) => s.service === 'gateway' && s.name === 'POST /jobs' && status(s) === 202)!;
    expect(parentService(gatewaySubmit)).toBe('test-client');
    const jobforgeSubmit = inTrace.find((s) => s.service === 'jobforge' && s.name === 'POST /v1/jobs')!;
    expect(byId.get(jobforgeSubmit.parentSpanId!)).toBe(gatewaySubmit);
    // The database step of the submission is a span of its own under JobForge's.
    const stored = inTrace.find((s) => s.service === 'jobforge' && s.name === 'jobforge.store_jobs')!;
    expect(byId.get(stored.parentSpanId!)).toBe(jobforgeSubmit);
    const run = inTrace.find((s) => s.service === 'runner' && s.name === 'run echo')!;
    expect(byId.get(run.parentSpanId!)).toBe(jobforgeSubmit);
    const record = inTrace.find((s) => s.service === 'truthcore' && s.name === 'truthcore.record_result')!;
    expect(byId.get(record.parentSpanId!)).toBe(jobforgeSubmit);

    // No payload or result in any attribute — nor anywhere else in what was exported.
    for (const s of receiver.spans) for (const a of s.attributes ?? []) expect(JSON.stringify(a.value)).not.toContain(marker);
    expect(receiver.bodies.some((b) => b.includes(marker))).toBe(false);
    expect(receiver.bodies.some((b) => b.includes('authorization') || b.includes('cpk_'))).toBe(false);

    // The services' log lines of the request carry its trace id.
    const traced = logLines.map((l) => JSON.parse(l) as { service: string; trace_id?: string }).filter((l) => l.trace_id === traceId);
    expect([...new Set(traced.map((l) => l.service))]).toEqual(expect.arrayContaining(['gateway', 'jobforge', 'truthcore']));
  });

  it('starts a trace of its own for a request that brings none', async () => {
    const before = receiver.spans.length;
    await client.health();
    let health: ReceivedSpan | undefined;
    for (let i = 0; i < 100 && !health; i++) {
      health = receiver.spans.slice(before).find((s) => s.service === 'gateway' && s.name === 'GET /health');
      if (!health) await sleep(100);
    }
    expect(health!.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(health!.parentSpanId ?? '').toBe('');
  });
});
