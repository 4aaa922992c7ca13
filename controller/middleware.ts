import type { Middleware } from 'koa';
import getRawBody from 'raw-body';
import { BadRequestError, Messages, PayloadTooLargeError, SwirlError } from '../common/errors.ts';
import { SIZES } from '../common/limits.ts';
import type { Logger } from '../common/logger.ts';
import { transactionIdFrom } from '../common/txid.ts';
import type { Ctx, SwirlState } from './context.ts';

/**
 * Gives every request a transaction id (kept from `X-Request-ID` when the caller sent a
 * sane one), a child logger carrying it, the `X-Request-ID` response header, one access
 * log line, and OpenWhisk-shaped errors: `{"error": "...", "code": "<tid>"}`.
 * Internal failures are logged with their details and answered with a generic message.
 */
export function requestContext(logger: Logger): Middleware<SwirlState> {
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

/**
 * Read the request body as JSON, whatever its Content-Type (curl -d sends form encoding,
 * and OpenWhisk clients expect JSON to be accepted). An empty body is `undefined`.
 */
export async function readJson(ctx: Ctx, limit: number = SIZES.requestBody): Promise<unknown> {
  let text: string;
  try {
    text = await getRawBody(ctx.req, { limit, encoding: 'utf8', length: ctx.get('content-length') || undefined });
  } catch (e) {
    // the rest of the body is not read: close the connection after the reply instead of keeping it alive
    ctx.set('Connection', 'close');
    const err = e as { type?: string; length?: number; status?: number };
    if (err.type === 'entity.too.large') throw new PayloadTooLargeError(Messages.entityTooBig('request', err.length ?? limit + 1, limit));
    if (err.status && err.status < 500) throw new BadRequestError(Messages.malformedBody('the request body could not be read'));
    throw e;
  }
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new BadRequestError(Messages.malformedBody(`invalid JSON: ${(e as Error).message}`));
  }
}
