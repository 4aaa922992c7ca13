import { parseRequestJson } from '../../common/json.ts';
import { isJsonFamily, isTextual } from './media.ts';

/** A request body as a web action receives it: properties to merge, or one opaque value for `__ow_body`. */
export interface DecodedBody {
  fields?: Record<string, unknown>;
  value?: unknown;
}

/**
 * Decode a web request's body the way OpenWhisk does. Unless the action is raw-http, a
 * JSON object or a form becomes properties, any other JSON value is `__ow_body`. Everything
 * else (and every body of a raw-http action) is `__ow_body`: text as a string, bytes as
 * base64 — and JSON as base64 too, which OpenWhisk keeps for compatibility. A body without
 * a Content-Type is bytes (application/octet-stream).
 */
export function decodeBody(contentType: string, body: Buffer, raw: boolean): DecodedBody {
  if (body.length === 0) return {};
  if (!raw && isJsonFamily(contentType)) {
    const parsed = parseRequestJson(body);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? { fields: parsed as Record<string, unknown> } : { value: parsed };
  }
  if (!raw && contentType === 'application/x-www-form-urlencoded') return { fields: Object.fromEntries(new URLSearchParams(body.toString('utf8'))) };
  const text = contentType !== '' && isTextual(contentType) && !isJsonFamily(contentType);
  return { value: text ? body.toString('utf8') : body.toString('base64') };
}
