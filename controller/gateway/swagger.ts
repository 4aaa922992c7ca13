import { BadRequestError } from '../../common/errors.ts';
import { isEntityName } from '../../common/names.ts';

/**
 * The swagger 2.0 documents of the API gateway, as OpenWhisk's route management writes them
 * (core/routemgmt/common/apigw-utils.js): each operation names its web action in an
 * `x-openwhisk` extension `{namespace, package, action, url}`, the url's extension being the
 * route's response type. Pure functions: the routes (gateway/routes.ts) keep them.
 */
export type Swagger = Record<string, unknown> & { swagger: string; basePath: string; info: { title: string; version: string }; paths: Record<string, Record<string, Operation>> };

export interface XOpenWhisk {
  namespace: string;
  package: string;
  action: string;
  url: string;
}

export interface Operation {
  operationId: string;
  'x-openwhisk': XOpenWhisk;
  parameters?: Array<Record<string, unknown>>;
  responses: Record<string, unknown>;
}

export const RESPONSE_TYPES = ['json', 'http', 'text', 'html', 'svg'] as const;
export type ResponseType = (typeof RESPONSE_TYPES)[number];
export const VERBS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

/** One endpoint to add: what the openwhisk client's and wsk's `apidoc` carries without a swagger. */
export interface Endpoint {
  basePath: string;
  relPath: string;
  verb: string;
  apiName?: string;
  /** The action: `pkg/name` or `name`, in `namespace`. */
  action: { namespace: string; name: string };
  responseType: ResponseType;
}

const PATH = /^\/[A-Za-z0-9_\-.~{}/]*$/;

export function checkPath(what: string, path: unknown): string {
  if (typeof path !== 'string' || !PATH.test(path) || path.length > 256 || path.includes('//')) throw new BadRequestError(`The ${what} '${String(path)}' is not valid: it must start with '/' and hold letters, digits and - _ . ~ { } / only.`);
  return path.length > 1 ? path.replace(/\/$/, '') : path;
}

export function checkVerb(verb: unknown): string {
  const v = typeof verb === 'string' ? verb.toLowerCase() : '';
  if (!(VERBS as readonly string[]).includes(v)) throw new BadRequestError(`The operation '${String(verb)}' is not valid: one of ${VERBS.join(', ').toUpperCase()}.`);
  return v;
}

export function checkResponseType(type: unknown): ResponseType {
  const t = type === undefined || type === '' ? 'json' : type;
  if (!(RESPONSE_TYPES as readonly unknown[]).includes(t)) throw new BadRequestError(`The response type '${String(type)}' is not valid: one of ${RESPONSE_TYPES.join(', ')}.`);
  return t as ResponseType;
}

/** The names in `{...}` of a relative path (`/items/{id}` → ['id']). */
export const pathParameters = (relPath: string): string[] => [...relPath.matchAll(/\{([^}/]+)\}/g)].map((m) => m[1]!);

export function emptySwagger(basePath: string, title?: string): Swagger {
  return { swagger: '2.0', basePath, info: { title: title || basePath, version: '1.0.0' }, paths: {} };
}

/** The web action URL an operation names: `https://host/api/v1/web/ns/pkg/action.type` (`default` when no package). */
export function webActionUrl(origin: string, x: Omit<XOpenWhisk, 'url'>, type: ResponseType): string {
  return `${origin}/api/v1/web/${encodeURIComponent(x.namespace)}/${encodeURIComponent(x.package || 'default')}/${encodeURIComponent(x.action)}.${type}`;
}

/** The swagger with the endpoint added (replacing the same path and verb). */
export function addEndpoint(api: Swagger, e: Endpoint, origin: string): Swagger {
  const [pkg, name] = e.action.name.includes('/') ? (e.action.name.split('/') as [string, string]) : ['', e.action.name];
  const x = { namespace: e.action.namespace, package: pkg, action: name };
  const params = pathParameters(e.relPath).map((p) => ({ name: p, in: 'path', description: `Default description for '${p}'`, required: true, type: 'string' }));
  const op: Operation = {
    operationId: `${e.verb}${e.relPath}`.replace(/[^A-Za-z0-9]+/g, '_'),
    'x-openwhisk': { ...x, url: webActionUrl(origin, x, e.responseType) },
    ...(params.length ? { parameters: params } : {}),
    responses: { default: { description: 'Default response' } },
  };
  const info = e.apiName ? { ...api.info, title: e.apiName } : api.info;
  return { ...api, info, paths: { ...api.paths, [e.relPath]: { ...api.paths[e.relPath], [e.verb]: op } } };
}

/** The swagger without a path (every verb) or one verb of it; undefined when it has neither. */
export function removeEndpoint(api: Swagger, relPath: string, verb?: string): Swagger | undefined {
  const ops = api.paths[relPath];
  if (!ops || (verb && !ops[verb])) return undefined;
  const paths = { ...api.paths };
  const left = verb ? Object.fromEntries(Object.entries(ops).filter(([v]) => v !== verb)) : {};
  if (Object.keys(left).length) paths[relPath] = left;
  else delete paths[relPath];
  return { ...api, paths };
}

/** Each operation of the API with its path and verb. */
export function operations(api: Swagger): Array<{ relPath: string; verb: string; op: Operation }> {
  return Object.entries(api.paths).flatMap(([relPath, ops]) => Object.entries(ops).filter(([v]) => (VERBS as readonly string[]).includes(v)).map(([verb, op]) => ({ relPath, verb, op })));
}

/** The response type of an operation: its url's extension. */
export function responseTypeOf(op: Operation): ResponseType {
  const m = /\.([a-z]+)$/.exec(op['x-openwhisk'].url);
  return m && (RESPONSE_TYPES as readonly string[]).includes(m[1]!) ? (m[1] as ResponseType) : 'json';
}

const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A swagger document a user imports (`wsk api create --config-file`), checked as OpenWhisk
 * checks it (basePath, paths, info) and each operation's `x-openwhisk` (namespace, action,
 * url); the response type comes from the url's extension.
 */
export function checkSwagger(doc: unknown): Swagger {
  const parsed = typeof doc === 'string' ? parseJson(doc) : doc;
  if (!obj(parsed)) throw new BadRequestError('swagger field is not a JSON object.');
  if (!parsed.basePath) throw new BadRequestError('swagger is missing the basePath field.');
  if (!obj(parsed.paths)) throw new BadRequestError('swagger is missing the paths field.');
  if (!obj(parsed.info)) throw new BadRequestError('swagger is missing the info field.');
  const basePath = checkPath('base path', parsed.basePath);
  const info = parsed.info as Record<string, unknown>;
  const api: Swagger = { ...parsed, swagger: String(parsed.swagger ?? '2.0'), basePath, info: { ...info, title: String(info.title ?? basePath), version: String(info.version ?? '1.0.0') }, paths: {} };
  for (const [relPath, ops] of Object.entries(parsed.paths as Record<string, unknown>)) {
    checkPath('relative path', relPath);
    if (!obj(ops)) throw new BadRequestError(`swagger path '${relPath}' holds no operations.`);
    api.paths[relPath] = {};
    for (const [verb, op] of Object.entries(ops)) {
      if (!(VERBS as readonly string[]).includes(verb)) continue;
      const x = obj(op) ? op['x-openwhisk'] : undefined;
      if (!obj(x) || typeof x.namespace !== 'string' || typeof x.action !== 'string' || typeof x.url !== 'string' || !isEntityName(x.action) || (x.package && !isEntityName(String(x.package))))
        throw new BadRequestError(`swagger operation ${verb.toUpperCase()} ${relPath} is missing its x-openwhisk namespace, action or url.`);
      api.paths[relPath][verb] = { ...(op as unknown as Operation), 'x-openwhisk': { namespace: x.namespace, package: String(x.package ?? ''), action: x.action, url: x.url } };
    }
  }
  return api;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new BadRequestError('swagger field cannot be parsed. Ensure it is valid JSON.');
  }
}

/** The path parameters of `relPath` (a template) in `path`, or undefined when it does not match. */
export function matchPath(template: string, path: string): Record<string, string> | undefined {
  const t = template.split('/');
  const p = path.split('/');
  if (t.length !== p.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < t.length; i++) {
    const m = /^\{([^}]+)\}$/.exec(t[i]!);
    if (m) {
      const value = decoded(p[i]!);
      if (!value) return undefined;
      params[m[1]!] = value;
    } else if (t[i] !== p[i]) return undefined;
  }
  return params;
}

/** A path segment decoded, or undefined when it is not valid percent-encoding. */
export function decoded(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
