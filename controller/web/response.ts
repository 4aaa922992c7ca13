import { validateHeaderName, validateHeaderValue } from 'node:http';
import { BadRequestError, NotFoundError } from '../../common/errors.ts';
import { decodeBase64, isJsonFamily, isTextual, parseMediaType } from './media.ts';

/** What a web action's result turns into: written to the HTTP response as is. */
export interface WebResponse {
  status: number;
  /** Content-Type of the body; absent for an empty one. */
  type?: string;
  headers: Array<[string, string]>;
  /** '' is an empty body. */
  body: string | Buffer;
}

export const WebMessages = {
  invalidMedia: (type: string) => `Response is not valid '${type}'.`,
  propertyNotFound: 'Response does not include requested property.',
  httpContentTypeError: 'Response type in header did not match generated content type.',
  httpUnknownContentType: 'Response did not specify a known content-type.',
  errorProcessingRequest: 'There was an error processing your request.',
  responseNotReady: 'Response not yet ready.',
} as const;

export type Extension = '.http' | '.json' | '.html' | '.svg' | '.text';
export const EXTENSIONS: readonly Extension[] = ['.http', '.json', '.html', '.svg', '.text'];

/** A percent-decoded path segment, or undefined when it is not validly encoded. */
export function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** `hello.json` → [`hello`, `.json`]; without a known extension the name is whole and `.http` is meant. */
export function splitExtension(segment: string): [string, Extension] {
  const ext = EXTENSIONS.find((e) => segment.endsWith(e) && segment.length > e.length);
  return ext ? [segment.slice(0, -ext.length), ext] : [segment, '.http'];
}

/**
 * The part of a successful result the extension answers with: the property path that
 * follows the action (`.json/a/b` → result.a.b); without one `.html`, `.svg` and `.text`
 * take the property named like them (or `body`, as current OpenWhisk does). `.http`
 * projects nothing: its path is only `__ow_path`.
 */
export function project(result: unknown, ext: Extension, path: string): unknown {
  if (ext === '.http') return result;
  const segments = path.split('/').filter((s) => s !== '').map(decodeSegment);
  if (segments.length === 0) {
    if (ext === '.json') return result;
    const fields = (result ?? {}) as Record<string, unknown>;
    const name = ext.slice(1);
    if (name in fields) return fields[name];
    if ('body' in fields) return fields.body;
    throw new NotFoundError(WebMessages.propertyNotFound);
  }
  let value = result;
  for (const s of segments) {
    if (s === undefined || value === null || typeof value !== 'object' || !Object.hasOwn(value, s)) throw new NotFoundError(WebMessages.propertyNotFound);
    value = (value as Record<string, unknown>)[s];
  }
  return value;
}

const ok = (type: string, body: string | Buffer): WebResponse => ({ status: 200, type, headers: [], body });
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Turn the projected value into the response the extension asks for. */
export function transcode(value: unknown, ext: Extension): WebResponse {
  switch (ext) {
    case '.json':
      if (value === null || typeof value !== 'object') throw new BadRequestError(WebMessages.invalidMedia('application/json'));
      return ok('application/json; charset=utf-8', JSON.stringify(value));
    case '.html':
      if (typeof value !== 'string') throw new BadRequestError(WebMessages.invalidMedia('text/html'));
      return ok('text/html; charset=utf-8', value);
    case '.svg':
      if (typeof value !== 'string') throw new BadRequestError(WebMessages.invalidMedia('image/svg+xml'));
      return ok('image/svg+xml', value);
    case '.text':
      if (value === undefined) throw new NotFoundError(WebMessages.propertyNotFound);
      return ok('text/plain; charset=utf-8', typeof value === 'string' ? value : typeof value === 'object' && value !== null ? JSON.stringify(value, null, 2) : String(value));
    case '.http':
      return httpResponse(value);
  }
}

const notHttp = () => new BadRequestError(WebMessages.invalidMedia('message/http'));
// the server frames the body itself: an action's framing headers would corrupt it
const FRAMING = new Set(['content-length', 'transfer-encoding', 'connection']);

function headerValues(name: string, v: unknown): string[] {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return [String(v)];
  if (Array.isArray(v)) return v.flatMap((inner) => headerValues(name, inner));
  throw notHttp();
}

function statusOf(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 100 || n > 599) throw notHttp();
  return n;
}

/**
 * `.http`: the result is `{statusCode, headers, body}`. A string body is sent as text, or
 * decoded from base64 when its Content-Type (text/html by default) is not textual; a JSON
 * value is serialised (its Content-Type must be JSON); no body is an empty response (204
 * unless a status code is given).
 */
function httpResponse(result: unknown): WebResponse {
  if (!isObject(result)) throw notHttp();
  const headers: Array<[string, string]> = [];
  let contentType: string | undefined;
  if (result.headers !== undefined) {
    if (!isObject(result.headers)) throw notHttp();
    for (const [name, v] of Object.entries(result.headers)) {
      for (const value of headerValues(name, v)) {
        try {
          validateHeaderName(name);
          validateHeaderValue(name, value);
        } catch {
          throw notHttp();
        }
        if (name.toLowerCase() === 'content-type') contentType = value;
        else if (!FRAMING.has(name.toLowerCase())) headers.push([name, value]);
      }
    }
  }
  const code = statusOf(result.statusCode);
  const { body } = result;
  if (body === undefined || body === null || body === '') return { status: code ?? 204, headers, body: '' };
  if (typeof body !== 'string') {
    const type = parseMediaType(contentType ?? 'application/json');
    if (!type || !isJsonFamily(type.essence)) throw new BadRequestError(WebMessages.httpContentTypeError);
    return { status: code ?? 200, type: `${type.essence}; charset=utf-8`, headers, body: JSON.stringify(body) };
  }
  const type = parseMediaType(contentType ?? 'text/html');
  if (!type) throw new BadRequestError(WebMessages.httpUnknownContentType);
  let bytes: string | Buffer = body;
  if (!isTextual(type.essence)) {
    const decoded = decodeBase64(body);
    if (!decoded) throw new BadRequestError(WebMessages.httpContentTypeError);
    bytes = decoded;
  } else if (isJsonFamily(type.essence)) {
    // OpenWhisk still decodes a base64 JSON body, which its docs once asked for
    bytes = decodeBase64(body.trim(), true) ?? body;
  }
  const charset = isTextual(type.essence) && !type.params.has('charset') ? '; charset=utf-8' : '';
  return { status: code ?? 200, type: `${type.toString()}${charset}`, headers, body: bytes };
}
