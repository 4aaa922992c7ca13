import { maxHeaderSize, type Server, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Middleware } from 'koa';
import { Messages, SwirlError } from './errors.ts';
import type { Logger } from './logger.ts';
import { newTransactionId, transactionIdFrom } from './txid.ts';

/** What requestContext puts in `ctx.state` for the handlers after it. */
export interface RequestState {
  tid: string;
  log: Logger;
}

/**
 * Gives every request a transaction id (kept from `X-Request-ID` when the caller sent a
 * sane one), a child logger carrying it, the `X-Request-ID` response header, one access
 * log line, and OpenWhisk-shaped errors: `{"error": "...", "code": "<tid>"}`.
 * Internal failures are logged with their details and answered with a generic message.
 */
export function requestContext<S extends RequestState>(logger: Logger): Middleware<S> {
  return async (ctx, next) => {
    const tid = transactionIdFrom(ctx.get('x-request-id') || undefined);
    const log = logger.child({ tid });
    ctx.state.tid = tid;
    ctx.state.log = log;
    ctx.set('X-Request-ID', tid);
    const started = process.hrtime.bigint();
    try {
      await next();
      // a status without a body (no route matched, method not allowed): give it the error shape
      if (ctx.status >= 400 && ctx.body == null) throw new SwirlError(ctx.status, defaultMessage(ctx.status));
    } catch (err) {
      const { status, message } = classify(err);
      if (status >= 500) log.error({ err }, 'request failed');
      ctx.status = status;
      ctx.body = { error: message, code: tid };
      if (status === 401) ctx.set('WWW-Authenticate', 'Basic realm="swirl"');
      if (err instanceof SwirlError && err.headers) ctx.set(err.headers);
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log.info({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 100) / 100 }, 'request');
    }
  };
}

function classify(err: unknown): { status: number; message: string } {
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
      return 'The method is not allowed for this resource.';
    case 501:
      return 'The server does not support this method.';
    default:
      return 'The request could not be processed.';
  }
}

/** What Node refuses before any handler runs, by its error code: the status and the message. */
const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, Messages.headersTooLarge(maxHeaderSize)],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, Messages.chunkExtensionsTooLarge],
  ERR_HTTP_REQUEST_TIMEOUT: [408, Messages.requestTimeout],
};

/** Sockets already answered: Node's parser reports its error again for every chunk that follows. */
const answered = new WeakSet<Duplex>();

/**
 * Answer the requests Node refuses itself — a request line or header it cannot parse (400),
 * headers over its limit (431), a request not received in time (408) — in OpenWhisk's shape
 * with a new transaction id, as every other error, instead of Node's empty bodies; and log them.
 */
export function answerClientErrors(server: Server, log: Logger): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (answered.has(socket)) return;
    answered.add(socket);
    const pending = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    // a reset connection, or one whose response has begun, cannot be answered
    if (err.code === 'ECONNRESET' || !socket.writable || pending?.headersSent) {
      socket.destroy();
      return;
    }
    const [status, message] = CLIENT_ERRORS[err.code ?? ''] ?? [400, Messages.requestUnparsable];
    const tid = newTransactionId();
    log.info({ tid, status, code: err.code, reason: (err as { reason?: string }).reason }, 'request refused before it reached a handler');
    const body = JSON.stringify({ error: message, code: tid });
    const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status]}`, 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, `X-Request-ID: ${tid}`, 'Connection: close'];
    // closed once the client has read the answer; a client that keeps sending is cut off after a second
    socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
    setTimeout(() => socket.destroy(), 1_000).unref();
  });
}

/**
 * Listen on `host:port` (0: any free port); the URL names 127.0.0.1 when bound to every
 * interface. What Node refuses itself is answered in OpenWhisk's shape (answerClientErrors).
 */
export async function listen(app: { listen: (port: number, host: string, cb: () => void) => Server }, port: number, host: string, log: Logger): Promise<{ server: Server; url: string }> {
  const server = await new Promise<Server>((ok, fail) => {
    const s = app.listen(port, host, () => ok(s));
    s.once('error', fail);
    answerClientErrors(s, log);
  });
  const bound = (server.address() as AddressInfo).port;
  const name = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return { server, url: `http://${name.includes(':') ? `[${name}]` : name}:${bound}` };
}
