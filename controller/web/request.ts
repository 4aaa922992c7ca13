import type { IncomingHttpHeaders } from 'node:http';
import { BadRequestError } from '../../common/errors.ts';
import { decodeBody } from './body.ts';

/** The HTTP context OpenWhisk hands a web action, under names a request can never set. */
export const OW = {
  method: '__ow_method',
  headers: '__ow_headers',
  path: '__ow_path',
  user: '__ow_user',
  query: '__ow_query',
  body: '__ow_body',
} as const;
const RESERVED: ReadonlySet<string> = new Set(Object.values(OW));

export const parametersNotAllowed = 'Request defines parameters that are not allowed (e.g., reserved properties).';

export interface WebRequest {
  method: string;
  headers: IncomingHttpHeaders;
  /** What follows the action name and extension, e.g. `/a/b` (or ''). */
  path: string;
  /** The query string without `?` ('' when none). */
  rawQuery: string;
  query: URLSearchParams;
  /** The media type of the body (no parameters), '' when none was given. */
  contentType: string;
  body: Buffer;
  /** The caller's namespace, when the request carried valid credentials. */
  user?: string;
}

/**
 * The arguments of a web action, as OpenWhisk builds them: the HTTP context (`__ow_*`),
 * then the query parameters, then the body's (the body wins). A raw-http action gets the
 * query string and the body unparsed (`__ow_query`, `__ow_body`). Otherwise a request may
 * not name a reserved property nor, for an action annotated `final`, one of the
 * parameters the action or its package defines (`immutable`): 400.
 */
export function actionArguments(req: WebRequest, raw: boolean, immutable: ReadonlySet<string>): Record<string, unknown> {
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(', ') : (v ?? '')]));
  const context: Record<string, unknown> = {
    [OW.method]: req.method.toLowerCase(),
    [OW.headers]: headers,
    [OW.path]: req.path,
    ...(req.user !== undefined ? { [OW.user]: req.user } : {}),
  };
  const body = decodeBody(req.contentType, req.body, raw);
  if (raw) return { ...context, [OW.query]: req.rawQuery, [OW.body]: body.value ?? '' };

  const query = Object.fromEntries(req.query);
  const fields = body.fields ?? {};
  const named = [...Object.keys(query), ...Object.keys(fields)];
  if (named.some((k) => RESERVED.has(k) || immutable.has(k))) throw new BadRequestError(parametersNotAllowed);
  return { ...context, ...query, ...(body.fields ? fields : body.value !== undefined ? { [OW.body]: body.value } : {}) };
}
