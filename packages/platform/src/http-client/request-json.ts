import { request as httpsRequest, type Agent } from 'node:https';
import { AppError, ErrorBody, appErrorFromEnvelope } from '@controlplane/contracts';
import { CORRELATION_HEADER, currentCorrelationId } from '../logging/index.js';

export interface JsonRequest {
  url: string;
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  body?: unknown;
  /** mTLS agent (createMtlsAgent) or a server-auth-only agent. */
  agent: Agent;
  headers?: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Largest response body accepted. */
  maxResponseBytes?: number;
}

export interface JsonResponse<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
}

/**
 * One JSON request over HTTPS. Never plain HTTP. The correlation id of the current context is
 * sent along. Transport failures become retryable SERVICE_UNAVAILABLE / UPSTREAM_TIMEOUT errors;
 * an error body from the peer is returned as it is (see `expectOk`).
 */
export function requestJson<T = unknown>(req: JsonRequest): Promise<JsonResponse<T>> {
  const url = new URL(req.url);
  if (url.protocol !== 'https:') return Promise.reject(new Error(`refusing to send a request over ${url.protocol}; HTTPS only`));
  const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body), 'utf8');
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
  const cid = currentCorrelationId();
  if (cid && !headers[CORRELATION_HEADER]) headers[CORRELATION_HEADER] = cid;
  if (payload) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(payload.length);
  }
  const max = req.maxResponseBytes ?? 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const r = httpsRequest(
      url,
      { method: req.method ?? (payload ? 'POST' : 'GET'), agent: req.agent, headers, timeout: req.timeoutMs ?? 30_000, signal: req.signal },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > max) {
            res.destroy(new Error('response too large'));
            return;
          }
          chunks.push(c);
        });
        res.on('error', (err) => reject(new AppError('SERVICE_UNAVAILABLE', { retryAfter: 1, cause: err })));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = undefined;
          if (text.length > 0) {
            try {
              body = JSON.parse(text);
            } catch (err) {
              reject(
                new AppError('SERVICE_UNAVAILABLE', { retryAfter: 1, cause: err, message: 'An upstream service sent a malformed answer.' }),
              );
              return;
            }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body as T });
        });
      },
    );
    r.on('timeout', () => r.destroy(new AppError('UPSTREAM_TIMEOUT', { retryAfter: 1 })));
    r.on('error', (err) => {
      if (err instanceof AppError) reject(err);
      else if ((err as Error).name === 'AbortError') reject(err);
      else reject(new AppError('SERVICE_UNAVAILABLE', { retryAfter: 1, cause: err }));
    });
    if (payload) r.end(payload);
    else r.end();
  });
}

/** The body of a 2xx answer, or the peer's error envelope rethrown as an AppError. */
export function expectOk<T>(res: JsonResponse<unknown>): T {
  if (res.status >= 200 && res.status < 300) return res.body as T;
  const parsed = ErrorBody.safeParse(res.body);
  if (parsed.success) throw appErrorFromEnvelope(parsed.data.error);
  throw new AppError(res.status === 503 ? 'SERVICE_UNAVAILABLE' : 'INTERNAL', {
    message: `Upstream answered ${res.status}.`,
    ...(res.status === 503 ? { retryAfter: 1 } : {}),
  });
}
