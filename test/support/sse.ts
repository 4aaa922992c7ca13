import { get, type IncomingMessage } from 'node:http';
import type { ActivationRecord } from '../../common/activation.ts';
import { serverSentEvents } from '../../common/sse.ts';
import { basic } from './server.ts';

/** An open activation stream: the records it carried so far, and a way to wait for one. */
export interface OpenStream {
  status: number;
  records: ActivationRecord[];
  /** The first record (carried already or later) that `match` accepts, or a failure after `ms`. */
  next(match: (r: ActivationRecord) => boolean, ms?: number): Promise<ActivationRecord>;
  close(): void;
}

/** Open `url` (an activation stream) as `auth` (`uuid:key` or `Bearer …`) and collect its records. */
export async function openStream(url: string, auth: string): Promise<OpenStream> {
  // (node:http, not fetch: an aborted fetch leaves the server a second, unused connection that holds its close for a minute)
  const res = await new Promise<IncomingMessage>((ok, fail) => get(url, { headers: { authorization: auth.includes(' ') ? auth : basic(auth), accept: 'text/event-stream' }, agent: false }, ok).once('error', fail));
  const records: ActivationRecord[] = [];
  const waiting = new Set<() => void>();
  if (res.statusCode === 200) {
    void (async () => {
      for await (const e of serverSentEvents(res)) {
        if (e.event === 'activation') records.push(JSON.parse(e.data) as ActivationRecord);
        for (const w of waiting) w();
      }
    })().catch(() => undefined);
  }
  return {
    status: res.statusCode ?? 0,
    records,
    next: (match, ms = 15_000) =>
      new Promise((ok, fail) => {
        const check = () => {
          const found = records.find(match);
          if (!found) return;
          waiting.delete(check);
          clearTimeout(timer);
          ok(found);
        };
        const timer = setTimeout(() => {
          waiting.delete(check);
          fail(new Error(`no matching record on the stream within ${ms} ms (carried: ${records.map((r) => r.name).join(', ') || 'none'})`));
        }, ms);
        waiting.add(check);
        check();
      }),
    close: () => res.destroy(),
  };
}
