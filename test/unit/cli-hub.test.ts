import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { ApiStub } from '../support/cli-stub.ts';
import { Client } from '../../cli/client.ts';
import { capture, swirlInProcess } from '../support/cli.ts';
import { Cli } from '../../cli/context.ts';
import { zipName } from '../../cli/commands/hub.ts';
import { bundleZip, HUB_FORMAT, type Manifest, manifestDigest, sha256Hex } from '../../common/hub/manifest.ts';
import { type HubDetail, type HubSummary, rate, searchTable, showLines } from '../../cli/hub-format.ts';

/** `swirl hub …` against a stub of the hub API: the requests it builds and what a user reads. */
const KEY = '23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP';
const ID = 'a'.repeat(32);
const REF = '127.0.0.1:41235/alice/tools@0.0.2';
const DIGEST = `sha256:${'d'.repeat(64)}`;
const A = '/api/v1/namespaces/_';

const summary = (over: Partial<HubSummary> = {}): HubSummary => ({
  ref: REF,
  instance: '127.0.0.1:41235',
  owner: 'alice',
  name: 'tools',
  version: '0.0.2',
  description: 'image tools: resize and crop pictures of any size',
  kinds: ['nodejs:20'],
  license: 'MIT',
  digest: DIGEST,
  actions: ['resize'],
  parameters: [{ name: 'width', description: 'the width in pixels', required: true }, { name: 'apiKey', description: '', bound: true }],
  codeVisible: true,
  downloadable: true,
  figures: { invocations30d: 12, namespaces30d: 2, successRate: 11 / 12, p50Ms: 34, examples: { total: 2, passed: 2, failed: 0, ranAt: Date.UTC(2026, 0, 2) } },
  updated: Date.UTC(2026, 0, 1),
  ...over,
});

const detail = (): HubDetail => ({
  ...summary(),
  actions: [{ name: 'resize', kind: 'nodejs:20', parameters: [{ name: 'width', description: 'the width in pixels' }], code: 'function main(p) {\n  return { width: p.width };\n}\n' }],
  examples: [{ action: 'resize', params: { width: 10 }, expect: { width: 10 } }],
});

describe('swirl hub (against a stub of the hub API)', function () {
  const stub = new ApiStub();
  let env: Record<string, string>;
  const run = (...args: string[]) => swirlInProcess(args, env);

  before(async () => {
    await stub.start();
    env = { __OW_API_HOST: stub.url, __OW_API_KEY: KEY };
  });
  afterEach(() => stub.reset());
  after(() => stub.stop());

  it('search: asks the own instance\'s public /hub/v1/search without the key; a table best first, then who answered and who is down', async () => {
    const other = summary({ ref: '127.0.0.1:5000/bob/thumbs@0.0.1', description: undefined, figures: { invocations30d: 0, namespaces30d: 0, successRate: null, p50Ms: null, examples: null } });
    const answer = { results: [summary(), other], peers: { asked: ['a', 'b', 'c'], answered: ['a', 'b'], down: [{ id: '127.0.0.1:6000', error: 'timed out after 2000ms' }] }, tookMs: 41 };
    stub.on('GET /hub/v1/search', { status: 200, body: answer });
    const r = await run('hub', 'search', 'resize', '--hops', '3');
    expect(r).to.deep.include({ code: 0, stderr: '' });
    expect(stub.seen[0]).to.deep.include({ path: '/hub/v1/search', query: { q: 'resize', hops: '3' } });
    expect(stub.seen[0]!.authorization).to.equal(undefined);
    const lines = r.stdout.split('\n');
    expect(lines[0]).to.match(/^REF +Description +Kinds +Invocations +Success +p50 +Examples$/);
    expect(lines[1]).to.match(new RegExp(`^${REF} +image tools: resize and crop pictures o… +nodejs:20 +12 +91.7% +34ms +2/2$`));
    expect(lines[2]).to.match(/^127\.0\.0\.1:5000\/bob\/thumbs@0\.0\.1 +nodejs:20 +0 +- +- +-$/);
    expect(lines.slice(3)).to.deep.equal(['2 instances answered in 41ms', 'peers down: 127.0.0.1:6000 (timed out after 2000ms)', '']);

    const json = await run('hub', 'search', 'resize', '--json');
    expect(JSON.parse(json.stdout)).to.deep.equal(JSON.parse(JSON.stringify(answer)));
  });

  it('search with no match says so', async () => {
    stub.on('GET /hub/v1/search', { status: 200, body: { results: [], peers: { asked: ['a'], answered: ['a'], down: [] }, tookMs: 3 } });
    const r = await run('hub', 'search', 'nothing');
    expect(r.stdout).to.equal("no published package matches 'nothing'\n1 instance answered in 3ms\n");
  });

  it('show: the REF goes to the own instance (with the key); metadata, figures, actions, examples and the visible code', async () => {
    stub.on(`GET ${A}/hub/show`, { status: 200, body: detail() });
    const r = await run('hub', 'show', REF);
    expect(r).to.deep.include({ code: 0, stderr: '' });
    expect(stub.seen[0]).to.deep.include({ query: { ref: REF } });
    expect(stub.seen[0]!.authorization).to.match(/^Basic /);
    const out = r.stdout;
    expect(out).to.match(new RegExp(`^package ${REF}\n`));
    expect(out).to.match(/\n {2}license +MIT\n/).and.match(new RegExp(`\n  digest +${DIGEST}\n`)).and.match(/\n {2}parameters +width \(required\): the width in pixels; apiKey \(bound\)\n/);
    expect(out).to.contain('figures (30 days)\n').and.match(/\n {2}invocations +12 from 2 namespaces\n {2}success +91.7%\n {2}p50 +34ms\n {2}examples +2\/2 passed/);
    expect(out).to.match(/\nactions\n {2}resize +nodejs:20 +parameters: width: the width in pixels\n/);
    expect(out).to.contain('examples\n  resize {"width":10} → expects {"width":10}\n');
    expect(out).to.contain('code of resize\n  function main(p) {\n    return { width: p.width };\n  }\n');
  });

  it('show of a package with hidden code prints no code; an unknown REF is the API\'s error (404 → exit 148)', async () => {
    stub.on(`GET ${A}/hub/show`, (req) => (req.query.ref === REF ? { status: 200, body: { ...detail(), codeVisible: false, actions: [{ name: 'resize', kind: 'nodejs:20' }] } } : undefined));
    const hidden = await run('hub', 'show', REF);
    expect(hidden.stdout).to.match(/\n {2}code +hidden by the publisher\n/).and.not.contain('code of');
    const missing = await run('hub', 'show', '127.0.0.1:1/x/y');
    expect(missing.code).to.equal(148);
    expect(missing.stderr).to.match(/^error: Unable to show 127\.0\.0\.1:1\/x\/y: The requested resource does not exist\./);
  });

  /** A genuine bundle's zip and digest; and the same zip with its code changed (the manifest kept). */
  const bundle = () => {
    const code = new TextEncoder().encode('function main(p) { return p }');
    const manifest = {
      format: HUB_FORMAT, ref: REF, package: { owner: 'alice', name: 'tools', version: '0.0.2', description: '', license: 'MIT', parameters: [], annotations: [] },
      actions: [{ name: 'echo', kind: 'nodejs:20', binary: false, limits: { timeout: 60000, memory: 256, logs: 10, concurrency: 1 }, annotations: [], parameters: [], file: 'actions/echo', sha256: sha256Hex(code) }],
      examples: [],
    } as Manifest;
    const digest = manifestDigest(manifest);
    return {
      digest,
      zip: Buffer.from(bundleZip({ manifest, files: { 'actions/echo': code }, digest })),
      tampered: Buffer.from(bundleZip({ manifest, files: { 'actions/echo': new TextEncoder().encode('function main() { return process.env }') }, digest })),
    };
  };

  it('get: checks the zip against the announced digest and saves it as NAME-VERSION.zip (or -o FILE); never overwrites a file', async () => {
    const { zip, digest } = bundle();
    stub.on(`GET ${A}/hub/get`, { status: 200, bytes: zip, headers: { 'content-type': 'application/zip', 'x-swirl-digest': digest } });
    const cwd = mkdtempSync(join(tmpdir(), 'swirl-hub-get-'));
    const r = await swirlInProcess(['hub', 'get', REF], env, cwd);
    expect(r).to.deep.include({ code: 0 });
    expect(readFileSync(join(cwd, 'tools-0.0.2.zip'))).to.deep.equal(zip);
    expect(r.stdout).to.equal(`ok: saved ${REF} to ${join(cwd, 'tools-0.0.2.zip')} (${zip.length} bytes; digest ${digest} checked)\n`);
    expect(r.stderr).to.equal(`downloading ${REF}…\n`);
    const again = await swirlInProcess(['hub', 'get', REF], env, cwd);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.contain('already exists');
    const named = await swirlInProcess(['hub', 'get', REF, '-o', 'mine.zip', '--json'], env, cwd);
    expect(JSON.parse(named.stdout)).to.deep.equal({ ref: REF, bytes: zip.length, digest, file: join(cwd, 'mine.zip') });
    expect(readFileSync(join(cwd, 'mine.zip'))).to.deep.equal(zip);
  });

  it('get: a zip that does not match its digest (code changed, or another digest announced) is refused, nothing saved', async () => {
    const { zip, tampered, digest } = bundle();
    const cwd = mkdtempSync(join(tmpdir(), 'swirl-hub-get-'));
    stub.on(`GET ${A}/hub/get`, { status: 200, bytes: tampered, headers: { 'content-type': 'application/zip', 'x-swirl-digest': digest } });
    const changed = await swirlInProcess(['hub', 'get', REF], env, cwd);
    expect(changed.code).to.equal(1);
    // the REF named once
    expect(changed.stderr).to.match(new RegExp(`^downloading .*…\\nerror: Unable to download ${REF}: digest mismatch for actions/echo: expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64}; nothing saved\\.\\n$`));
    const other = `sha256:${'0'.repeat(64)}`;
    stub.on(`GET ${A}/hub/get`, { status: 200, bytes: zip, headers: { 'content-type': 'application/zip', 'x-swirl-digest': other } });
    const announced = await swirlInProcess(['hub', 'get', REF], env, cwd);
    expect(announced.stderr).to.contain(`error: Unable to download ${REF}: digest mismatch: expected ${other}, got ${digest}; nothing saved.`);
    stub.on(`GET ${A}/hub/get`, { status: 200, bytes: zip, headers: { 'content-type': 'application/zip' } });
    expect((await swirlInProcess(['hub', 'get', REF], env, cwd)).stderr).to.contain('the instance did not say the package\'s digest');
    expect(existsSync(join(cwd, 'tools-0.0.2.zip'))).to.equal(false);
  });

  it('get refused by the publisher: the 403 message, no file', async () => {
    stub.on(`GET ${A}/hub/get`, { status: 403, body: { error: 'the publisher does not allow downloads of alice/tools', code: 'c'.repeat(32) } });
    const cwd = mkdtempSync(join(tmpdir(), 'swirl-hub-get-'));
    const r = await swirlInProcess(['hub', 'get', REF], env, cwd);
    expect(r.code).to.equal(403 % 256);
    expect(r.stderr).to.contain(`error: Unable to download ${REF}: the publisher does not allow downloads of alice/tools (code ${'c'.repeat(32)})`);
    expect(existsSync(join(cwd, 'tools-0.0.2.zip'))).to.equal(false);
  });

  const run1 = (over: Record<string, unknown> = {}) => ({
    action: 'resize',
    params: { width: 10 },
    expect: { width: 10 },
    passed: true,
    activation: { activationId: ID, response: { status: 'success', success: true, result: { width: 10 } }, duration: 34, logs: ['2026-01-01T00:00:00.000Z stdout: resizing'] },
    ...over,
  });

  it('test: runs the examples (no params sent); says what it waits for, then each run, its verdict and the clean-up', async () => {
    stub.on(`POST ${A}/hub/test`, { status: 200, body: { ref: REF, digest: DIGEST, runs: [run1(), run1({ params: { width: 3 }, expect: { width: 4 }, passed: false, activation: { ...run1().activation, response: { status: 'success', success: true, result: { width: 3 } } } })], cleanedUp: true } });
    const r = await run('hub', 'test', REF);
    expect(stub.seen[0]!.body).to.deep.equal({ ref: REF });
    // (an instance that answers JSON, not the steps: one line saying what it waits for)
    expect(r.stderr).to.equal(`testing ${REF}: its examples…\n`);
    expect(r.stdout.split('\n')).to.deep.equal([
      `tested ${REF} (${DIGEST})`,
      'run 1/2: resize {"width":10} → passed in 34ms',
      '    expected    {"width":10}',
      '    result      {"width":10}',
      `    activation  ${ID}`,
      '    | 2026-01-01T00:00:00.000Z stdout: resizing',
      'run 2/2: resize {"width":3} → FAILED in 34ms',
      '    expected    {"width":4}',
      '    result      {"width":3}',
      `    activation  ${ID}`,
      '    | 2026-01-01T00:00:00.000Z stdout: resizing',
      '1/2 examples passed',
      'cleaned up: the disposable namespace, its entities and records are removed',
      '',
    ]);
    // a failed example fails the command
    expect(r.code).to.equal(1);
  });

  it('test: asks for the steps (NDJSON), says each on stderr, then the usual output; --json prints the answer only', async () => {
    const answer = { ref: REF, digest: DIGEST, runs: [run1()], cleanedUp: true };
    const steps = [
      { step: 'fetching', ref: '127.0.0.1:41235/alice/tools' },
      { step: 'verified', ref: REF, digest: DIGEST },
      { step: 'deploying', ref: REF, namespace: 'hubtest-mk0-0123456789ab' },
      { step: 'running', run: 1, of: 1, action: 'resize' },
      { step: 'cleaning' },
    ];
    const ndjson = (last: unknown) => ({ status: 200, raw: [...steps, last].map((x) => JSON.stringify(x) + '\n').join(''), headers: { 'content-type': 'application/x-ndjson; charset=utf-8' } });
    stub.on(`POST ${A}/hub/test`, ndjson({ result: answer }));
    const r = await run('hub', 'test', REF);
    expect(r.code, r.stderr).to.equal(0);
    expect(stub.seen[0]!.accept).to.match(/^application\/x-ndjson\b/);
    expect(r.stderr.split('\n')).to.deep.equal([
      `testing ${REF}: its examples…`,
      'fetching 127.0.0.1:41235/alice/tools…',
      `verified ${REF} (${DIGEST})…`,
      'deploying it in the disposable namespace hubtest-mk0-0123456789ab…',
      'running 1/1: resize…',
      'cleaning up…',
      '',
    ]);
    expect(r.stdout).to.match(new RegExp(`^tested ${REF} \\(${DIGEST}\\)\nrun 1/1: resize {"width":10} → passed in 34ms\n`));
    expect(r.stdout).to.contain('1/1 examples passed\ncleaned up:');
    const j = await run('hub', 'test', REF, '--json');
    expect(j.code, j.stderr).to.equal(0);
    expect(JSON.parse(j.stdout)).to.deep.equal(answer);
    // failing after the steps began: the error line's message and code, exit non-zero
    stub.on(`POST ${A}/hub/test`, ndjson({ error: `refused ${REF}: digest mismatch: expected a, got b`, code: 'c'.repeat(32) }));
    const bad = await run('hub', 'test', REF);
    expect(bad.code).to.not.equal(0);
    expect(bad.stdout).to.equal('');
    expect(bad.stderr).to.contain(`cleaning up…\nerror: Unable to test ${REF}: refused ${REF}: digest mismatch: expected a, got b`).and.contain('c'.repeat(32));
  });

  it('test: each step reaches the caller as soon as the instance sends it, not with the answer', async () => {
    const seen: unknown[] = [];
    let reached!: () => void;
    const running = new Promise<void>((ok) => (reached = ok));
    const server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write('{"step":"fetching","ref":"h:1/a/b"}\n{"step":"running",');
      res.write('"run":1,"of":1,"action":"x"}\n');
      // the answer only once the client has shown the run: a client that waits for the end never gets it
      void running.then(() => res.end('{"result":{"ok":true}}\n'));
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    try {
      const client = new Client({ apihost: `http://127.0.0.1:${(server.address() as { port: number }).port}`, userAgent: 't' });
      const reply = await client.request('POST', '/x', {
        body: {},
        what: 'test',
        lines: (v) => {
          seen.push(v);
          if ((v as { step: string }).step === 'running') reached();
        },
      });
      expect(seen).to.deep.equal([{ step: 'fetching', ref: 'h:1/a/b' }, { step: 'running', run: 1, of: 1, action: 'x' }]);
      expect(reply.body).to.deep.equal({ ok: true });
    } finally {
      server.close();
    }
  });

  it('test -p k v --action NAME: sends the parameters (JSON values) and the action', async () => {
    stub.on(`POST ${A}/hub/test`, { status: 200, body: { ref: REF, digest: DIGEST, runs: [run1({ expect: undefined, passed: undefined })], cleanedUp: true } });
    const r = await run('hub', 'test', REF, '-p', 'width', '10', '-p', 'name', 'cat', '--action', 'resize');
    expect(r.code, r.stderr).to.equal(0);
    expect(stub.seen[0]!.body).to.deep.equal({ ref: REF, params: { width: 10, name: 'cat' }, action: 'resize' });
    expect(r.stdout).to.contain('run 1/1: resize {"width":10} → success in 34ms\n').and.not.contain('examples passed');
  });

  it('test: a run that could not be made says why, and fails the command', async () => {
    stub.on(`POST ${A}/hub/test`, { status: 200, body: { ref: REF, digest: DIGEST, namespace: 'hubtest-0123', runs: [run1({ passed: false, activation: { error: 'too many requests' } })], cleanedUp: true } });
    const r = await run('hub', 'test', REF);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.contain(`tested ${REF} (${DIGEST}) in the disposable namespace hubtest-0123\nrun 1/1: resize {"width":10} → FAILED: too many requests\n0/1 examples passed\n`);
  });

  it('install (--as): the ref and name sent; the origin and digest printed; a 409 is the API\'s message', async () => {
    const installed = { namespace: 'carol', name: 'imgs', version: '0.0.1', annotations: [{ key: 'hub-origin', value: REF }, { key: 'hub-digest', value: DIGEST }] };
    stub.on(`POST ${A}/hub/install`, (req) => (req.body.as === 'imgs' ? { status: 200, body: installed } : { status: 409, body: { error: 'package tools exists with another origin', code: 'c'.repeat(32) } }));
    const r = await run('hub', 'install', REF, '--as', 'imgs');
    expect(stub.seen[0]!.body).to.deep.equal({ ref: REF, as: 'imgs' });
    expect(r).to.deep.include({ code: 0, stdout: `ok: installed ${REF} as /carol/imgs (digest ${DIGEST})\n` });
    expect(r.stderr).to.contain(`installing ${REF}: fetching it and checking its digest…`);
    const conflict = await run('hub', 'install', REF);
    expect(stub.seen[1]!.body).to.deep.equal({ ref: REF });
    expect(conflict.code).to.equal(409 % 256);
    expect(conflict.stderr).to.contain(`error: Unable to install ${REF}: package tools exists with another origin`);
  });

  it('update: says from which version to which, or that it is up to date', async () => {
    stub.on(`POST ${A}/hub/update`, (req) => ({ status: 200, body: req.body.name === 'tools' ? { updated: true, from: '0.0.1', to: '0.0.2' } : { updated: false, from: '0.0.2', to: '0.0.2' } }));
    expect((await run('hub', 'update', 'tools')).stdout).to.equal('ok: updated tools from 0.0.1 to 0.0.2\n');
    expect((await run('hub', 'update', 'imgs')).stdout).to.equal('imgs is up to date (0.0.2)\n');
    expect(stub.seen.map((s) => s.body)).to.deep.equal([{ name: 'tools' }, { name: 'imgs' }]);
  });

  it('peers: this instance first, then each peer with who told of it', async () => {
    stub.on('GET /hub/v1/peers', { status: 200, body: { self: { id: '127.0.0.1:3', url: 'http://127.0.0.1:3' }, peers: [{ id: '127.0.0.1:2', url: 'http://127.0.0.1:2', via: 'config', seenAt: Date.now() - 1500 }, { id: '127.0.0.1:1', url: 'http://127.0.0.1:1', via: '127.0.0.1:2', seenAt: 0 }] } });
    const r = await run('hub', 'peers');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).to.match(/^Instance +URL +Via +Last seen$/);
    expect(lines[1]).to.match(/^127\.0\.0\.1:3 +http:\/\/127\.0\.0\.1:3 +this instance +-$/);
    expect(lines[2]).to.match(/^127\.0\.0\.1:2 +http:\/\/127\.0\.0\.1:2 +config +1\.5\d*s ago$/);
    expect(lines[3]).to.match(/^127\.0\.0\.1:1 +http:\/\/127\.0\.0\.1:1 +127\.0\.0\.1:2 +-$/);
    expect(stub.seen[0]!.authorization).to.equal(undefined);
  });

  it('action create --hub REF: an action of kind hub; hub:REF components of a sequence are kept as written; a bad REF is a usage error', async () => {
    stub.on(`PUT ${A}/actions/resize`, (req) => ({ status: 200, body: req.body }));
    stub.on(`PUT ${A}/actions/seq`, (req) => ({ status: 200, body: req.body }));
    const fn = '127.0.0.1:41235/alice/tools/resize@0.0.2';
    expect((await run('action', 'create', 'resize', '--hub', fn)).code).to.equal(0);
    expect(stub.seen[0]!.body).to.deep.equal({ exec: { kind: 'hub', ref: fn } });
    expect((await run('action', 'create', 'seq', '--sequence', `first,hub:${fn}`)).code).to.equal(0);
    expect(stub.seen[1]!.body.exec).to.deep.equal({ kind: 'sequence', components: ['/_/first', `hub:${fn}`] });
    const bad = await run('action', 'create', 'x', '--hub', REF);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain(`invalid hub REF '${REF}': names a package; a function REF`);
    const both = await run('action', 'create', 'x', '--hub', fn, '--sequence', 'a');
    expect(both.code).to.equal(2);
    expect(stub.seen).to.have.length(2);
  });
});

describe('waiting on the hub', () => {
  it('progress: a spinner on a terminal (no extra line), one line on stderr elsewhere (a pipe, CI), the work\'s value either way', async () => {
    const frames: string[] = [];
    const tty = Object.assign(capture(true), { cursorTo: () => true, moveCursor: () => true, clearLine: () => frames.push('<clear>') });
    // yocto-spinner also reads the process's own CI variable (set when this suite runs in CI)
    const ciVar = process.env.CI;
    delete process.env.CI;
    const drawn = await new Cli({ stdout: capture(), stderr: tty, env: {}, cwd: '/' })
      .progress('testing x', () => new Promise((ok) => setTimeout(() => ok(1), 250)))
      .finally(() => {
        if (ciVar !== undefined) process.env.CI = ciVar;
      });
    expect(drawn).to.equal(1);
    expect(tty.text()).to.contain('testing x').and.not.contain('testing x…\n');
    expect(frames).to.include('<clear>');
    for (const [stderr, env] of [[capture(false), {}], [Object.assign(capture(true), { cursorTo: () => true, moveCursor: () => true, clearLine: () => true }), { CI: 'true' }]] as const) {
      expect(await new Cli({ stdout: capture(), stderr, env, cwd: '/' }).progress('testing x', async () => 2)).to.equal(2);
      expect(stderr.text()).to.equal('testing x…\n');
    }
  });
});

describe('hub formatting', () => {
  it('rates: whole percents, one decimal near 0 and 100, - when nothing ran', () => {
    expect([rate(1), rate(0), rate(0.5), rate(0.995), rate(0.05), rate(null)]).to.deep.equal(['100%', '0%', '50%', '99.5%', '5.0%', '-']);
  });

  it('zip names from REFs: NAME-VERSION.zip, NAME.zip without a version, from a URL REF too, nothing that leaves the folder', () => {
    expect(zipName(REF)).to.equal('tools-0.0.2.zip');
    expect(zipName('127.0.0.1:1/alice/tools')).to.equal('tools.zip');
    expect(zipName('http://127.0.0.1:1/alice/tools@1.0.0')).to.equal('tools-1.0.0.zip');
    expect(zipName('h:1/a/..@../../x')).to.equal('..-.._.._x.zip');
  });

  it('a search table lines its columns up whatever the widths', () => {
    const lines = searchTable([summary(), summary({ ref: 'h:1/a/b', kinds: ['python:3.11', 'nodejs:20'] })]);
    const kinds = lines[0]!.indexOf('Kinds');
    expect(lines[1]!.indexOf('nodejs:20')).to.equal(kinds);
    expect(lines[2]!.indexOf('python:3.11,nodejs:20')).to.equal(kinds);
    expect(lines[2]!.indexOf('12')).to.equal(lines[0]!.indexOf('Invocations'));
  });

  it('show of a package without figures yet nor examples: dashes and "none", no examples section', () => {
    const d = { ...detail(), examples: [], figures: { invocations30d: 0, namespaces30d: 0, successRate: null, p50Ms: null, examples: null } };
    const out = showLines(d).join('\n');
    expect(out).to.match(/invocations +0 from 0 namespaces\n {2}success +-\n {2}p50 +-\n {2}examples +none/);
    expect(out).to.not.contain('\nexamples\n');
  });
});
