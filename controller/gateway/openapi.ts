/**
 * The API gateway's part of the OpenAPI document (controller/openapi.ts): OpenWhisk's route
 * management actions as swirl serves them, and the schemas of their answers.
 */
type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema) => ({ 'application/json': { schema } });
const error = (description: string) => ({ description, content: json(ref('ErrorMessage')) });
const query = (name: string, description: string) => ({ name, in: 'query', required: false, description, schema: { type: 'string' } });
const tags = ['API gateway'];
const refusals = { '400': error('A missing or invalid field of the apidoc or swagger; an action that is not a web action'), '401': error('Unauthenticated') };

const operation = (summary: string, extra: Schema, answer: Schema, more: Schema = {}) => ({ tags, summary, ...extra, responses: { '200': { description: 'Done', content: json(answer) }, ...refusals, ...more } });

/** createApi, getApi and deleteApi, with each extension a client may use (none: the openwhisk client; .http: wsk). */
export function gatewayPaths(): Record<string, Schema> {
  const create = operation(
    "createApi: add a route (apidoc gatewayBasePath, gatewayPath, gatewayMethod, action) to the caller's API at its base path, or replace the API with apidoc.swagger",
    { parameters: [query('responsetype', 'json (default), http, text, html or svg')], requestBody: { required: true, content: json({ type: 'object', required: ['apidoc'], properties: { apidoc: { type: 'object' } } }) } },
    ref('GatewayApi'),
  );
  const get = operation("getApi: the caller's APIs, all or the one of a base path or name", { parameters: [query('basepath', 'a base path (/shop) or an API name')] }, ref('GatewayApiList'));
  const del = operation(
    'deleteApi: an API, one path of it, or one verb of a path (an API left without paths is deleted)',
    { parameters: [query('basepath', 'a base path or an API name'), query('relpath', 'a path of the API'), query('operation', 'a verb of the path')] },
    { type: 'object' },
    { '404': error('No such API, path or verb') },
  );
  const paths: Record<string, Schema> = {};
  for (const ext of ['', '.http', '.json']) {
    paths[`/web/whisk.system/apimgmt/createApi${ext}`] = { post: create };
    paths[`/web/whisk.system/apimgmt/getApi${ext}`] = { get };
    paths[`/web/whisk.system/apimgmt/deleteApi${ext}`] = { delete: del };
  }
  return paths;
}

const str = { type: 'string' };
export const gatewaySchemas: Record<string, Schema> = {
  GatewayApi: {
    type: 'object',
    required: ['namespace', 'gwApiActivated', 'tenantId', 'gwApiUrl', 'apidoc'],
    additionalProperties: false,
    description: "An API as OpenWhisk's route management answers it; its routes are served at gwApiUrl + a path",
    properties: {
      namespace: str,
      gwApiActivated: { type: 'boolean' },
      tenantId: { ...str, description: 'the namespace: the first segment of the routes’ URLs after /api/' },
      gwApiUrl: { ...str, description: 'https://HOST/api/<tenant><basePath>' },
      apidoc: ref('GatewaySwagger'),
    },
  },
  GatewayApiList: {
    type: 'object',
    required: ['apis'],
    additionalProperties: false,
    properties: { apis: { type: 'array', items: { type: 'object', required: ['id', 'key', 'value'], additionalProperties: false, properties: { id: str, key: str, value: ref('GatewayApi') } } } },
  },
  GatewaySwagger: {
    type: 'object',
    required: ['swagger', 'basePath', 'info', 'paths'],
    description: 'swagger 2.0; each operation names its web action in x-openwhisk (the url extension is the response type)',
    properties: {
      swagger: str,
      basePath: { ...str, pattern: '^/' },
      info: { type: 'object', required: ['title', 'version'], properties: { title: str, version: str } },
      paths: {
        type: 'object',
        additionalProperties: {
          type: 'object',
          additionalProperties: {
            type: 'object',
            required: ['x-openwhisk'],
            properties: { 'x-openwhisk': { type: 'object', required: ['namespace', 'package', 'action', 'url'], additionalProperties: false, properties: { namespace: str, package: { type: 'string' }, action: str, url: { ...str, pattern: '/api/v1/web/.+\\.(json|http|text|html|svg)$' } } } },
          },
        },
      },
    },
  },
};
