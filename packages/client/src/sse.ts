/** One Server-Sent Events message (https://html.spec.whatwg.org/multipage/server-sent-events.html). */
export interface SseMessage {
  id: string | undefined;
  event: string;
  data: string;
}

// A line longer than this is not an event this API sends; refusing it bounds memory.
const MAX_LINE_CHARS = 1024 * 1024;

/**
 * Parses an event stream into messages. Comments (`: keep-alive`) are skipped; `retry:` is ignored
 * because reconnection is the caller's decision.
 */
export async function* parseSse(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  let id: string | undefined;
  let event = '';
  let data: string[] = [];
  let first = true;
  for await (const chunk of chunks) {
    buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    if (first && buffer.length > 0) {
      if (buffer.charCodeAt(0) === 0xfeff) buffer = buffer.slice(1);
      first = false;
    }
    for (;;) {
      const nl = buffer.search(/\r\n|\r|\n/);
      if (nl === -1) {
        if (buffer.length > MAX_LINE_CHARS) throw new Error('event stream line too long');
        break;
      }
      // A lone \r at the end may be the first half of \r\n: wait for more input.
      if (buffer[nl] === '\r' && nl === buffer.length - 1) break;
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (data.length > 0) yield { id, event: event || 'message', data: data.join('\n') };
        event = '';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') data.push(value);
      else if (field === 'event') event = value;
      else if (field === 'id' && !value.includes('\u0000')) id = value;
    }
  }
}
