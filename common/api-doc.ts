/**
 * An API published through swirl's API gateway (OpenWhisk's `/whisk.system/apimgmt`): one
 * document per namespace and base path, holding the API as the swagger 2.0 document that
 * OpenWhisk's route management keeps (operations carry an `x-openwhisk` extension naming the
 * web action), in the store's `apis` database under `namespace/basePath`.
 */
export interface ApiDoc {
  namespace: string;
  /** `/shop`: the first segment after the tenant in a route's URL. */
  basePath: string;
  /** The swagger document (info.title is the API's name). */
  swagger: Record<string, unknown>;
  created: number;
  updated: number;
}

export type StoredApi = ApiDoc & { _rev: string };

/** The store id of an API: `namespace` then its base path (`guest/shop`). */
export const apiId = (a: Pick<ApiDoc, 'namespace' | 'basePath'>): string => `${a.namespace}${a.basePath}`;
