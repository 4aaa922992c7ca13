import { z } from 'zod';
import { installBody, testBody, updateBody } from './requests.ts';

/**
 * The hub consumer endpoints' part of the OpenAPI document (controller/openapi.ts): install,
 * update and test in the caller's namespace, and the show/get proxies for a REF of any instance.
 */
type Schema = Record<string, unknown>;

const json = (schema: Schema) => ({ 'application/json': { schema } });
const error = (description: string) => ({ description, content: json({ $ref: '#/components/schemas/ErrorMessage' }) });
const fromZod = (s: z.ZodType): Schema => {
  const { $schema: _s, ...rest } = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Schema;
  return rest;
};
const tags = ['Hub'];
const ns = { name: 'namespace', in: 'path', required: true, description: "'_' (the caller's)", schema: { type: 'string' } };
const refParam = { name: 'ref', in: 'query', required: true, description: 'a package REF: <host:port>/<owner>/<package>[@<version>] (a function REF names its package)', schema: { type: 'string' } };
const refusals = {
  '400': error('A malformed body or REF'),
  '401': error('Unauthenticated'),
  '403': error("Not the caller's namespace, the REF's instance is neither this instance nor a known peer (SWIRL_HUB_PEERS), or the publisher does not allow downloads"),
  '404': error('Not in the catalog of the REF’s instance, or not at that version'),
  '502': error('The REF’s instance cannot be reached, answers too slowly or too much, or served a bundle that does not verify (digest mismatch)'),
};
const post = (summary: string, body: z.ZodType, answer: Schema, more: Schema = {}) => ({
  post: { tags, summary, parameters: [ns], requestBody: { required: true, content: json(fromZod(body)) }, responses: { '200': { description: 'Done', content: json(answer) }, ...refusals, ...more } },
});

const publicGet = (summary: string, parameters: Schema[], answer: Schema) => ({
  servers: [{ url: '/' }],
  get: { tags, summary, security: [], parameters, responses: { '200': { description: 'Done', content: json(answer) }, '400': error('A bad query parameter') } },
});
const peer = { type: 'object', required: ['id', 'url', 'via', 'seenAt'], properties: { id: { type: 'string' }, url: { type: 'string' }, via: { type: 'string', description: "'config', or the id of the peer that told" }, seenAt: { type: 'integer', description: 'epoch ms' } } };
const self = { type: 'object', required: ['id', 'url'], properties: { id: { type: 'string' }, url: { type: 'string' } } };

const testAnswer = { type: 'object', required: ['ref', 'digest', 'runs', 'cleanedUp'], properties: { ref: { type: 'string' }, digest: { type: 'string' }, runs: { type: 'array', items: { type: 'object' } }, cleanedUp: { type: 'boolean' } } };
/** `hub test` with `Accept: application/x-ndjson`: its steps as they happen, then the answer (or an error) on the last line. */
const streamed = (path: ReturnType<typeof post>) => {
  const ok = path.post.responses['200'];
  const lines = {
    description: 'One JSON value a line: a step ({"step": "fetching" | "verified" | "deploying" | "running" | "cleaning", "run"?, "of"?, ...}) as it happens, then {"result": <the answer>} or {"error", "code"} when it failed after the first step',
    schema: { type: 'string' },
  };
  return { post: { ...path.post, responses: { ...path.post.responses, '200': { ...ok, content: { ...ok.content, 'application/x-ndjson': lines } } } } };
};

export function hubConsumerPaths(): Record<string, Schema> {
  return {
    '/hub/v1/peers': publicGet('The peers this instance knows: configured, and learned from them (within the age limit)', [], { type: 'object', required: ['self', 'peers'], properties: { self, peers: { type: 'array', items: peer } } }),
    '/hub/v1/search': publicGet(
      'Search this instance and every known peer (peers of peers learned first), merged and ranked; peers that did not answer are named',
      [
        { name: 'q', in: 'query', required: false, description: 'the search term', schema: { type: 'string', maxLength: 200 } },
        { name: 'hops', in: 'query', required: false, description: 'levels of peers of peers to learn first', schema: { type: 'integer', minimum: 0, maximum: 4, default: 2 } },
      ],
      {
        type: 'object',
        required: ['results', 'peers', 'tookMs'],
        properties: {
          results: { type: 'array', items: { type: 'object', description: 'catalog summaries, as /hub/v1/catalog gives them' } },
          peers: { type: 'object', properties: { asked: { type: 'array', items: { type: 'string' } }, answered: { type: 'array', items: { type: 'string' } }, down: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, error: { type: 'string' } } } } } },
          tookMs: { type: 'integer' },
        },
      },
    ),
    '/namespaces/{namespace}/hub/install': post('Install a published package of any instance in your namespace (annotations hub-origin, hub-version, hub-digest)', installBody, { type: 'object', description: 'the package' }, { '409': error('The name is taken (install with as), or installed from this origin already (update it)') }),
    '/namespaces/{namespace}/hub/update': post('Update an installed package to its origin’s newer version', updateBody, { type: 'object', required: ['updated', 'from', 'to'], properties: { updated: { type: 'boolean' }, from: { type: 'string' }, to: { type: 'string' } } }),
    '/namespaces/{namespace}/hub/test': streamed(post('Run a package’s examples (or the given parameters) in a disposable namespace, removed after; each run counts against your invoke throttles', testBody, testAnswer, { '429': error('Over your invoke throttles, or 2 hub tests of your namespace are running already') })),
    '/namespaces/{namespace}/hub/show': { get: { tags, summary: 'The detail of a REF’s package, from its instance', parameters: [ns, refParam], responses: { '200': { description: 'The package detail', content: json({ type: 'object' }) }, ...refusals } } },
    '/namespaces/{namespace}/hub/get': {
      get: { tags, summary: 'The zip of a REF’s package, verified against its digest (header X-Swirl-Digest)', parameters: [ns, refParam], responses: { '200': { description: 'manifest.json + actions/<name>', content: { 'application/zip': { schema: { type: 'string', format: 'binary' } } } }, ...refusals } },
    },
  };
}
