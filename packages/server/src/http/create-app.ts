import type { ServerOptions as HttpsServerOptions } from 'node:https';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { AppError, errorBody, errorCodeSpec } from '@controlplane/contracts';
import {
  CAUSATION_HEADER,
  CORRELATION_HEADER,
  correlationIdFrom,
  isValidCorrelationId,
  runWithContext,
  type Logger,
  SpanKind,
  type RequestContext,
  type SpanHandle,
  type Tracing,
} from '@controlplane/platform';
import type { ServerMetrics } from '../observability/index.js';
import { newScopeHolder, openRequestScope } from '../storage/internal.js';
import { httpErrorFrom } from './error-mapping.js';
import { clientErrorHandler, frameworkErrorHandler } from './framework-refusals.js';
import { DEFAULT_JSON_MAX_DEPTH, jsonBodyParser } from './json-body.js';
import { LazyRequestLogger } from './request-logger.js';
import { SECURITY_HEADERS } from './security-headers.js';
import { unstorableStrings } from './storable-text.js';

declare module 'fastify' {
  interface FastifyRequest {
    ctx: RequestContext;
    /** This request's data scope (storage/data-scope.ts): no tenant until the caller is known. */
    dataScope: object;
    /** This request's server span, when tracing is on. */
    span: SpanHandle | undefined;
  }
}

export interface HttpAppOptions {
  /** Service name stamped on every error envelope and log line. */
  service: string;
  logger: Logger;
  /** TLS server options. Required: there is no plaintext mode. */
  https: HttpsServerOptions;
  bodyLimitBytes?: number;
  jsonMaxDepth?: number;
  /** Whole request (headers + body) must arrive within this. */
  requestTimeoutMs?: number;
  /** Headers must arrive within this (slow-loris bound). */
  headersTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** A socket idle for this long is closed. */
  idleTimeoutMs?: number;
  /**
   * Some routes read a request body that stays open (JobForge's dispatch stream): no bound on how
   * long a whole request may take, only on its headers and on idle sockets. Only for listeners whose
   * every peer is authenticated in the TLS handshake (mTLS).
   */
  streamingRequestBodies?: boolean;
  /** Counts and times every answered request by route pattern and status (never by its URL). */
  metrics?: ServerMetrics | undefined;
  /**
   * A server span per request, continuing the caller's W3C `traceparent`. Its attributes are the
   * method, the route pattern and the status: never the URL, a header or the body.
   */
  tracing?: Tracing | undefined;
}

export type HttpApp = FastifyInstance;

/** The longest URL parameter a route accepts (ids, names); longer ones are URL_TOO_LONG (414). */
const MAX_PARAM_LENGTH = 256;

/**
 * A Fastify app with the behaviour every ControlPlane listener shares: HTTPS only, correlation
 * ids carried through async work, security headers, a depth-limited JSON parser that refuses
 * prototype-pollution keys, bounded timeouts, and one error handler that answers with an
 * ErrorEnvelope and keeps internals in the log.
 */
export function createHttpApp(options: HttpAppOptions): HttpApp {
  if (!options.https || (!options.https.cert && !options.https.pfx)) {
    throw new Error(`${options.service}: an HTTPS certificate is required; plaintext HTTP is not supported`);
  }
  const bodyLimit = options.bodyLimitBytes ?? 1_048_576;
  const jsonMaxDepth = options.jsonMaxDepth ?? DEFAULT_JSON_MAX_DEPTH;
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const requestTimeout = options.streamingRequestBodies ? 0 : Math.max(options.requestTimeoutMs ?? 30_000, headersTimeout);

  const app = Fastify({
    loggerInstance: options.logger,
    // We log one concise line per response ourselves (onResponse) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'correlationId' }),
    childLoggerFactory: (logger, bindings, opts) => new LazyRequestLogger(logger as Logger, bindings, opts),
    https: {
      // Node only checks header/request timeouts on this interval; the default (30 s) would let a
      // slow-loris client hold a socket far past headersTimeout.
      connectionsCheckingInterval: 1_000,
      handshakeTimeout: 10_000,
      ...options.https,
    } as HttpsServerOptions,
    bodyLimit,
    requestTimeout,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000,
    connectionTimeout: options.idleTimeoutMs ?? 60_000,
    genReqId: (req) => correlationIdFrom(req.headers[CORRELATION_HEADER]),
    // Answered by the onRequest hook below, as an envelope (Fastify's own 503 body is not one).
    return503OnClosing: false,
    forceCloseConnections: true,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: frameworkErrorHandler(options.service, MAX_PARAM_LENGTH),
    clientErrorHandler: clientErrorHandler(options.service),
  }) as unknown as FastifyInstance;
  app.server.headersTimeout = headersTimeout;

  app.decorateRequest('ctx', undefined as unknown as RequestContext);
  app.decorateRequest('span', undefined);
  const tracing = options.tracing?.enabled ? options.tracing : undefined;

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, jsonBodyParser(jsonMaxDepth));

  app.addHook('onRequest', (req, reply, done) => {
    const causation = req.headers[CAUSATION_HEADER];
    req.ctx = {
      correlationId: req.id,
      causationId: isValidCorrelationId(causation) ? causation : undefined,
    };
    reply.headers(SECURITY_HEADERS);
    reply.header(CORRELATION_HEADER, req.id);
    req.dataScope = newScopeHolder();
    req.span = tracing?.startSpan(`${req.method} ${req.routeOptions.url ?? 'unmatched'}`, {
      kind: SpanKind.SERVER,
      carrier: req.headers,
      attributes: {
        'http.request.method': req.method,
        'http.route': req.routeOptions.url ?? 'unmatched',
        'controlplane.service': options.service,
        'controlplane.correlation_id': req.id,
      },
    });
    // Every continuation of this request (hooks, handler, awaited work) runs inside the context,
    // and in a data scope that sees no tenant's rows until authentication names the tenant.
    runWithContext(req.ctx, () => openRequestScope(req.dataScope, () => (tracing ? tracing.within(req.span, done) : done())));
  });
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  // URL parameters and query values reach filters and storage: refuse what PostgreSQL cannot hold
  // (bodies are checked by the JSON parser).
  app.addHook('onRequest', (req, reply, done) => {
    if (closing) {
      reply.header('connection', 'close');
      done(new AppError('SERVICE_UNAVAILABLE', { retryAfter: 1, message: 'The service is shutting down; try again shortly.' }) as never);
      return;
    }
    const details = [...unstorableStrings(req.params, ['params']), ...unstorableStrings(req.query, ['query'])];
    if (details.length > 0) done(new AppError('VALIDATION_FAILED', { details }) as never);
    else done();
  });
  // Body parsing runs on socket events outside the context; re-enter it before validation.
  app.addHook('preValidation', (req, _reply, done) =>
    runWithContext(req.ctx, () => openRequestScope(req.dataScope, () => (tracing ? tracing.within(req.span, done) : done()))),
  );

  const metrics = options.metrics;
  app.addHook('onResponse', (req, reply, done) => {
    // The route pattern (`/v1/jobs/:id`), never the URL: a label must not carry a job id.
    const route = req.routeOptions.url ?? 'unmatched';
    req.log.info({ method: req.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request completed');
    if (req.span) {
      req.span.span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) req.span.span.setStatus({ code: 2 });
      req.span.span.end();
    }
    if (metrics) {
      const labels = { service: options.service, method: knownMethod(req.method), route, status: String(reply.statusCode) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    }
    done();
  });

  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(
      errorBody(httpErrorFrom({ code: 'FST_ERR_NOT_FOUND' }, { bodyLimitBytes: bodyLimit }), {
        service: options.service,
        correlationId: req.id,
      }),
    );
  });

  app.setErrorHandler((err, req, reply) => {
    const appErr = httpErrorFrom(err, { bodyLimitBytes: bodyLimit });
    // A 5xx the registry calls a warning (load shed) is expected under load: a stack per refused
    // request would only add to it.
    if (appErr.status >= 500 && errorCodeSpec(appErr.code).severity === 'warning') {
      req.log.warn({ code: appErr.code, status: appErr.status }, 'request refused');
    } else if (appErr.status >= 500) {
      req.log.error({ err: appErr.cause ?? err, code: appErr.code }, 'request failed');
    } else {
      req.log.info({ code: appErr.code, status: appErr.status }, 'request refused');
    }
    if (appErr.retryAfter !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(appErr.retryAfter))));
    const operation = req.routeOptions.url ? `${req.method} ${req.routeOptions.url}` : undefined;
    reply
      .code(appErr.status)
      .type('application/json; charset=utf-8')
      .send(errorBody(appErr, { service: options.service, operation, correlationId: req.id, causationId: req.ctx?.causationId }));
  });

  return app;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** A client may send any method name; a label keeps to the known ones. */
function knownMethod(method: string): string {
  return METHODS.has(method) ? method : 'OTHER';
}
