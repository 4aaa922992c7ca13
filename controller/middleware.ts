import getRawBody from 'raw-body';
import { BadRequestError, Messages, PayloadTooLargeError } from '../common/errors.ts';
import { parseRequestJson } from '../common/json.ts';
import { SIZES } from '../common/limits.ts';
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

/** The request body as bytes, up to `limit` (413 beyond it; 400 when it cannot be read). */
export async function readBody(ctx: Ctx, limit: number = SIZES.payload): Promise<Buffer> {
  try {
    return await getRawBody(ctx.req, { limit, length: ctx.get('content-length') || undefined });
  } catch (e) {
    // the rest of the body is not read: close the connection after the reply instead of keeping it alive
    ctx.set('Connection', 'close');
    const err = e as { type?: string; length?: number; status?: number };
    if (err.type === 'entity.too.large') throw new PayloadTooLargeError(Messages.entityTooBig('request', err.length ?? limit + 1, limit));
    if (err.status && err.status < 500) throw new BadRequestError(Messages.malformedBody('the request body could not be read'));
    throw e;
  }
}
