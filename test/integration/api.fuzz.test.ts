import { expect } from 'chai';
import fc from 'fast-check';
import { expectError } from '../support/api.ts';
import { rawRequest } from '../support/raw-http.ts';
import { basic, call, type Reply, startTestServer, type TestServer } from '../support/server.ts';
import { expectConforms } from '../support/openapi.ts';

/**
 * Property-based fuzzing of the entity API over HTTP: whatever a client sends as the name
 * and the body of a PUT, the server answers with a client error in OpenWhisk's
 * `{error, code}` shape or a valid entity, never a 5xx, and keeps serving. The same for
 * nesting and size at the bounds, and for headers and request lines on bare sockets.
 */

const NUM_RUNS = 150;
const COLLECTIONS = [
  { collection: 'actions', definition: 'Action' },
  { collection: 'triggers', definition: 'Trigger' },
  { collection: 'rules', definition: 'Rule' },
  { collection: 'packages', definition: 'Package' },
] as const;

// ------------------------------------------------------------------------------- names

/** Percent-encode a string as UTF-8 (lone surrogates become U+FFFD, as fetch would send them). */
const encodeName = (s: string): string => {
  try {
    return encodeURIComponent(s);
  } catch {
    return [...Buffer.from(s, 'utf8')].map((b) => '%' + b.toString(16).padStart(2, '0')).join('');
  }
};

/** A URL path segment: valid names (most often), arbitrary text, raw (maybe invalid UTF-8) bytes, odd cases. */
const nameSegment: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.stringMatching(/^\w[\w@ .&-]{0,30}[\w@.&-]$/).map(encodeName), weight: 3 },
  { arbitrary: fc.stringMatching(/^\w{1,12}$/), weight: 3 },
  fc.string({ maxLength: 40 }).map(encodeName),
  fc.string({ unit: 'binary', maxLength: 40 }).map(encodeName),
  fc.string({ unit: 'grapheme', maxLength: 20 }).map(encodeName),
  fc.uint8Array({ maxLength: 20 }).map((bytes) => [...bytes].map((b) => '%' + b.toString(16).padStart(2, '0')).join('')),
  fc.constantFrom('a'.repeat(256), 'a'.repeat(257), '_', '%2F', 'pkg%2Fa', '.', '..', '%2e%2e', '~', 'a%00', '%ZZ', '%', '%E0%A4%A', encodeName('trailing ')),
);

// ------------------------------------------------------------------------------- bodies

const kv = fc.record({ key: fc.oneof(fc.string({ maxLength: 10 }), fc.constant(''), fc.jsonValue()), value: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] });
const ref = fc.oneof(fc.constantFrom('t', 'a', '/_/t', '/_/a', '/guest/t', '/guest/a', 'p/a', '/guest/p/a', 'nope', '/other/t', '/', '//', '_/t', 'a/b/c'), fc.string({ maxLength: 20 }));
const anyJson = fc.jsonValue({ maxDepth: 2 });

/** Bodies shaped like the entity schemas, each field right-typed or not. */
const structuredBody: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    exec: fc.oneof(
      fc.record(
        {
          kind: fc.oneof(fc.constantFrom('nodejs:20', 'nodejs:default', 'python:3', 'stdio', 'blackbox', 'sequence', 'cobol:1', ''), anyJson),
          code: fc.oneof(fc.string({ maxLength: 50 }), fc.constantFrom('UEsDBBQAAAAIAA==', 'UEsDB!!'), anyJson),
          image: fc.oneof(fc.constantFrom('openwhisk/example', 'bad image', ''), anyJson),
          main: fc.oneof(fc.string({ maxLength: 10 }), anyJson),
          binary: fc.oneof(fc.boolean(), anyJson),
          components: fc.oneof(fc.array(ref, { maxLength: 3 }), anyJson),
        },
        { requiredKeys: [] },
      ),
      anyJson,
    ),
    parameters: fc.oneof(fc.array(kv, { maxLength: 3 }), anyJson),
    annotations: fc.oneof(fc.array(kv, { maxLength: 3 }), anyJson),
    limits: fc.oneof(
      fc.record(
        {
          timeout: fc.oneof(fc.integer({ min: -1, max: 400_000 }), fc.double(), anyJson),
          memory: fc.oneof(fc.integer({ min: 0, max: 1024 }), fc.double(), anyJson),
          logs: fc.oneof(fc.integer({ min: -1, max: 20 }), anyJson),
          concurrency: fc.oneof(fc.integer({ min: 0, max: 600 }), anyJson),
        },
        { requiredKeys: [] },
      ),
      anyJson,
    ),
    publish: fc.oneof(fc.boolean(), anyJson),
    delAnnotations: fc.oneof(fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }), anyJson),
    trigger: ref,
    action: ref,
    status: fc.oneof(fc.constantFrom('active', 'inactive', '', 'activating'), anyJson),
    binding: fc.oneof(
      fc.record({ namespace: fc.oneof(fc.constantFrom('_', 'guest', 'other', 'b d'), anyJson), name: fc.oneof(fc.constantFrom('p', 'bound', 'nope', ''), anyJson) }, { requiredKeys: [] }),
      fc.constant(null),
      anyJson,
    ),
  },
  { requiredKeys: [] },
);

/** Bodies that are mostly well formed for one collection, so that the success paths run too. */
const goodKv = fc.array(fc.record({ key: fc.string({ minLength: 1, maxLength: 10 }), value: fc.jsonValue({ maxDepth: 2 }) }), { maxLength: 3 });
const wellFormedBody: Record<string, fc.Arbitrary<Record<string, unknown>>> = {
  actions: fc.record(
    {
      exec: fc.record(
        {
          kind: fc.constantFrom('nodejs:20', 'nodejs:default', 'python:3', 'stdio', 'blackbox'),
          code: fc.oneof(fc.string({ maxLength: 100 }), fc.string({ unit: 'binary', maxLength: 50 })),
          main: fc.string({ minLength: 1, maxLength: 10 }),
          image: fc.constantFrom('openwhisk/example', 'ghcr.io/acme/img:1.0'),
        },
        { requiredKeys: ['kind', 'code'] },
      ),
      parameters: goodKv,
      annotations: goodKv,
      limits: fc.record({ timeout: fc.integer({ min: 50, max: 310_000 }), memory: fc.integer({ min: 100, max: 600 }), logs: fc.integer({ min: 0, max: 12 }), concurrency: fc.integer({ min: 1, max: 510 }) }, { requiredKeys: [] }),
      publish: fc.boolean(),
    },
    { requiredKeys: ['exec'] },
  ),
  triggers: fc.record({ parameters: goodKv, annotations: goodKv, publish: fc.boolean() }, { requiredKeys: [] }),
  rules: fc.record({ trigger: fc.oneof({ arbitrary: fc.constantFrom('t', '/_/t', '/guest/t'), weight: 4 }, ref), action: fc.oneof({ arbitrary: fc.constantFrom('a', '/_/a', '/guest/a', 'p/a', '/guest/p/a'), weight: 4 }, ref), annotations: goodKv, status: fc.constantFrom('active', 'inactive') }, { requiredKeys: ['trigger', 'action'] }),
  packages: fc.record({ parameters: goodKv, annotations: goodKv, publish: fc.boolean(), binding: fc.record({ namespace: fc.constantFrom('_', 'guest'), name: fc.constantFrom('p', 'bound', 'nope') }, { requiredKeys: ['name'] }) }, { requiredKeys: [] }),
};

/** `JSON.stringify` of anything (undefined and the like become an empty body). */
const serializedAnything: fc.Arbitrary<string> = fc.anything({ maxDepth: 3, withNullPrototype: true, withBoxedValues: true, withObjectString: true, withSparseArray: true }).map((v) => {
  try {
    return JSON.stringify(v) ?? '';
  } catch {
    return String(v);
  }
});

const rawText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 100 }),
  fc.jsonValue().map((v) => JSON.stringify(v).slice(0, -1)), // truncated JSON
  fc.constantFrom('', ' ', 'null', 'true', '0', '""', '[]', '{}', '{"exec":', '\u0000', '\ufeff{}', '{"__proto__": {"x": 1}}', '{"constructor": {"prototype": {}}}', '{"exec": {"kind": "nodejs:20", "code": "x"}, "exec": 1}'),
);

// ------------------------------------------------------------------------------- checks

/** Never a 5xx; a 4xx is `{error, code}`; a 2xx PUT answers with the entity it stored. */
function checkReply(r: Reply, definition: string, what: string): void {
  expect(r.status, `${what}: ${JSON.stringify(r.body).slice(0, 300)}`).to.be.below(500);
  expect(r.headers.get('x-request-id') ?? '', `${what}: X-Request-ID`).to.not.equal('');
  if (r.status >= 400) {
    expectError(r, r.status);
  } else if (r.status === 200) {
    expectConforms(definition, r.body);
    expect((r.body as { version?: unknown }).version, what).to.match(/^0\.0\.\d+$/);
  }
}

async function stillServing(s: TestServer): Promise<void> {
  const r = await call('GET', `${s.api}/namespaces`, { auth: s.guestKey });
  expect(r.status, 'GET /api/v1/namespaces after the fuzzed request').to.equal(200);
  expect(r.body).to.deep.equal(['guest']);
}

// ------------------------------------------------------------------------------- properties

describe('API fuzz: PUT with arbitrary names and bodies', function () {
  this.timeout(120_000);
  let s: TestServer;
  before(async function () {
    s = await startTestServer();
    const key = s.guestKey;
    // targets for rules, bindings and packaged actions, so that some requests succeed
    const put = (path: string, body: unknown) => call('PUT', `${s.api}/namespaces/_/${path}`, { auth: key, body });
    expect((await put('triggers/t', {})).status).to.equal(200);
    expect((await put('actions/a', { exec: { kind: 'nodejs:20', code: 'function main() {}' } })).status).to.equal(200);
    expect((await put('packages/p', {})).status).to.equal(200);
    expect((await put('actions/p/a', { exec: { kind: 'nodejs:20', code: 'function main() {}' } })).status).to.equal(200);
  });
  after(async function () {
    await s?.destroy();
  });
  afterEach(async function () {
    await stillServing(s);
  });

  for (const { collection, definition } of COLLECTIONS) {
    const url = (name: string, overwrite: boolean) => `${s.api}/namespaces/_/${collection}/${name}${overwrite ? '?overwrite=true' : ''}`;

    it(`${collection}: arbitrary JSON values (fc.jsonValue) as the body`, async function () {
      await fc.assert(
        fc.asyncProperty(nameSegment, fc.jsonValue(), fc.boolean(), async (name, body, overwrite) => {
          const r = await call('PUT', url(name, overwrite), { auth: s.guestKey, raw: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
          checkReply(r, definition, `PUT ${collection}/${name}`);
          await stillServing(s);
        }),
        { numRuns: NUM_RUNS },
      );
    });

    it(`${collection}: entity-shaped bodies, well formed or with wrong field types`, async function () {
      await fc.assert(
        fc.asyncProperty(nameSegment, fc.oneof(wellFormedBody[collection]!, structuredBody), fc.boolean(), async (name, body, overwrite) => {
          const r = await call('PUT', url(name, overwrite), { auth: s.guestKey, body });
          checkReply(r, definition, `PUT ${collection}/${name}`);
          await stillServing(s);
        }),
        { numRuns: NUM_RUNS },
      );
    });

    it(`${collection}: fc.anything() serialized, and random text, as the raw body`, async function () {
      await fc.assert(
        fc.asyncProperty(nameSegment, fc.oneof(serializedAnything, rawText), fc.constantFrom(undefined, 'application/json', 'text/plain', 'application/x-www-form-urlencoded'), async (name, raw, type) => {
          const r = await call('PUT', url(name, false), { auth: s.guestKey, raw, headers: type ? { 'content-type': type } : {} });
          checkReply(r, definition, `PUT ${collection}/${name}`);
          await stillServing(s);
        }),
        { numRuns: NUM_RUNS },
      );
    });
  }
});

describe('API fuzz: other inputs', function () {
  this.timeout(120_000);
  let s: TestServer;
  before(async function () {
    s = await startTestServer();
  });
  after(async function () {
    await s?.destroy();
  });
  afterEach(async function () {
    await stillServing(s);
  });

  it('GET, DELETE and list with arbitrary names and query strings', async function () {
    const query = fc.array(fc.tuple(fc.constantFrom('limit', 'skip', 'count', 'code', 'force', 'overwrite', 'x'), fc.oneof(fc.integer({ min: -5, max: 300 }).map(String), fc.string({ maxLength: 25 }))), { maxLength: 4 });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('actions', 'triggers', 'rules', 'packages', 'widgets'), nameSegment, query, fc.constantFrom('GET', 'DELETE', 'LIST'), async (collection, name, q, method) => {
        const qs = q.length ? '?' + q.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&') : '';
        const path = method === 'LIST' ? `${s.api}/namespaces/_/${collection}${qs}` : `${s.api}/namespaces/_/${collection}/${name}${qs}`;
        const r = await call(method === 'LIST' ? 'GET' : method, path, { auth: s.guestKey });
        expect(r.status, `${method} ${path}: ${JSON.stringify(r.body).slice(0, 300)}`).to.be.below(500);
        if (r.status >= 400) expectError(r, r.status);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('arbitrary Authorization headers are 401 (or accepted only with the real key)', async function () {
    const header = fc.oneof(
      fc.string({ maxLength: 60 }).map((v) => `Basic ${Buffer.from(v).toString('base64')}`),
      fc.string({ maxLength: 60 }).map((v) => `Basic ${v}`),
      fc.string({ maxLength: 60 }).map((v) => `Bearer ${v}`),
      fc.tuple(fc.constantFrom('basic', 'BASIC', 'bearer', 'Digest', ''), fc.string({ maxLength: 60 })).map(([a, b]) => `${a} ${b}`),
      fc.string({ maxLength: 80 }),
    );
    await fc.assert(
      fc.asyncProperty(header, async (authorization) => {
        // header values cannot hold control characters or non-latin1 text
        const value = authorization.replace(/[^\x20-\x7e]/g, '').trim();
        if (value === `Basic ${Buffer.from(s.guestKey).toString('base64')}` || value === basic(s.guestKey)) return;
        const r = await call('GET', `${s.api}/namespaces/_/actions`, { headers: { authorization: value } });
        expectError(r, 401);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('POST /token with arbitrary bodies', async function () {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue().map((v) => JSON.stringify(v)), rawText, fc.integer().map((n) => JSON.stringify({ expiresIn: n }))), async (raw) => {
        const r = await call('POST', `${s.api}/token`, { auth: s.guestKey, raw });
        expect(r.status, `${raw.slice(0, 100)}: ${JSON.stringify(r.body).slice(0, 300)}`).to.be.oneOf([200, 400]);
        if (r.status === 400) expectError(r, 400);
        else expect(r.body.namespace).to.equal('guest');
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

// ------------------------------------------------------------------------------- nesting, sizes, headers, request lines

const TOO_DEEP = 'The request content was malformed:\nJSON nested more than 100 levels deep.';
const MiB = 1024 * 1024;

/** JSON text nested `levels` deep by a mix of arrays and objects, with brackets, quotes and escapes in strings and keys beside. */
const nestedJson = fc
  .record({
    levels: fc.integer({ min: 1, max: 300 }),
    kinds: fc.array(fc.boolean(), { minLength: 300, maxLength: 300 }),
    decoy: fc.constantFrom('"]]]"', '"{\\"[["', '"\\\\"', '"}}}}"', '1', 'null', '"\\u005b"'),
    space: fc.constantFrom('', ' ', '\n  '),
  })
  .map(({ levels, kinds, decoy, space }) => {
    let text: string = decoy;
    for (let i = 0; i < levels; i++) text = kinds[i] ? `[${space}${decoy},${space}${text}]` : `{"k[${i}":${space}${text},"d":${decoy}}`;
    return { levels, text };
  });

/** A request line (and what follows it) as a client might get it wrong. */
const requestHead = fc
  .record({
    method: fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'PROPFIND', 'TRACE', 'BREW', 'get', ''), fc.stringMatching(/^[!-~]{1,12}$/)),
    target: fc.oneof(
      fc.constantFrom('/', '/api/v1', '/api/v1/namespaces/_/actions', '/api/v1/web/guest/default/x.json', '*', 'http://127.0.0.1/api/v1', '//', '/%ZZ', '/a b', ''),
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 20 }),
    ),
    version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.10', 'HTTP/1', 'http/1.1', 'HTTP/1.1 extra', ''),
    host: fc.constantFrom('Host: x\r\n', '', 'Host:\r\n', 'Host: a\r\nHost: b\r\n'),
    eol: fc.constantFrom('\r\n', '\n'),
  })
  .filter(({ method }) => method.toUpperCase() !== 'HEAD');

describe('API fuzz: nesting, sizes, headers and request lines', function () {
  this.timeout(120_000);
  let s: TestServer;
  before(async function () {
    s = await startTestServer();
    expect((await call('PUT', `${s.api}/namespaces/_/triggers/idle`, { auth: s.guestKey, body: {} })).status).to.equal(200);
  });
  after(async function () {
    await s?.destroy();
  });
  afterEach(async function () {
    await stillServing(s);
  });

  it('JSON nested past 100 levels, on every JSON route, is one 400 naming the bound; within it, never that error nor a 5xx', async function () {
    const routes = [
      { method: 'PUT', path: '/namespaces/_/triggers/f?overwrite=true', wrap: (x: string) => `{"parameters":[{"key":"p","value":${x}}]}`, added: 3 },
      { method: 'POST', path: '/namespaces/_/triggers/idle', wrap: (x: string) => `{"p":${x}}`, added: 1 },
      { method: 'POST', path: '/namespaces/_/actions/missing?blocking=true', wrap: (x: string) => x, added: 0 },
      { method: 'POST', path: '/token', wrap: (x: string) => `{"expiresIn":${x}}`, added: 1 },
    ];
    await fc.assert(
      fc.asyncProperty(nestedJson, fc.constantFrom(...routes), async ({ levels, text }, route) => {
        const r = await call(route.method, `${s.api}${route.path}`, { auth: s.guestKey, raw: route.wrap(text), headers: { 'content-type': 'application/json' } });
        const what = `${route.method} ${route.path} with ${levels + route.added} levels`;
        if (levels + route.added > 100) return expectError(r, 400, TOO_DEEP);
        expect(r.status, `${what}: ${JSON.stringify(r.body).slice(0, 200)}`).to.be.below(500);
        if (r.status >= 400) {
          expectError(r, r.status);
          expect(r.body.error, what).to.not.equal(TOO_DEEP);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('a fire or token body over 1 MB is a 413 naming both sizes; one within it is not', async function () {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: -64, max: 64 }), fc.constantFrom('/namespaces/_/triggers/idle', '/token'), async (delta, path) => {
        const raw = `{"p":"${'x'.repeat(MiB + delta - 8)}"}`;
        const r = await call('POST', `${s.api}${path}`, { auth: s.guestKey, raw });
        if (raw.length > MiB) expectError(r, 413, `request larger than allowed: ${raw.length} > ${MiB} bytes.`);
        else expect(r.status, `${raw.length} bytes`).to.be.below(400);
      }),
      { numRuns: 25 },
    );
  });

  it('headers of any number and size: served, or one 431 (or 400) in OpenWhisk shape, never a 5xx', async function () {
    const value = fc.oneof(fc.tuple(fc.constantFrom('v', ' ', '~', 'é'), fc.integer({ min: 0, max: 3000 })).map(([c, n]) => c.repeat(n)), fc.string({ maxLength: 50 }));
    const header = fc.tuple(fc.stringMatching(/^X-[A-Za-z0-9-]{1,20}$/), value);
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(fc.array(header, { minLength: 1, maxLength: 40 }), async (headers) => {
        const lines = headers.map(([k, v]) => `${k}: ${v}\r\n`).join('');
        const r = await rawRequest(s.url, `GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic(s.guestKey)}\r\nConnection: close\r\n${lines}\r\n`);
        // about what Node counts against its limit: names and values without their surrounding blanks
        const size = headers.reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v.trim()), 0);
        const slack = 200 + 8 * headers.length;
        if (r.status === 200) {
          expect(r.body).to.deep.equal(['guest']);
          expect(size, 'served despite headers over the limit').to.be.at.most(16_384 + slack);
        } else {
          expect(r.status, `${size} bytes of headers`).to.be.oneOf([400, 431]);
          expectError(r, r.status);
          if (size > 16_384 + slack) expect(r.status).to.equal(431);
        }
        seen.add(r.status);
      }),
      { numRuns: 60, examples: [[[['X-Big', 'v'.repeat(20_000)]]], [Array.from({ length: 8 }, (_, i): [string, string] => [`X-H${i}`, 'v'.repeat(2_100)])]] },
    );
    expect([...seen], 'both sides of the limit were tried').to.include.members([200, 431]);
  });

  it('any request line: an answer in OpenWhisk shape whenever it is an error, never a failure or a dropped connection', async function () {
    await fc.assert(
      fc.asyncProperty(requestHead, async ({ method, target, version, host, eol }) => {
        const head = `${method} ${target} ${version}${eol}${host.replace(/\r\n/g, eol)}Connection: close${eol}${eol}`;
        const r = await rawRequest(s.url, head);
        // 501 is HTTP's answer to a method no route implements (PROPFIND, BREW), not a failure
        if (r.status !== 501) expect(r.status, JSON.stringify(head)).to.be.below(500);
        if (r.status >= 400) expectError(r, r.status);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
