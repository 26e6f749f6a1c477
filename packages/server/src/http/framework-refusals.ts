import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, errorBody } from '@controlplane/contracts';
import { SECURITY_HEADERS } from './security-headers.js';

// Refusals Fastify and Node make before a request reaches a route answer with an ErrorEnvelope like
// every other refusal: no framework code or name, and never the request's own text (Fastify's
// defaults echo the URL).

/** Fastify's `frameworkErrors`: a URL that cannot be decoded, a parameter over the length bound. */
export function frameworkErrorHandler(service: string, maxParamLength: number) {
  return (err: { code?: string }, req: FastifyRequest, reply: FastifyReply): void => {
    const appErr =
      err.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? new AppError('URL_TOO_LONG', { params: { limit: maxParamLength } })
        : err.code === 'FST_ERR_BAD_URL'
          ? new AppError('MALFORMED_REQUEST')
          : new AppError('INTERNAL', { cause: err });
    if (appErr.status >= 500) req.log.error({ err, code: appErr.code }, 'request failed');
    else req.log.info({ code: appErr.code, status: appErr.status }, 'request refused');
    reply
      .headers(SECURITY_HEADERS)
      .code(appErr.status)
      .type('application/json; charset=utf-8')
      .send(errorBody(appErr, { service, correlationId: req.id }));
  };
}

/**
 * Node's `clientError` (bytes that are not HTTP, oversized headers, a request that did not arrive
 * within the timeouts): answered on the raw socket, which is then closed.
 */
export function clientErrorHandler(service: string) {
  return (err: NodeJS.ErrnoException, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const appErr =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new AppError('REQUEST_TIMEOUT')
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? new AppError('HEADERS_TOO_LARGE')
          : new AppError('MALFORMED_REQUEST');
    if (socket.writable) {
      const body = JSON.stringify(errorBody(appErr, { service }));
      const headers = {
        ...SECURITY_HEADERS,
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(body)),
        connection: 'close',
      };
      const head = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.write(`HTTP/1.1 ${appErr.status} ${STATUS_CODES[appErr.status] ?? ''}\r\n${head}\r\n${body}`);
    }
    socket.destroy();
  };
}
