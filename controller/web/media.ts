import { MIMEType } from 'node:util';

/**
 * Media types as web actions see them: OpenWhisk (through akka-http) carries textual
 * bodies as strings and everything else as base64, in requests (`__ow_body`) and in
 * `.http` responses alike.
 */

/** The parsed media type of a Content-Type value, or undefined when it is not one. */
export function parseMediaType(value: string): MIMEType | undefined {
  try {
    return new MIMEType(value);
  } catch {
    return undefined;
  }
}

/** `application/json` and `…+json`. */
export const isJsonFamily = (essence: string): boolean => essence === 'application/json' || essence.endsWith('+json');

const TEXTUAL_APPLICATION = new Set(['application/javascript', 'application/ecmascript', 'application/xml', 'application/x-www-form-urlencoded', 'application/xhtml+xml', 'application/graphql']);

/** Whether a body of this type is text (kept as a string) rather than bytes (base64). */
export function isTextual(essence: string): boolean {
  const [type] = essence.split('/');
  return type === 'text' || isJsonFamily(essence) || essence.endsWith('+xml') || TEXTUAL_APPLICATION.has(essence);
}

// padded base64 only: what OpenWhisk accepts as "binary code" in a JSON-typed body
const PADDED_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// padding optional, as Java's decoder accepts
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/** Buffer.from is lenient (it skips what is not base64): decode only what really is base64. */
export function decodeBase64(s: string, padded = false): Buffer | undefined {
  return (padded ? PADDED_BASE64 : BASE64).test(s) ? Buffer.from(s, 'base64') : undefined;
}
