import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Middleware } from 'koa';
import { BadRequestError, Messages, SwirlError } from './errors.ts';
import { answerRefusals } from './http-refusals.ts';
import { type Logger, withLogContext } from './logger.ts';
import { transactionIdFrom } from './txid.ts';

/** What requestContext puts in `ctx.state` for the handlers after it. */
export interface RequestState {
  tid: string;
  log: Logger;
}

/**
 * Gives every request a transaction id (kept from `X-Request-ID` when the caller sent a
 * sane one) in the log context of everything the request does (every line logged on its
 * way carries it), the `X-Request-ID` response header, one access log line, and
 * OpenWhisk-shaped errors: `{"error": "...", "code": "<tid>"}`.
 * Internal failures are logged with their details and answered with a generic message.
 */
export function requestContext<S extends RequestState>(logger: Logger, onAnswered?: Answered): Middleware<S> {
  return (ctx, next) => {
    const tid = transactionIdFrom(ctx.get('x-request-id') || undefined);
    return withLogContext({ tid }, () => handle(ctx, next, tid, logger, onAnswered));
  };
}

/** Told of every request once answered, with its final status, and how long it took (seconds): metrics. */
export type Answered = (ctx: { method: string; status: number; _matchedRoute?: string | RegExp }, seconds: number) => void;

/**
 * One request in its log context: the state, the header, the error shape, the access line.
 * One promise chain rather than an async function: each promise costs on the invoke path
 * while AsyncLocalStorage carries the log context (Node 20).
 */
function handle<S extends RequestState>(ctx: Parameters<Middleware<S>>[0], next: () => Promise<unknown>, tid: string, log: Logger, onAnswered: Answered | undefined): Promise<void> {
  ctx.state.tid = tid;
  ctx.state.log = log;
  ctx.set('X-Request-ID', tid);
  const started = process.hrtime.bigint();
  const failed = (err: unknown): void => {
    const { status, message } = classify(err);
    if (status >= 500) log.error({ err }, 'request failed');
    ctx.status = status;
    ctx.body = { error: message, code: tid };
    if (status === 401) ctx.set('WWW-Authenticate', 'Basic realm="swirl"');
    if (err instanceof SwirlError && err.headers) ctx.set(err.headers);
  };
  const answered = (): void => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    // (its fields are not even made where info lines are not written)
    if (log.isLevelEnabled('info')) log.info({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 100) / 100 }, 'request');
    onAnswered?.(ctx as Parameters<Answered>[0], ms / 1000);
  };
  let handled: Promise<unknown>;
  try {
    // HTTP/1.1 requires it (Node's own check would answer with an empty body)
    if (ctx.req.httpVersion === '1.1' && ctx.get('host') === '') throw new BadRequestError(Messages.hostMissing);
    handled = next();
  } catch (err) {
    handled = Promise.reject(err as Error);
  }
  return handled.then(
    () => {
      // a status without a body (no route matched, method not allowed): give it the error shape
      if (ctx.status >= 400 && ctx.body == null) failed(new SwirlError(ctx.status, defaultMessage(ctx.status)));
      answered();
    },
    (err: unknown) => {
      failed(err);
      answered();
    },
  );
}

/** An error's status and the message a caller may see (an internal failure's details are not). */
export function classify(err: unknown): { status: number; message: string } {
  if (err instanceof SwirlError) return { status: err.status, message: err.message };
  // errors raised by koa, the router or raw-body carry a status; only client errors are explained
  const e = err as { status?: number; expose?: boolean; message?: string };
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return { status: e.status, message: e.expose && e.message ? e.message : defaultMessage(e.status) };
  }
  return { status: 500, message: Messages.internal };
}

function defaultMessage(status: number): string {
  switch (status) {
    case 404:
      return Messages.routeNotFound;
    case 405:
      return Messages.methodNotAllowed;
    case 501:
      return 'The server does not support this method.';
    default:
      return 'The request could not be processed.';
  }
}

/**
 * Listen on `host:port` (0: any free port); the URL names 127.0.0.1 when bound to every
 * interface. What Node would refuse itself is answered in OpenWhisk's shape
 * (answerRefusals): the Host header's absence too, left to requestContext.
 */
export async function listen(app: { callback: () => RequestListener }, port: number, host: string, log: Logger): Promise<{ server: Server; url: string }> {
  const server = createServer({ requireHostHeader: false }, app.callback());
  answerRefusals(server, log);
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      ok();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const name = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return { server, url: `http://${name.includes(':') ? `[${name}]` : name}:${bound}` };
}
