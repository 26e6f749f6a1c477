// The runner's end of push dispatch (JobForge's jobforge/http/dispatch-stream.ts): one stream open
// to JobForge, leases arriving on it as jobs become ready, and credits sent on it as slots free.
import { request as httpsRequest, type Agent } from 'node:https';
import { ClaimResponse, parseOrThrow } from '@controlplane/contracts';
import { BoundedLineSplitter } from './sandbox/index.js';

const CONTENT_TYPE = 'application/x-ndjson';
/** A lease batch of 500 envelopes with their payloads fits well below this. */
const MAX_LINE_BYTES = 64 * 1024 * 1024;
/** JobForge says it is alive every 15 s on an idle stream; silence for this long means the connection is gone. */
const DEFAULT_SILENCE_MS = 45_000;

export interface DispatchEnd {
  reason: string;
  /** JobForge's status when it refused the stream. */
  status?: number | undefined;
  /** The stream broke or was refused, rather than being ended in order by one side. */
  error: boolean;
}

export interface DispatchHandlers {
  /** A signed batch of leases, as a claim would answer it. */
  onLeases(batch: ClaimResponse): void;
  /** The stream has ended, whatever the cause; reported once. */
  onEnd(end: DispatchEnd): void;
}

export interface DispatchStream {
  /** Tells JobForge that `n` more slots are free. */
  grant(n: number): void;
  /** Ends the stream from this side. */
  close(): void;
}

/**
 * Opens the stream with `credits` (the slots free now). Leases are handed to `onLeases` as they
 * arrive; the caller opens a new stream when this one ends (JobForge keeps nothing of a stream: the
 * leases it carried are the runner's to finish, and one lost in a broken connection expires).
 */
export function openDispatchStream(
  o: { url: string; agent: Agent; credits: number; types?: readonly string[] | undefined; silenceMs?: number },
  handlers: DispatchHandlers,
): DispatchStream {
  let ended = false;
  let silence: NodeJS.Timeout | undefined;
  const end = (reason: string, error: boolean, status?: number) => {
    if (ended) return;
    ended = true;
    clearTimeout(silence);
    req.destroy();
    handlers.onEnd({ reason, error, status });
  };
  const heard = () => {
    clearTimeout(silence);
    silence = setTimeout(() => end('JobForge fell silent', true), o.silenceMs ?? DEFAULT_SILENCE_MS);
    silence.unref();
  };
  const req = httpsRequest(
    `${o.url}/runner/v1/dispatch`,
    { method: 'POST', agent: o.agent, headers: { 'content-type': CONTENT_TYPE, accept: CONTENT_TYPE } },
    (res) => {
      if (res.statusCode !== 200) {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body = (body + c).slice(0, 2_000)));
        res.on('end', () => end(`JobForge answered ${res.statusCode}: ${body}`, true, res.statusCode));
        return;
      }
      heard();
      const lines = new BoundedLineSplitter(MAX_LINE_BYTES);
      res.on('data', (chunk: Buffer) => {
        if (ended) return;
        heard();
        const got = lines.push(chunk);
        if (got === 'overflow') return end('a message from JobForge was larger than the limit', true);
        for (const line of got) {
          let message: unknown;
          try {
            message = JSON.parse(line);
          } catch {
            return end('JobForge sent a line that is not JSON', true);
          }
          // `{}` only says the stream is alive.
          if (message && typeof message === 'object' && 'jobs' in message) {
            let batch: ClaimResponse;
            try {
              batch = parseOrThrow(ClaimResponse, message);
            } catch {
              return end('JobForge sent a lease batch that is not one', true);
            }
            handlers.onLeases(batch);
          }
        }
      });
      res.on('end', () => end('JobForge ended the stream', false));
      res.on('error', (err) => end(`the stream broke: ${err.message}`, true));
      res.on('close', () => end('the stream closed', true));
    },
  );
  req.on('error', (err) => end(`the stream broke: ${err.message}`, true));
  req.write(`${JSON.stringify({ credits: o.credits, ...(o.types ? { types: o.types } : {}) })}\n`);
  return {
    grant(n) {
      if (!ended && n > 0) req.write(`${JSON.stringify({ credits: n })}\n`);
    },
    close() {
      end('closed by the runner', false);
    },
  };
}
