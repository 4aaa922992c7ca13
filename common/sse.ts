import { createParser, type EventSourceMessage } from 'eventsource-parser';

/**
 * The server-sent events of a response body, as they arrive (a comment or `retry:` line is
 * no event). Ends with the body.
 */
export async function* serverSentEvents(body: AsyncIterable<Uint8Array>): AsyncGenerator<EventSourceMessage> {
  const ready: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => ready.push(e) });
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    yield* ready.splice(0);
  }
}
