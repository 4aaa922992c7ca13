import getRawBody from 'raw-body';
import { BadRequestError, Messages, PayloadTooLargeError, SwirlError } from '../common/errors.ts';
import { parseRequestJson } from '../common/json.ts';
import { SIZES } from '../common/limits.ts';
import type { BodyGate } from './body-gate.ts';
import type { Ctx } from './context.ts';

export { requestContext } from '../common/http.ts';

/**
 * Read the request body as JSON, whatever its Content-Type (curl -d sends form encoding,
 * and OpenWhisk clients expect JSON to be accepted). An empty body is `undefined`. Up to
 * `limit` bytes (413) and MAX_JSON_DEPTH levels (400).
 */
export function readJson(ctx: Ctx, limit: number = SIZES.payload): Promise<unknown> {
  return reading(ctx, limit, {}, (bytes) => {
    const text = bytes.toString('utf8');
    return text.trim() === '' ? undefined : parseRequestJson(text);
  });
}

export interface BodyReadOptions {
  /** Hold a slot of this gate while the body is read (429 when none is free). */
  gate?: BodyGate;
  /** The whole body must arrive within this long (408), so that a slow sender cannot keep a slot. */
  deadlineMs?: number;
}

/**
 * The request body as bytes, up to `limit`: 413 beyond it — at once, unread, when the
 * Content-Length says so — and 400 when it cannot be read.
 */
export function readBody(ctx: Ctx, limit: number = SIZES.payload, opts: BodyReadOptions = {}): Promise<Buffer> {
  return reading(ctx, limit, opts, (bytes) => bytes);
}

/**
 * The body read, then `then` of its bytes. Promise chains rather than async functions: each
 * promise costs on the invoke path while AsyncLocalStorage carries the log context (Node 20).
 */
function reading<T>(ctx: Ctx, limit: number, opts: BodyReadOptions, then: (bytes: Buffer) => T): Promise<T> {
  let started = false;
  const failed = (e: unknown): never => {
    if (!started) refuseUnread(ctx, e);
    const err = e as { type?: string; length?: number; status?: number };
    // a sender still sending past the limit (a chunked upload) gets its 413 as one refused unread does
    if (err.type === 'entity.too.large') refuseUnread(ctx, new PayloadTooLargeError(Messages.entityTooBig('request', err.length ?? limit + 1, limit)));
    // the rest of the body is not read: close the connection after the reply instead of keeping it alive
    ctx.set('Connection', 'close');
    if (e instanceof SwirlError) throw e;
    if (err.status && err.status < 500) throw new BadRequestError(Messages.malformedBody('the request body could not be read'));
    throw e;
  };
  const read = () => {
    started = true;
    return within(getRawBody(ctx.req, { limit, length: ctx.get('content-length') || undefined }), opts.deadlineMs);
  };
  let body: Promise<Buffer>;
  try {
    const declared = Number(ctx.get('content-length') || 0);
    if (declared > limit) refuseUnread(ctx, new PayloadTooLargeError(Messages.entityTooBig('request', declared, limit)));
    try {
      body = opts.gate ? opts.gate.through(read) : read();
    } catch (e) {
      body = Promise.reject(e as Error);
    }
  } catch (e) {
    return Promise.reject(e as Error);
  }
  // (failed handles the read's failure only: `then`'s own, a JSON syntax error say, is the caller's)
  return body.then(then, failed);
}

/**
 * What is read and dropped, at most, of a body refused for its size, so that a client still
 * sending gets the answer (closing at once resets the connection: the client sees EPIPE or
 * ECONNRESET, not the 413): 128 MiB within 60 s. Each chunk is dropped as it arrives, none is
 * kept. Past either bound, or after 2 s without a byte (a sender that stopped mid-body), the
 * connection is cut.
 */
export const DISCARD = { bytes: 128 * 1024 * 1024, ms: 60_000, idleMs: 2_000 };

/** Refuse a request whose body is not (wholly) read: the rest is read and dropped, within DISCARD. */
function refuseUnread(ctx: Ctx, err: unknown): never {
  const req = ctx.req;
  const cut = () => req.socket?.destroy();
  const deadline = setTimeout(cut, DISCARD.ms).unref();
  const idle = setTimeout(cut, DISCARD.idleMs).unref();
  let dropped = 0;
  const drop = (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > DISCARD.bytes) cut();
    else idle.refresh();
  };
  const stop = () => {
    clearTimeout(deadline);
    clearTimeout(idle);
    req.off('data', drop);
  };
  req.on('data', drop).once('end', stop).once('close', stop);
  // (a stream a reader paused on its error — raw-body does — flows again)
  req.resume();
  throw err;
}

/** `reading`, or a 408 once `ms` have passed (the read then ends with the connection, unheeded). */
function within<T>(reading: Promise<T>, ms: number | undefined): Promise<T> {
  if (ms === undefined) return reading;
  reading.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, fail) => (timer = setTimeout(() => fail(new SwirlError(408, Messages.requestTimeout)), ms)));
  return Promise.race([reading, late]).finally(() => clearTimeout(timer));
}
