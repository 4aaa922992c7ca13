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
export async function readJson(ctx: Ctx, limit: number = SIZES.payload): Promise<unknown> {
  const text = (await readBody(ctx, limit)).toString('utf8');
  if (text.trim() === '') return undefined;
  return parseRequestJson(text);
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
export async function readBody(ctx: Ctx, limit: number = SIZES.payload, opts: BodyReadOptions = {}): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limit) refuseUnread(ctx, new PayloadTooLargeError(Messages.entityTooBig('request', declared, limit)));
  let started = false;
  const read = () => {
    started = true;
    return within(getRawBody(ctx.req, { limit, length: ctx.get('content-length') || undefined }), opts.deadlineMs);
  };
  try {
    return await (opts.gate ? opts.gate.through(read) : read());
  } catch (e) {
    if (!started) refuseUnread(ctx, e);
    // the rest of the body is not read: close the connection after the reply instead of keeping it alive
    ctx.set('Connection', 'close');
    if (e instanceof SwirlError) throw e;
    const err = e as { type?: string; length?: number; status?: number };
    if (err.type === 'entity.too.large') throw new PayloadTooLargeError(Messages.entityTooBig('request', err.length ?? limit + 1, limit));
    if (err.status && err.status < 500) throw new BadRequestError(Messages.malformedBody('the request body could not be read'));
    throw e;
  }
}

/** How long Node may go on reading (and dropping) the body of a request refused unread. */
const DISCARD_MS = 10_000;

/**
 * Refuse a request before any of its body is read. Node reads and drops the body after the
 * answer, keeping none of it, so a client still sending gets the answer — closing at once
 * would reset the connection and lose it — but for DISCARD_MS at most.
 */
function refuseUnread(ctx: Ctx, err: unknown): never {
  const timer = setTimeout(() => ctx.req.socket?.destroy(), DISCARD_MS).unref();
  const stop = () => clearTimeout(timer);
  ctx.req.once('end', stop).once('close', stop);
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
