import type Router from '@koa/router';
import { PassThrough } from 'node:stream';
import { activationPath, type ActivationRecord } from '../../common/activation.ts';
import { TooManyRequestsError } from '../../common/errors.ts';
import type { Ctx, Services, SwirlState } from '../context.ts';
import { nameFilter } from './activations.ts';
import { resolveNamespace } from './namespaces.ts';

/** Streams one namespace may hold open on one controller. */
export const MAX_STREAMS_PER_NAMESPACE = 10;
/** A comment line this often keeps proxies and clients from timing the stream out. */
const KEEP_ALIVE_MS = 15_000;


/** One server-sent event: the record, its id as the event's id. */
const event = (r: ActivationRecord): string => `id: ${r.activationId}\nevent: activation\ndata: ${JSON.stringify(r)}\n\n`;

/**
 * `GET /namespaces/{ns}/activations/stream`: the caller's new activation records as
 * server-sent events (`event: activation`, the whole record as `data`), from the moment the
 * stream opens, optionally of one action (`?name=`). Authenticated as every API call (the
 * dashboard and the CLI stream with fetch, which sends the Authorization header). The records
 * come from the store (ActivationFeed), so a stream on any controller carries the activations
 * of every invoker and controller.
 */
export function activationStreamRoutes(router: Router<SwirlState>, { feed }: Services): void {
  router.get('/namespaces/:ns/activations/stream', async (ctx) => {
    const c = ctx as Ctx;
    const namespace = resolveNamespace(c);
    const name = nameFilter(c, namespace);
    if (feed.listeners(namespace) >= MAX_STREAMS_PER_NAMESPACE) {
      throw new TooManyRequestsError(`Too many activation streams are open for namespace '${namespace}' (at most ${MAX_STREAMS_PER_NAMESPACE} per controller).`, 5);
    }
    const out = new PassThrough();
    let keepAlive: NodeJS.Timeout | undefined;
    const stop = await feed.subscribe(namespace, {
      record: (r) => {
        if (!name || activationPath(r) === name) out.write(event(r));
      },
      end: () => out.end(),
    });
    keepAlive = setInterval(() => out.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
    ctx.res.once('close', () => {
      clearInterval(keepAlive);
      keepAlive = undefined;
      stop();
      out.destroy();
    });
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no' });
    ctx.status = 200;
    // tells the client it is connected, and how long to wait before reconnecting
    out.write(`retry: 3000\n: activations of ${namespace}\n\n`);
    ctx.body = out;
  });
}
