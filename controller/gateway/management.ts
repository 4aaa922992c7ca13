import { annotation } from '../../common/entities.ts';
import { BadRequestError, NotFoundError } from '../../common/errors.ts';
import type { Identity } from '../../common/identity.ts';
import { isEntityName } from '../../common/names.ts';
import type { StoredApi } from '../../common/api-doc.ts';
import type { Services } from '../context.ts';
import { addEndpoint, checkPath, checkResponseType, checkSwagger, checkVerb, emptySwagger, type Endpoint, operations, removeEndpoint, type Swagger } from './swagger.ts';

/**
 * OpenWhisk's route management (`/whisk.system/apimgmt` createApi, getApi, deleteApi) on
 * swirl's store: what the openwhisk npm client's `routes` and wsk's `api` commands send,
 * answered as OpenWhisk's actions answer (core/routemgmt). The caller's namespace owns the
 * APIs; an API's routes are served at `/api/<namespace><basePath><relPath>` (gateway/serve.ts).
 */
export class ApiManagement {
  constructor(private readonly services: Pick<Services, 'store' | 'resolver'>) {}

  /** createApi: add one endpoint to the API at its base path (made when missing), or replace the API with a swagger. */
  async create(caller: Identity, origin: string, body: unknown, responseType: unknown): Promise<Record<string, unknown>> {
    const apidoc = apidocOf(body);
    const swagger = apidoc.swagger !== undefined ? ownNamespace(checkSwagger(apidoc.swagger), caller.namespace) : undefined;
    if (swagger && apidoc.gatewayBasePath !== undefined) throw new BadRequestError('swagger and gatewayBasePath are mutually exclusive and cannot be specified together.');
    const endpoint = swagger ? undefined : this.endpointOf(caller, apidoc, checkResponseType(responseType));
    const basePath = swagger?.basePath ?? endpoint!.basePath;
    const current = await this.services.store.getApi(caller.namespace, basePath);
    const api = swagger ?? addEndpoint((current?.swagger as Swagger | undefined) ?? emptySwagger(basePath, endpoint!.apiName), endpoint!, origin);
    for (const { op } of operations(api)) await this.checkWebAction(caller, op['x-openwhisk'].namespace, op['x-openwhisk'].package, op['x-openwhisk'].action);
    const now = Date.now();
    const stored = await this.services.store.putApi({ namespace: caller.namespace, basePath, swagger: api, created: current?.created ?? now, updated: now }, current?._rev);
    return cliValue(stored, origin);
  }

  /** getApi: the caller's APIs, all or the one of a base path or name, each as `{id, key, value}`. */
  async get(caller: Identity, origin: string, basePathOrName?: string): Promise<{ apis: Array<Record<string, unknown>> }> {
    const apis = (await this.services.store.listApis(caller.namespace)).filter((a) => !basePathOrName || (basePathOrName.startsWith('/') ? a.basePath === basePathOrName : (a.swagger as Swagger).info.title === basePathOrName));
    return { apis: apis.map((a) => ({ id: `API:${a.namespace}:${a.basePath}`, key: `${a.namespace}:${a.basePath}`, value: cliValue(a, origin) })) };
  }

  /** deleteApi: the whole API, one path of it, or one verb of a path; an API left without paths goes. */
  async delete(caller: Identity, basePathOrName: string | undefined, relPath?: string, verb?: string): Promise<Record<string, never>> {
    if (!basePathOrName) throw new BadRequestError('basepath is required.');
    const api = await this.find(caller.namespace, basePathOrName);
    if (!api) throw new NotFoundError(`API '${basePathOrName}' does not exist.`);
    const rest = relPath ? removeEndpoint(api.swagger as Swagger, relPath, verb ? checkVerb(verb) : undefined) : emptySwagger(api.basePath);
    if (!rest) throw new NotFoundError(verb ? `path ${relPath} with operation ${verb.toLowerCase()} does not exist in the API` : `path ${relPath} does not exist in the API`);
    if (Object.keys(rest.paths).length === 0) await this.services.store.deleteApi(api.namespace, api.basePath, api._rev);
    else await this.services.store.putApi({ ...api, swagger: rest, updated: Date.now() }, api._rev);
    return {};
  }

  private async find(namespace: string, basePathOrName: string): Promise<StoredApi | undefined> {
    if (basePathOrName.startsWith('/')) return this.services.store.getApi(namespace, basePathOrName);
    return (await this.services.store.listApis(namespace)).find((a) => (a.swagger as Swagger).info.title === basePathOrName);
  }

  private endpointOf(caller: Identity, apidoc: Record<string, unknown>, responseType: Endpoint['responseType']): Endpoint {
    for (const field of ['gatewayBasePath', 'gatewayPath', 'gatewayMethod', 'action'] as const) if (!apidoc[field]) throw new BadRequestError(`apidoc is missing the ${field} field`);
    const action = apidoc.action as Record<string, unknown>;
    if (typeof action !== 'object' || typeof action.name !== 'string' || !action.name) throw new BadRequestError('action is missing the name field.');
    // `_`, or the namespace the client named as its own, is the caller's (OpenWhisk's updateNamespace)
    const ns = typeof action.namespace !== 'string' || action.namespace === '_' || action.namespace === apidoc.namespace ? caller.namespace : action.namespace;
    const name = action.name.replace(/^\/[^/]+\//, '');
    if (!name.split('/').every((p) => isEntityName(p)) || name.split('/').length > 2) throw new BadRequestError(`The action name '${action.name}' is not valid.`);
    return {
      basePath: checkPath('base path', apidoc.gatewayBasePath),
      relPath: checkPath('relative path', apidoc.gatewayPath),
      verb: checkVerb(apidoc.gatewayMethod),
      ...(typeof apidoc.apiName === 'string' && apidoc.apiName ? { apiName: apidoc.apiName } : {}),
      action: { namespace: ns, name },
      responseType,
    };
  }

  /** Routes go to web actions only (OpenWhisk's wsk refuses others with this message). */
  private async checkWebAction(caller: Identity, namespace: string, pkg: string, name: string): Promise<void> {
    const fq = `/${namespace}/${pkg ? `${pkg}/` : ''}${name}`;
    const resolved = await this.services.resolver.action(caller.namespace, { namespace, ...(pkg && pkg !== 'default' ? { pkg } : {}), name }).catch((e: unknown) => {
      throw e instanceof NotFoundError ? new NotFoundError(`Unable to get action '${fq}': The requested resource does not exist.`) : e;
    });
    if (annotation(resolved.action.annotations, 'web-export') !== true) throw new BadRequestError(`Action '${fq}' is not a web action. Issue 'wsk action update "${fq}" --web true' to convert the action to a web action.`);
  }
}

/** The swagger with `_` as an operation's namespace made the caller's (routes are served without a caller). */
function ownNamespace(api: Swagger, namespace: string): Swagger {
  for (const { op } of operations(api)) if (op['x-openwhisk'].namespace === '_') op['x-openwhisk'] = { ...op['x-openwhisk'], namespace };
  return api;
}

function apidocOf(body: unknown): Record<string, unknown> {
  let apidoc = (body as { apidoc?: unknown } | undefined)?.apidoc;
  if (typeof apidoc === 'string') {
    try {
      apidoc = JSON.parse(apidoc);
    } catch {
      throw new BadRequestError('apidoc field cannot be parsed. Ensure it is valid JSON.');
    }
  }
  if (typeof apidoc !== 'object' || apidoc === null || Array.isArray(apidoc)) throw new BadRequestError('apidoc is required.');
  return apidoc as Record<string, unknown>;
}

/** The URL an API's routes are served under (OpenWhisk's gwApiUrl: the tenant, then the base path). */
export const apiUrl = (origin: string, a: Pick<StoredApi, 'namespace' | 'basePath'>): string => `${origin}/api/${encodeURIComponent(a.namespace)}${a.basePath === '/' ? '' : a.basePath}`;

/** What OpenWhisk's route management answers for an API (generateCliApiFromGwApi's value). */
function cliValue(a: StoredApi, origin: string): Record<string, unknown> {
  return { namespace: a.namespace, gwApiActivated: true, tenantId: a.namespace, gwApiUrl: apiUrl(origin, a), apidoc: a.swagger };
}
