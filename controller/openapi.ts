import { z } from 'zod';
import { putSchemas } from '../common/entities.ts';
import { KINDS } from '../common/kinds.ts';
import { LIMITS, LIST_LIMIT } from '../common/limits.ts';
import { gatewayPaths, gatewaySchemas } from './gateway/openapi.ts';
import { hubPaths, hubSchemas } from './hub/catalog-openapi.ts';
import { hubConsumerPaths } from './hub/openapi.ts';

/**
 * The OpenAPI 3 description of swirl's API, served at /api/v1/api-docs. Request bodies
 * are generated from the same zod schemas the controller validates with, so the document
 * cannot drift from what the server accepts.
 */
type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema) => ({ 'application/json': { schema } });
const fromZod = (s: z.ZodType): Schema => {
  const { $schema: _s, ...rest } = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Schema;
  return rest;
};

const error = (description: string) => ({ description, content: json(ref('ErrorMessage')) });
const errors = {
  '400': error('Bad request: malformed body, name or parameter'),
  '401': error('Unauthenticated'),
  '403': error('The caller may not access this namespace'),
  '404': error('No such entity'),
  '409': error('Conflict: the entity exists, or was changed concurrently'),
  '413': error('Request entity too large'),
  '500': error('Internal error (details in the server log under the transaction id)'),
  '503': error('A backing service is unavailable'),
};
const pick = (...codes: Array<keyof typeof errors>) => Object.fromEntries(codes.map((c) => [c, errors[c]]));

const pathParam = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });
const query = (name: string, description: string, schema: Schema) => ({ name, in: 'query', required: false, description, schema });
const nsParam = pathParam('namespace', "The namespace, or '_' for the caller's");
const listParams = [
  query('limit', `Entities to return (0 to ${LIST_LIMIT.max}; 0 means ${LIST_LIMIT.max})`, { type: 'integer', minimum: 0, maximum: LIST_LIMIT.max, default: LIST_LIMIT.default }),
  query('skip', 'Entities to skip', { type: 'integer', minimum: 0, default: 0 }),
  query('count', 'Return only the number of entities, as {"<collection>": N}', { type: 'boolean' }),
];
const overwrite = query('overwrite', 'Update the entity when it exists', { type: 'boolean', default: false });

const kinds = [
  { collection: 'actions', schema: 'Action', put: 'ActionPut', tag: 'Actions' },
  { collection: 'triggers', schema: 'Trigger', put: 'TriggerPut', tag: 'Triggers' },
  { collection: 'rules', schema: 'Rule', put: 'RulePut', tag: 'Rules' },
  { collection: 'packages', schema: 'Package', put: 'PackagePut', tag: 'Packages' },
] as const;

function entityPaths(): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const k of kinds) {
    const entity = (summary: string) => ({ description: summary, content: json(ref(k.schema)) });
    paths[`/namespaces/{namespace}/${k.collection}`] = {
      get: {
        tags: [k.tag],
        summary: `List ${k.collection}, newest first`,
        parameters: [nsParam, ...listParams],
        responses: { '200': { description: `The ${k.collection}`, content: json({ type: 'array', items: ref('EntityBrief') }) }, ...pick('400', '401', '403', '500', '503') },
      },
    };
    const itemPaths = k.collection === 'actions' ? [`/namespaces/{namespace}/actions/{name}`, `/namespaces/{namespace}/actions/{package}/{name}`] : [`/namespaces/{namespace}/${k.collection}/{name}`];
    for (const p of itemPaths) {
      const params = [nsParam, ...(p.includes('{package}') ? [pathParam('package', 'The package holding the action')] : []), pathParam('name', 'The entity name')];
      paths[p] = {
        ...(k.collection === 'actions' ? { post: invokeOperation(params) } : {}),
        ...(k.collection === 'triggers' ? { post: fireOperation(params) } : {}),
        ...(k.collection === 'rules' ? { post: ruleStateOperation(params) } : {}),
        get: {
          tags: [k.tag],
          summary: `Get one of the ${k.collection}`,
          parameters: [...params, ...(k.collection === 'actions' ? [query('code', 'Include the code (default true)', { type: 'boolean' })] : [])],
          responses: { '200': entity('The entity'), ...pick('400', '401', '403', '404', '409', '500', '503') },
        },
        put: {
          tags: [k.tag],
          summary: `Create, or with overwrite=true update, one of the ${k.collection}`,
          parameters: [...params, overwrite],
          requestBody: { required: k.collection === 'actions' || k.collection === 'rules', content: json(ref(k.put)) },
          responses: { '200': entity('The created or updated entity'), ...pick('400', '401', '403', '404', '409', '413', '500', '503') },
        },
        delete: {
          tags: [k.tag],
          summary: `Delete one of the ${k.collection}`,
          parameters: [...params, ...(k.collection === 'packages' ? [query('force', 'Delete the actions in the package too', { type: 'boolean' })] : [])],
          responses: { '200': entity('The deleted entity'), ...pick('400', '401', '403', '404', '409', '500', '503') },
        },
      };
    }
  }
  paths['/namespaces/{namespace}/actions/{package}/'] = {
    get: {
      tags: ['Actions'],
      summary: 'List the actions in a package',
      parameters: [nsParam, pathParam('package', 'The package'), ...listParams],
      responses: { '200': { description: 'The actions', content: json({ type: 'array', items: ref('EntityBrief') }) }, ...pick('400', '401', '403', '500') },
    },
  };
  Object.assign(paths, activationPaths());
  return paths;
}

const tooMany = error('Over a namespace throttle (invocations per minute, concurrent invocations)');
const activation = (description: string) => ({ description, content: json(ref('Activation')) });

function invokeOperation(params: Schema[]): Schema {
  return {
    tags: ['Actions'],
    summary: 'Invoke an action; the body is its parameters (they win over the action’s and its package’s)',
    parameters: [
      ...params,
      query('blocking', 'Wait for the result', { type: 'boolean', default: false }),
      query('result', 'With blocking: return only the result', { type: 'boolean', default: false }),
      query('timeout', 'With blocking: wait at most this long (ms) before answering 202', { type: 'integer', minimum: 1 }),
    ],
    requestBody: { required: false, content: json({ type: 'object' }) },
    responses: {
      '200': activation('Blocking: the activation record (or only its result) of a successful activation'),
      '202': { description: 'Non-blocking, or still running after the wait: the activation id', content: json(ref('ActivationId')) },
      '502': activation('Blocking: the record of an activation that ended in an application or developer error'),
      '500': activation('Blocking: the record of an activation that ended in an internal error (or an internal error of the request)'),
      '429': tooMany,
      ...pick('400', '401', '403', '404', '503'),
    },
  };
}

function fireOperation(params: Schema[]): Schema {
  return {
    tags: ['Triggers'],
    summary: 'Fire a trigger: every active rule invokes its action (non-blocking) with the trigger’s parameters under this payload',
    parameters: params,
    requestBody: { required: false, content: json({ type: 'object' }) },
    responses: {
      '202': { description: 'Some rule is active: the trigger activation id (its record logs one line per rule)', content: json(ref('ActivationId')) },
      '204': { description: 'No rule of the trigger is active: nothing ran, nothing is recorded' },
      '429': error('Over the namespace’s trigger fires per minute'),
      ...pick('400', '401', '403', '404', '500', '503'),
    },
  };
}

function ruleStateOperation(params: Schema[]): Schema {
  return {
    tags: ['Rules'],
    summary: 'Enable (active) or disable (inactive) a rule',
    parameters: params,
    requestBody: { required: true, content: json({ type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['active', 'inactive'] } } }) },
    responses: { '200': { description: 'The rule in its new status', content: json(ref('Rule')) }, ...pick('400', '401', '403', '404', '409', '500', '503') },
  };
}

function activationPaths(): Record<string, Schema> {
  const idParam = pathParam('activationid', 'The activation id (32 hex characters)');
  const one = (summary: string, schema: Schema) => ({
    get: { tags: ['Activations'], summary, parameters: [nsParam, idParam], responses: { '200': { description: summary, content: json(schema) }, ...pick('400', '401', '403', '404', '500', '503') } },
  });
  return {
    '/namespaces/{namespace}/activations': {
      get: {
        tags: ['Activations'],
        summary: 'Activation records, newest first',
        parameters: [
          nsParam,
          query('name', 'Only those of this action (name or package/name)', { type: 'string' }),
          query('since', 'Only those that started at or after (epoch ms)', { type: 'integer', minimum: 0 }),
          query('upto', 'Only those that started at or before (epoch ms)', { type: 'integer', minimum: 0 }),
          query('docs', 'Whole records (with logs and result)', { type: 'boolean' }),
          ...listParams,
        ],
        responses: { '200': { description: 'The records (brief unless docs=true)', content: json({ type: 'array', items: { oneOf: [ref('ActivationBrief'), ref('Activation')] } }) }, ...pick('400', '401', '403', '500', '503') },
      },
    },
    '/namespaces/{namespace}/activations/stream': {
      get: {
        tags: ['Activations'],
        summary: 'New activation records as server-sent events (event: activation, data: the record), from the moment the stream opens',
        parameters: [nsParam, query('name', 'Only those of this action (name or package/name)', { type: 'string' })],
        responses: {
          '200': { description: 'The stream: one event per record stored, and a comment line every 15 s', content: { 'text/event-stream': { schema: { type: 'string' }, 'x-event-data': ref('Activation') } } },
          ...pick('400', '401', '403'),
          '429': error('Too many streams open for the namespace'),
        },
      },
    },
    '/namespaces/{namespace}/dashboard/summary': {
      get: {
        tags: ['Activations'],
        summary: 'Per action: count, error rate and p50/p99 run time over a window, in time buckets (from at most 2000 activations, newest first)',
        parameters: [
          nsParam,
          query('since', 'Window start (epoch ms; default an hour before upto)', { type: 'integer', minimum: 0 }),
          query('upto', 'Window end (epoch ms; default now)', { type: 'integer', minimum: 0 }),
          query('buckets', 'Time buckets in the window', { type: 'integer', minimum: 1, maximum: 60, default: 12 }),
        ],
        responses: { '200': { description: 'The summary', content: json(ref('ActivationSummary')) }, ...pick('400', '401', '403', '500', '503') },
      },
    },
    '/namespaces/{namespace}/activations/{activationid}': one('One activation record', ref('Activation')),
    '/namespaces/{namespace}/activations/{activationid}/logs': one('The logs of an activation', ref('ActivationLogs')),
    '/namespaces/{namespace}/activations/{activationid}/result': one('The response of an activation', ref('ActivationResult')),
    '/invokers': {
      get: {
        tags: ['Operations'],
        summary: 'Invokers with their state, load and last heartbeat (operators only)',
        responses: { '200': { description: 'The invokers', content: json({ type: 'array', items: ref('Invoker') }) }, ...pick('401', '403') },
      },
    },
    '/invokers/{id}/containers': {
      get: {
        tags: ['Operations'],
        summary: "An invoker's containers as its last heartbeat listed them (the most recently used first, at most 100), with the action each serves, stem cells included once taken (operators only)",
        parameters: [pathParam('id', 'The invoker id (0, or invoker0)')],
        responses: { '200': { description: 'Its containers', content: json({ type: 'array', items: ref('InvokerContainer') }) }, ...pick('401', '403', '404') },
      },
    },
    ...Object.fromEntries(
      (['disable', 'enable'] as const).map((op) => [
        `/invokers/{id}/${op}`,
        {
          post: {
            tags: ['Operations'],
            summary:
              op === 'disable'
                ? 'Drain an invoker (operators only): it takes no new work, finishes what it runs, then reports offline; 202 while draining, 200 once drained'
                : 'Let a drained invoker take work again (operators only)',
            parameters: [pathParam('id', 'The invoker id')],
            responses: { '200': { description: "The invoker's state", content: json({ type: 'object' }) }, '202': { description: 'Draining: activations still in flight', content: json({ type: 'object' }) }, ...pick('400', '401', '403', '404', '503') },
          },
        },
      ]),
    ),
  };
}

const keyValues = { type: 'array', items: ref('KeyValue') };
/** A non-empty string (OpenWhisk's swagger: minLength 1 for names, namespaces and versions). */
const text = { type: 'string', minLength: 1 };
const briefProps = {
  namespace: text,
  name: text,
  version: { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+$', description: 'semantic version, 0.0.1 at creation; each update bumps the patch' },
  publish: { type: 'boolean' },
  annotations: keyValues,
  updated: { type: 'integer', description: 'epoch milliseconds' },
};
/** An object schema that lists every property a response may carry: anything else is a wrong shape. */
const exact = (required: string[], properties: Record<string, unknown>, extra: Schema = {}): Schema => ({ type: 'object', required, properties, additionalProperties: false, ...extra });
const ruleStatus = { type: 'string', enum: ['active', 'inactive'] };
/** Every kind an action may show: swirl's kinds and each family's `:default`. */
const kindNames = [...new Set(KINDS.flatMap((k) => [k.kind, `${k.family}:default`]))];
const activationIdSchema = { type: 'string', pattern: '^[0-9a-f]{32}$' };
const count = { type: 'integer', minimum: 0 };
const epochMs = { type: 'integer', minimum: 0, description: 'epoch ms' };
const percentile = { type: 'integer', minimum: 0, description: 'ms; absent without activations' };
const figureProps = { count, errors: count, errorRate: { type: 'number', minimum: 0, maximum: 1 }, p50: percentile, p99: percentile };
const figureNames = ['count', 'errors', 'errorRate'];
const activationBriefProps = {
  activationId: activationIdSchema,
  namespace: text,
  name: text,
  version: briefProps.version,
  publish: { type: 'boolean' },
  annotations: keyValues,
  start: { type: 'integer', description: 'epoch ms' },
  end: { type: 'integer', description: 'epoch ms (0 while running)' },
  duration: { type: 'integer', minimum: 0, description: 'ms' },
  cause: { ...activationIdSchema, description: 'the sequence or trigger activation that caused this one' },
  statusCode: { type: 'integer', enum: [0, 1, 2, 3] },
};
const limitSchema = (l: { min: number; max: number; default: number }) => ({ type: 'integer', minimum: l.min, maximum: l.max, default: l.default });

/** Web actions: no credentials; the action's result decides the response (docs/webactions.md). */
function webPaths(): Record<string, unknown> {
  const address = [
    pathParam('namespace', 'The namespace of the action (never _)'),
    pathParam('package', "The package holding the action, or 'default'"),
    pathParam('action', 'The action name, with an optional extension: .http (the default), .json, .html, .svg, .text'),
  ];
  const rest = pathParam('path', '__ow_path; for .json, .html, .svg and .text also a property path projected from the result');
  const operations = (parameters: unknown[]) =>
    Object.fromEntries(
      ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'].map((m) => [
        m,
        {
          tags: ['Web actions'],
          summary: `${m.toUpperCase()} a web action (annotation web-export); it runs as its namespace's owner`,
          security: [],
          parameters,
          responses: {
            default: { description: "The action's response: for .http its statusCode, headers and body; else the projected result. Header x-openwhisk-activation-id names the activation." },
            '202': error('Still running after the blocking wait (x-openwhisk-activation-id names the activation)'),
            '400': error('Request parameters not allowed (reserved or final), or a result not valid for the extension'),
            '401': error('require-whisk-auth: no valid credentials, or not the X-Require-Whisk-Auth secret'),
            '404': error('No such web-exported action, or the projected property is missing'),
          },
        },
      ]),
    );
  return { '/web/{namespace}/{package}/{action}': operations(address), '/web/{namespace}/{package}/{action}/{path}': operations([...address, rest]) };
}

export function openApiDocument(version: string): Record<string, unknown> {
  return {
    openapi: '3.0.3',
    info: { title: 'swirl API', version, description: 'An OpenWhisk-compatible REST API. Authenticate with Basic uuid:key or a Bearer token from POST /token.' },
    servers: [{ url: '/api/v1' }],
    security: [{ basicAuth: [] }, { bearerAuth: [] }],
    paths: {
      '/namespaces': {
        get: { tags: ['Namespaces'], summary: "The caller's namespaces", responses: { '200': { description: 'Namespace names', content: json({ type: 'array', items: { type: 'string' } }) }, ...pick('401') } },
      },
      '/namespaces/{namespace}/limits': {
        get: { tags: ['Namespaces'], summary: 'Throttles and limit ranges of a namespace', parameters: [nsParam], responses: { '200': { description: 'Limits', content: json({ type: 'object' }) }, ...pick('401', '403') } },
      },
      '/token': {
        post: {
          tags: ['Auth'],
          summary: "Issue a Bearer token scoped to the caller's namespace (caller authenticated with its key)",
          requestBody: { required: false, content: json({ type: 'object', properties: { expiresIn: { type: 'integer', minimum: 60, description: 'seconds' } } }) },
          responses: { '200': { description: 'The token', content: json({ type: 'object', required: ['token', 'expires_in', 'namespace'], properties: { token: { type: 'string' }, expires_in: { type: 'integer' }, namespace: { type: 'string' } } }) }, ...pick('400', '401', '403') },
        },
      },
      '/lambda/credentials': {
        get: {
          tags: ['Auth'],
          summary: "The AWS SigV4 credentials of the caller's namespace for the Lambda-compatible endpoint /2015-03-31/functions (caller authenticated with its key)",
          responses: { '200': { description: 'The access key id (the uuid) and the secret access key (the action key)', content: json({ type: 'object', required: ['accessKeyId', 'secretAccessKey'], properties: { accessKeyId: { type: 'string' }, secretAccessKey: { type: 'string' } } }) }, ...pick('401', '403') },
        },
      },
      ...entityPaths(),
      ...webPaths(),
      ...gatewayPaths(),
      ...hubPaths(),
      ...hubConsumerPaths(),
    },
    components: {
      securitySchemes: { basicAuth: { type: 'http', scheme: 'basic' }, bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: {
        ...gatewaySchemas,
        ...hubSchemas,
        ErrorMessage: exact(['error', 'code'], { error: text, code: { ...text, description: 'transaction id (also the X-Request-ID header)' } }),
        KeyValue: exact(['key'], {
          key: { type: 'string' },
          value: { description: 'any JSON value' },
          encryption: { type: 'string', enum: ['aes-256'], description: 'Parameters: the value is encrypted at rest, as shown (send it back so, or the plain value)' },
        }),
        EntityBrief: {
          type: 'object',
          required: ['namespace', 'name', 'version', 'publish'],
          description: 'An entry of a list: no code, no parameters',
          properties: {
            ...briefProps,
            exec: exact(['kind', 'binary'], { kind: { type: 'string', enum: kindNames }, binary: { type: 'boolean' } }),
            limits: ref('ActionLimits'),
            status: ruleStatus,
            trigger: ref('PathName'),
            action: ref('PathName'),
            binding: ref('PackageBinding'),
          },
          additionalProperties: false,
        },
        ActionLimits: exact([], { timeout: limitSchema(LIMITS.timeout), memory: limitSchema(LIMITS.memory), logs: limitSchema(LIMITS.logs), concurrency: limitSchema(LIMITS.concurrency) }),
        ActionExec: exact(['kind', 'binary'], {
          kind: { type: 'string', enum: kindNames },
          code: { type: 'string', description: 'source text, or base64 of a zip when binary (left out with ?code=false)' },
          image: { type: 'string', description: 'the container image (blackbox)' },
          main: { type: 'string' },
          binary: { type: 'boolean' },
          components: { type: 'array', items: { type: 'string', pattern: '^(/|hub:)' }, description: 'a sequence’s actions, fully qualified (/ns/[pkg/]name), or hub functions (hub:<function REF>)' },
          ref: { type: 'string', description: 'kind hub: the function REF it runs, fetched on demand' },
        }),
        Action: exact(['namespace', 'name', 'version', 'publish', 'exec', 'annotations', 'parameters', 'limits'], { ...briefProps, exec: ref('ActionExec'), parameters: keyValues, limits: ref('ActionLimits') }),
        TriggerLimits: exact([], {}),
        Trigger: exact(['namespace', 'name', 'version', 'publish', 'annotations', 'parameters', 'limits'], {
          ...briefProps,
          parameters: keyValues,
          limits: ref('TriggerLimits'),
          rules: {
            type: 'object',
            description: 'Its rules by fully qualified name (ns/rule): each rule’s action and status',
            additionalProperties: exact(['action', 'status'], { action: ref('PathName'), status: ruleStatus }),
          },
        }),
        Rule: exact(['namespace', 'name', 'version', 'publish', 'annotations', 'status', 'trigger', 'action'], { ...briefProps, status: ruleStatus, trigger: ref('PathName'), action: ref('PathName') }),
        PackageBinding: { oneOf: [exact([], {}), exact(['namespace', 'name'], { namespace: text, name: text })], description: '{} for a package; the bound package for a binding' },
        PackageAction: exact(['name', 'version'], { name: text, version: briefProps.version, annotations: keyValues }),
        Package: exact(['namespace', 'name', 'version', 'publish', 'annotations', 'parameters', 'binding'], {
          ...briefProps,
          parameters: keyValues,
          binding: ref('PackageBinding'),
          actions: { type: 'array', items: ref('PackageAction'), description: 'GET: the actions it offers' },
          feeds: { type: 'array', items: ref('PackageAction'), description: 'GET: the feeds it offers' },
        }),
        PathName: exact(['path', 'name'], { path: text, name: text }),
        ActivationId: exact(['activationId'], { activationId: activationIdSchema }),
        ActivationResult: exact(['status', 'statusCode', 'success'], {
          status: { type: 'string', enum: ['success', 'application error', 'action developer error', 'whisk internal error'] },
          statusCode: { type: 'integer', enum: [0, 1, 2, 3] },
          success: { type: 'boolean' },
          result: { description: 'the action’s result (an object), or {error} when it failed' },
          size: { type: 'integer', minimum: 0 },
        }),
        ActivationSummary: exact(['since', 'upto', 'bucketMs', 'activations', 'truncated', 'actions'], {
          since: epochMs,
          upto: epochMs,
          bucketMs: { type: 'integer', minimum: 1 },
          activations: { type: 'integer', minimum: 0, description: 'activations read' },
          truncated: { type: 'boolean', description: 'there were more than were read (the oldest left out)' },
          actions: {
            type: 'array',
            items: exact(['name', ...figureNames, 'buckets'], {
              name: { ...text, description: 'name or package/name' },
              ...figureProps,
              buckets: { type: 'array', items: exact(['start', ...figureNames], { start: epochMs, ...figureProps }) },
            }),
          },
        }),
        Invoker: exact(['id', 'name', 'state', 'memoryMb', 'usedMb', 'inFlight', 'running', 'queued', 'containers', 'startedAt', 'lastHeartbeat'], {
          id: count,
          name: text,
          state: { type: 'string', enum: ['up', 'unhealthy', 'unresponsive', 'offline', 'draining'] },
          memoryMb: { ...count, description: 'memory for action containers (MB)' },
          usedMb: { ...count, description: "this controller's share of it in use (MB)" },
          inFlight: { ...count, description: "this controller's activations on it" },
          running: count,
          queued: count,
          containers: count,
          pool: exact(['prewarm', 'idle', 'paused', 'busy', 'starting', 'memoryUsedMb'], { prewarm: count, idle: count, paused: count, busy: count, starting: count, memoryUsedMb: count }, { description: 'its containers by state, and the memory they hold (MB)' }),
          startedAt: epochMs,
          lastHeartbeat: epochMs,
          url: { ...text, description: 'its operations endpoints' },
        }),
        InvokerContainer: exact(['id', 'kind', 'state', 'origin', 'memoryMb', 'inFlight', 'lastUsed'], {
          id: text,
          kind: text,
          state: { type: 'string', enum: ['starting', 'prewarmed', 'initializing', 'busy', 'idle', 'pausing', 'paused', 'resuming', 'retiring'] },
          origin: { type: 'string', enum: ['prewarm', 'cold'], description: 'started as a stem cell, or for an action' },
          action: exact(['namespace', 'name'], { namespace: text, name: { ...text, description: "the action's path: namespace/name or namespace/package/name" } }, { description: 'the action it serves (none for a stem cell not yet taken)' }),
          memoryMb: count,
          inFlight: { ...count, description: 'activations in it now' },
          lastUsed: epochMs,
        }),
        ActivationLogs: exact(['logs'], { logs: { type: 'array', items: { type: 'string' } } }),
        ActivationBrief: exact(['activationId', 'namespace', 'name', 'version', 'publish', 'annotations', 'start'], activationBriefProps),
        Activation: exact(['activationId', 'namespace', 'name', 'subject', 'version', 'publish', 'start', 'end', 'duration', 'annotations', 'logs', 'response'], {
          ...activationBriefProps,
          subject: text,
          logs: { type: 'array', items: { type: 'string' } },
          response: ref('ActivationResult'),
        }),
        ActionPut: fromZod(putSchemas.action),
        TriggerPut: fromZod(putSchemas.trigger),
        RulePut: fromZod(putSchemas.rule),
        PackagePut: fromZod(putSchemas.package),
      },
    },
  };
}
