import { setTimeout as sleep } from 'node:timers/promises';
import { JobEvent } from '@controlplane/contracts';
import { ControlPlaneError, localEnvelope } from './errors.js';
import { parseSse } from './sse.js';
import type { Transport } from './transport.js';
import type { StreamedJobEvent } from './types.js';

export interface EventsOptions {
  /** Resume after this event (`seq` of the last event seen). */
  lastEventId?: string;
  signal?: AbortSignal;
  /**
   * Reconnect with `Last-Event-ID` when the stream drops before the job finished. At most this many
   * times in a row without receiving an event. Default 5; 0 turns it off.
   */
  maxReconnects?: number;
}

const TERMINAL_EVENTS = new Set(['job.completed', 'job.failed', 'job.cancelled', 'job.expired']);
const seg = (value: string) => encodeURIComponent(value);

/**
 * A job's events as a Server-Sent Events stream through the gateway, resumed with `Last-Event-ID`
 * when the stream drops before the job finished; it ends after the job's terminal event.
 */
export async function* streamJobEvents(transport: Transport, id: string, o: EventsOptions): AsyncGenerator<StreamedJobEvent> {
  let lastEventId = o.lastEventId;
  const maxReconnects = o.maxReconnects ?? 5;
  let quietReconnects = 0;
  for (;;) {
    const res = await transport.stream({
      operation: 'jobs.events',
      target: `/jobs/${seg(id)}/events`,
      lastEventId,
      signal: o.signal,
    });
    let received = false;
    try {
      for await (const message of parseSse(res)) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(message.data);
        } catch {
          continue;
        }
        const event = JobEvent.safeParse(parsed);
        if (!event.success) continue;
        received = true;
        if (message.id !== undefined) lastEventId = message.id;
        yield { ...event.data, seq: message.id };
        if (TERMINAL_EVENTS.has(event.data.type)) return;
      }
    } catch (err) {
      if (o.signal?.aborted) throw err;
      // A stream cut mid-way is reconnected below like one that ended early.
    } finally {
      res.destroy();
    }
    if (o.signal?.aborted) throw o.signal.reason;
    // The gateway ends a stream early only when a connection dropped (a replica stopping, an
    // upstream failing): resume after the last event seen, but not forever without progress.
    quietReconnects = received ? 0 : quietReconnects + 1;
    if (quietReconnects > maxReconnects) {
      throw new ControlPlaneError(
        localEnvelope({
          code: 'STREAM_ENDED',
          category: 'NETWORK_ERROR',
          message: `The event stream of job ${id} ended before the job finished.`,
          retryable: true,
          operation: 'jobs.events',
        }),
        0,
      );
    }
    if (quietReconnects > 0)
      await sleep(Math.min(5_000, 250 * 2 ** quietReconnects), undefined, o.signal ? { signal: o.signal } : undefined);
  }
}
