/**
 * The Function Hub's public API in the OpenAPI document (controller/openapi.ts): the
 * read-only catalog of this instance under /hub/v1 (no authentication), and the schemas of
 * its answers (controller/hub/catalog.ts).
 */
type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema) => ({ 'application/json': { schema } });
const error = (description: string) => ({ description, content: json(ref('ErrorMessage')) });
const exact = (required: string[], properties: Record<string, unknown>, extra: Schema = {}): Schema => ({ type: 'object', required, properties, additionalProperties: false, ...extra });
const text = { type: 'string' };
const count = { type: 'integer', minimum: 0 };
const nullable = (s: Schema): Schema => ({ ...s, nullable: true });
const pathParam = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });
const owner = pathParam('owner', 'The namespace that publishes the package');
const pkg = pathParam('package', 'The package');
const tags = ['Hub'];
/** Public routes outside /api/v1: their own server root, no credentials. */
const open = { servers: [{ url: '/' }] };

export function hubPaths(): Record<string, Schema> {
  const operation = (summary: string, extra: Schema, responses: Schema) => ({ tags, summary, security: [], ...extra, responses: { ...responses, '500': error('Internal error') } });
  return {
    '/hub/v1/catalog': {
      ...open,
      get: operation(
        "This instance's published packages (annotation hub-publish: true), newest first, with their figures",
        {
          parameters: [
            { name: 'q', in: 'query', required: false, description: 'Words that must all appear in the name, description, owner or action names', schema: { type: 'string', maxLength: 200 } },
            { name: 'limit', in: 'query', required: false, description: 'Packages to return at most', schema: { type: 'integer', minimum: 1, maximum: 200, default: 30 } },
          ],
        },
        { '200': { description: 'The catalog', content: json(ref('HubCatalog')) }, '400': error('A bad query parameter') },
      ),
    },
    '/hub/v1/packages/{owner}/{package}': {
      ...open,
      get: operation(
        'A published package: metadata, figures, actions (code only when the publisher shows it), examples',
        { parameters: [owner, pkg, { name: 'version', in: 'query', required: false, description: 'Must be the current version (only the current is kept)', schema: { type: 'string' } }] },
        { '200': { description: 'The package', content: json(ref('HubDetail')) }, '400': error('A bad version'), '404': error('No such published package, or another version') },
      ),
    },
    '/hub/v1/packages/{owner}/{package}/download': {
      ...open,
      get: operation(
        'The package as a zip (manifest.json + actions/<name>), when the publisher allows downloads (hub-download: true)',
        { parameters: [owner, pkg] },
        {
          '200': {
            description: 'The zip; its digest (sha256 of the manifest\'s canonical JSON, which holds each file\'s sha256) in X-Swirl-Digest',
            headers: { 'X-Swirl-Digest': { schema: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' } } },
            content: { 'application/zip': { schema: { type: 'string', format: 'binary' } } },
          },
          '403': error('The publisher does not allow downloads'),
          '404': error('No such published package'),
        },
      ),
    },
  };
}

const parameter = exact(['name', 'description'], { name: text, description: text, required: { type: 'boolean' }, bound: { type: 'boolean', description: 'the package binds a value (never published)' } });
const summaryProps = {
  ref: { ...text, description: 'host:port/owner/package@version' },
  instance: { ...text, description: 'host:port of the publishing instance' },
  owner: text,
  name: text,
  version: text,
  description: text,
  kinds: { type: 'array', items: text },
  license: { ...text, description: 'SPDX id, or "unspecified"' },
  digest: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' },
  parameters: { type: 'array', items: parameter },
  codeVisible: { type: 'boolean' },
  downloadable: { type: 'boolean' },
  figures: { $ref: '#/components/schemas/HubFigures' },
  updated: { type: 'integer', minimum: 0, description: 'epoch ms' },
};
const summaryRequired = Object.keys(summaryProps).concat('actions');
const keyValue = exact(['key', 'value'], { key: text, value: {} });

export const hubSchemas: Record<string, Schema> = {
  HubSelf: exact(['id', 'url'], { id: text, url: text }),
  HubFigures: exact(['invocations30d', 'namespaces30d', 'successRate', 'p50Ms', 'examples'], {
    invocations30d: count,
    namespaces30d: { ...count, description: 'distinct namespaces that ran its actions' },
    successRate: nullable({ type: 'number', minimum: 0, maximum: 1 }),
    p50Ms: nullable({ type: 'number', minimum: 0 }),
    examples: nullable(exact(['total', 'passed', 'failed', 'ranAt'], { total: count, passed: count, failed: count, ranAt: count })),
  }),
  HubSummary: exact(summaryRequired, { ...summaryProps, actions: { type: 'array', items: text } }),
  HubCatalog: exact(['instance', 'packages'], { instance: ref('HubSelf'), packages: { type: 'array', items: ref('HubSummary') } }),
  HubDetail: exact([...summaryRequired, 'examples'], {
    ...summaryProps,
    actions: {
      type: 'array',
      items: exact(['name', 'kind', 'parameters', 'annotations', 'limits'], {
        name: text,
        kind: text,
        parameters: { type: 'array', items: parameter },
        annotations: { type: 'array', items: keyValue, description: 'description, web-export, raw-http, final, parameters only' },
        limits: { type: 'object' },
        code: { ...text, description: 'only when the publisher shows code: the source, or "<binary N bytes>"' },
      }),
    },
    examples: { type: 'array', items: exact(['action'], { action: text, params: { type: 'object' }, expect: { type: 'object' } }) },
  }),
};
