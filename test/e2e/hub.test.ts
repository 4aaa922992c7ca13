import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { type Browser, chromium } from 'playwright-core';
import { readGuestKey } from '../../common/guest-key.ts';
import { type Bundle, bundleZip, HUB_FORMAT, type Manifest, manifestDigest, readBundle, sha256Hex } from '../../common/hub/manifest.ts';
import { type CliRun, swirl } from '../support/cli.ts';
import { freePort, run, type Spawned } from '../support/process.ts';
import { call } from '../support/server.ts';

const exec = promisify(execFile);

/** Where the dashboard's screenshots go (as test/e2e/dashboard.test.ts keeps them; git-ignored). */
const SCREENSHOTS = resolve('test-results', 'dashboard');
/** What a user saw of the CLI in this run, for a person to read (git-ignored). */
const TRANSCRIPT = resolve('test-results', 'hub', 'transcript.txt');

interface Instance {
  label: string;
  dir: string;
  port: number;
  /** `http://127.0.0.1:PORT`: the API host, and the hub URL peers use. */
  base: string;
  /** `127.0.0.1:PORT`: the instance id in REFs. */
  id: string;
  key: string;
  server?: Spawned;
}

/**
 * The Function Hub of issue 20 on three real instances (`npm start` each, own port and data
 * directory, actions as local processes): A publishes; B's peer is A, C's peer is B (and a
 * fake peer F, a plain HTTP server in this test, is B's too). The CLI is the real `swirl`.
 */
describe('Function Hub across three instances (npm start ×3, swirl CLI)', function () {
  this.timeout(240_000);
  const instances: Instance[] = [];
  let A: Instance;
  let B: Instance;
  let C: Instance;
  let fake: FakePeer;
  let fakeId: string;
  const transcript: string[] = [];
  const PKG = 'imagetools';
  let ref: string;

  const start = async (inst: Instance, peers: string[]) => {
    inst.server = run('npm', ['start'], {
      SWIRL_DATA_DIR: inst.dir,
      SWIRL_PORT: String(inst.port),
      SWIRL_HOST: '127.0.0.1',
      SWIRL_INVOKER_ID: String(1000 + Math.floor(Math.random() * 9000)),
      SWIRL_CONTAINER_FACTORY: 'process',
      SWIRL_HUB_PEERS: peers.join(','),
      SWIRL_HUB_TIMEOUT_MS: '2500',
      SWIRL_LOG_LEVEL: 'warn',
    });
    await inst.server.waitFor(/api: (\S+)/, 90_000);
    inst.key = readGuestKey(inst.dir)!;
  };
  const stop = async (inst: Instance) => {
    inst.server?.kill('SIGTERM');
    await inst.server?.exited;
    inst.server = undefined;
  };
  /** The real `swirl` against an instance, as its guest; recorded in the transcript as a user sees it. */
  const cli = async (inst: Instance, args: string[], shown = true): Promise<CliRun> => {
    const r = await swirl(args, { __OW_API_HOST: inst.base, __OW_API_KEY: inst.key, WSK_CONFIG_FILE: join(inst.dir, 'wskprops') });
    if (shown) {
      transcript.push(`$ swirl ${args.map((a) => (/[\s{}"]/.test(a) ? `'${a}'` : a)).join(' ')}    # on ${inst.label}`, ...`${r.stderr}${r.stdout}`.replace(/\n$/, '').split('\n'), '');
    }
    return r;
  };
  const ok = (r: CliRun): string => {
    expect(r.code, `exit ${r.code}\n${r.stderr}\n${r.stdout}`).to.equal(0);
    return r.stdout;
  };
  const admin = async (inst: Instance, args: string[]) => {
    const p = run('npm', ['run', '--silent', 'admin', '--', ...args], { SWIRL_DATA_DIR: inst.dir, SWIRL_LOG_LEVEL: 'silent' });
    expect(await p.exited, p.stderr()).to.equal(0);
    return p.stdout().trim();
  };

  before(async function () {
    this.timeout(300_000);
    // the three `npm start` would otherwise each build dist/ at once
    await exec('npm', ['run', 'build'], { maxBuffer: 16 * 1024 * 1024 });
    fake = await new FakePeer().start();
    fakeId = fake.id;
    for (const label of ['A', 'B', 'C']) {
      const port = await freePort();
      instances.push({ label, dir: mkdtempSync(join(tmpdir(), `swirl-e2e-hub-${label}-`)), port, base: `http://127.0.0.1:${port}`, id: `127.0.0.1:${port}`, key: '' });
    }
    [A, B, C] = instances as [Instance, Instance, Instance];
    await Promise.all([start(A, []), start(B, [A.base, fake.url]), start(C, [B.base])]);
  });
  after(async () => {
    await Promise.all(instances.map((i) => stop(i)));
    await fake?.stop();
    for (const i of instances) rmSync(i.dir, { recursive: true, force: true });
    mkdirSync(resolve(TRANSCRIPT, '..'), { recursive: true });
    writeFileSync(TRANSCRIPT, transcript.join('\n'));
    console.log(`      transcript: ${TRANSCRIPT}`);
  });

  it('A publishes a package with the CLI (annotations), and it is invoked for real from two namespaces', async () => {
    const code = 'function main(p) { console.log("area of " + p.width + "x" + p.height); return { area: p.width * p.height } }';
    const file = join(A.dir, 'area.js');
    writeFileSync(file, code);
    const examples = JSON.stringify([{ action: 'area', params: { width: 3, height: 4 }, expect: { area: 12 } }]);
    const described = JSON.stringify([{ name: 'width', description: 'width in pixels', required: true }, { name: 'height', description: 'height in pixels', required: true }]);
    // the hub metadata in an annotation file; publishing is one more annotation (an update replaces the annotations, as wsk's does)
    const annotations = join(A.dir, 'hub.json');
    writeFileSync(annotations, JSON.stringify({ description: 'Image tools: the area of a picture', 'hub-license': 'MIT', 'hub-code': 'visible', 'hub-download': true, 'hub-examples': JSON.parse(examples), parameters: JSON.parse(described) }));
    ok(await cli(A, ['package', 'create', PKG, '--shared', 'yes', '-p', 'apiSecret', 'never-published-s3cret', '-A', annotations]));
    ok(await cli(A, ['action', 'create', `${PKG}/area`, file, '-a', 'parameters', described]));
    ok(await cli(A, ['package', 'update', PKG, '-A', annotations, '-a', 'hub-publish', 'true']));
    const bob = await admin(A, ['user', 'create', 'bob']);
    for (let i = 0; i < 4; i++) ok(await cli(A, ['action', 'invoke', `${PKG}/area`, '-r', '-p', 'width', String(i + 1), '-p', 'height', '2'], false));
    const byBob = await call('POST', `${A.base}/api/v1/namespaces/guest/actions/${PKG}/area?blocking=true&result=true`, { auth: bob, body: { width: 5, height: 5 } });
    expect(byBob.status).to.equal(200);
    expect(byBob.body).to.deep.equal({ area: 25 });
    // records are written in batches: the figures count them once stored
    for (const [auth, n] of [[A.key, 4], [bob, 1]] as const) {
      const deadline = Date.now() + 10_000;
      while ((await call('GET', `${A.base}/api/v1/namespaces/_/activations?count=true`, { auth })).body.activations < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    }
  });

  it('C finds it through B (a peer of a peer): the REF, the figures; and the latency of a search across the three', async () => {
    const r = await cli(C, ['hub', 'search', 'area']);
    const out = ok(r);
    const version = JSON.parse(ok(await cli(A, ['package', 'get', PKG], false)).replace(/^[^{]*/, '')).version as string;
    ref = `${A.id}/guest/${PKG}@${version}`;
    expect(out.split('\n')[0]).to.match(/^REF +Description +Kinds +Invocations +Success +p50 +Examples$/);
    const row = out.split('\n').find((l) => l.startsWith(ref));
    expect(row, out).to.match(/ nodejs:20 +5 +100% +\d+(\.\d+)?m?s +/);
    // C's peers: B as configured, A and F learned from B
    const peers = JSON.parse(ok(await cli(C, ['hub', 'peers', '--json'])));
    expect(peers.peers.map((p: { id: string; via: string }) => [p.id, p.via]).sort()).to.deep.equal([[A.id, B.id], [B.id, 'config'], [fakeId, B.id]].sort());
    ok(await cli(C, ['hub', 'peers']));

    // latency: a term not asked before (no cache), then the same again (C's cache)
    const timed = async (q: string) => {
      const t0 = performance.now();
      const res = await call('GET', `${C.base}/hub/v1/search?q=${q}`);
      return { wall: performance.now() - t0, body: res.body };
    };
    const cold = await timed('picture');
    expect(cold.body.results.map((s: { ref: string }) => s.ref)).to.include(ref);
    expect(cold.body.peers.down).to.deep.equal([]);
    expect([...cold.body.peers.answered].sort()).to.include.members([A.id, B.id, C.id]);
    const warm = await timed('picture');
    // five more terms never asked (no cache anywhere): the spread of an uncached fan-out
    const walls: number[] = [cold.wall];
    for (const q of ['area', 'pixels', 'image', 'tools', 'width'].map((w) => `${w}-${Date.now()}`)) walls.push((await timed(q)).wall);
    walls.sort((x, y) => x - y);
    const line = `search from C across C, B, A (+ the fake peer F): uncached median ${walls[3]!.toFixed(0)} ms (min ${walls[0]!.toFixed(0)}, max ${walls.at(-1)!.toFixed(0)}, n=${walls.length}; tookMs of the first ${cold.body.tookMs}), cached ${warm.wall.toFixed(0)} ms`;
    console.log(`      ${line}`);
    transcript.push(`# ${line}`, '');
  });

  it('C shows it with the figures of the real invocations (5 from 2 namespaces), its examples passed, its code; never a parameter value', async () => {
    // A runs the examples in the background once the package is first asked for: wait for their result
    const deadline = Date.now() + 30_000;
    let detail = JSON.parse(ok(await cli(C, ['hub', 'show', ref, '--json'], false)));
    while (!detail.figures.examples && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      detail = JSON.parse(ok(await cli(C, ['hub', 'show', ref, '--json'], false)));
    }
    expect(detail.figures.examples).to.include({ total: 1, passed: 1 });
    expect(JSON.stringify(detail)).to.not.contain('never-published-s3cret');
    const out = ok(await cli(C, ['hub', 'show', ref]));
    expect(out).to.match(new RegExp(`^package ${ref.replace(/\./g, '\\.')}\n`));
    expect(out).to.match(/\n {2}invocations +5 from 2 namespaces\n {2}success +100%\n {2}p50 +\d+(\.\d+)?m?s\n/);
    expect(out).to.match(/\n {2}license +MIT\n/).and.contain('width (required): width in pixels').and.contain('apiSecret (bound)');
    expect(out).to.contain('code of area\n  function main(p)');
    expect(out).to.match(/\n {2}examples +1\/1 passed/);
  });

  it('the dashboard on C: the hub page searches, shows the result with its figures, and opens it; a peer that does not answer is named (headless Chromium)', async () => {
    let browser: Browser | undefined;
    mkdirSync(SCREENSHOTS, { recursive: true });
    try {
      browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-background-networking'] });
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(`${C.base}/dashboard#hub`);
      await page.fill('#key', C.key);
      await page.click('#login-form button');
      await page.locator('#hub-panel').waitFor();
      expect(await page.locator('#actions-panel').isHidden()).to.equal(true);
      // F stops answering: the page names it
      fake.hang = true;
      await page.fill('#hub-q', 'image');
      await page.click('#hub-form button');
      const row = page.locator(`#hub-results tr[data-ref="${ref}"]`);
      await row.waitFor({ timeout: 15_000 });
      const cells = await row.locator('td').allTextContents();
      expect(cells.slice(0, 5)).to.deep.equal([ref, 'Image tools: the area of a picture', 'nodejs:20', '5', '2']);
      expect(cells[5]).to.equal('100%');
      expect(await page.textContent('#hub-down')).to.contain(`peers down: ${fakeId} (`);
      await page.screenshot({ path: join(SCREENSHOTS, 'hub-01-search.png'), fullPage: true });
      await row.click();
      await page.locator('#hub-detail pre.code[data-action="area"]').waitFor({ timeout: 15_000 });
      expect(await page.textContent('#hub-detail h3')).to.equal(ref);
      expect(await page.textContent('#hub-detail')).to.contain('5 from 2 namespaces').and.contain('1/1 passed');
      await page.screenshot({ path: join(SCREENSHOTS, 'hub-02-package.png'), fullPage: true });
      expect(problems).to.deep.equal([]);
    } finally {
      fake.hang = false;
      await browser?.close();
    }
  });

  it('C tests it in a disposable namespace: the example passes, and nothing is left on C (no subject, entity or record)', async () => {
    const subjectsBefore = JSON.parse(await admin(C, ['user', 'list', '--json']));
    const r = await cli(C, ['hub', 'test', ref]);
    const out = ok(r);
    expect(r.stderr).to.contain(`testing ${ref}`);
    // each step as the instance took it, in order
    expect(r.stderr).to.match(/\nfetching [^\n]+…\nverified [^\n]+ \(sha256:[0-9a-f]{64}\)…\ndeploying it in the disposable namespace hubtest-[0-9a-z]+-[0-9a-f]{12}…\nrunning 1\/1: area…\ncleaning up…\n/);
    expect(out).to.match(/run 1\/1: area \{"height":4,"width":3\} → passed/).and.contain('1/1 examples passed').and.contain('cleaned up');
    const answer = JSON.parse(ok(await cli(C, ['hub', 'test', ref, '-p', 'width', '6', '-p', 'height', '7', '--action', 'area', '--json'])));
    expect(answer.runs[0].activation.response.result).to.deep.equal({ area: 42 });
    expect(answer.cleanedUp).to.equal(true);
    // the store's own account: the same subjects as before, and C's guest has no entity or record of it
    expect(JSON.parse(await admin(C, ['user', 'list', '--json']))).to.deep.equal(subjectsBefore);
    for (const what of ['packages', 'actions', 'activations']) {
      const listed = await call('GET', `${C.base}/api/v1/namespaces/_/${what}`, { auth: C.key });
      expect(listed.body, what).to.deep.equal([]);
    }
  });

  it('C installs it (--as), gets its zip, runs its function on demand (an action, a sequence component); A stops, and the installed copy and the cached function still run on C', async () => {
    const out = ok(await cli(C, ['hub', 'install', ref, '--as', 'mytools']));
    expect(out).to.match(new RegExp(`^ok: installed ${ref.replace(/\./g, '\\.')} as /guest/mytools`));
    const pkg = (await call('GET', `${C.base}/api/v1/namespaces/_/packages/mytools`, { auth: C.key })).body;
    const ann = Object.fromEntries(pkg.annotations.map((a: { key: string; value: unknown }) => [a.key, a.value]));
    expect(ann['hub-origin']).to.equal(ref);
    expect(ann['hub-digest']).to.match(/^sha256:[0-9a-f]{64}$/);
    expect(JSON.stringify(pkg)).to.not.contain('never-published-s3cret');
    ok(await cli(C, ['hub', 'update', 'mytools']));
    // the zip itself, checked by the CLI against the digest C announced (C checked it against A's)
    const zipFile = join(C.dir, 'imagetools.zip');
    expect(ok(await cli(C, ['hub', 'get', ref, '-o', zipFile]))).to.contain(`digest ${ann['hub-digest']} checked`);
    expect(readBundle(new Uint8Array(readFileSync(zipFile)), ann['hub-digest'] as string).manifest.actions.map((a) => a.name)).to.deep.equal(['area']);

    // fetch on demand: an action and a sequence component naming the function by REF, fetched and checked on the first invoke
    const fnRef = ref.replace('@', '/area@');
    ok(await cli(C, ['action', 'create', 'area', '--hub', fnRef]));
    ok(await cli(C, ['action', 'create', 'inseq', '--sequence', `hub:${fnRef}`]));
    expect(JSON.parse(ok(await cli(C, ['action', 'invoke', 'area', '-r', '-p', 'width', '2', '-p', 'height', '3'])))).to.deep.equal({ area: 6 });

    await stop(A);
    const r = await cli(C, ['action', 'invoke', 'mytools/area', '-r', '-p', 'width', '8', '-p', 'height', '8']);
    expect(JSON.parse(ok(r))).to.deep.equal({ area: 64 });
    // the on-demand copy is cached by version: it runs with A gone, as an action and as a sequence's component
    expect(JSON.parse(ok(await cli(C, ['action', 'invoke', 'area', '-r', '-p', 'width', '4', '-p', 'height', '5'])))).to.deep.equal({ area: 20 });
    expect(JSON.parse(ok(await cli(C, ['action', 'invoke', 'inseq', '-r', '-p', 'width', '1', '-p', 'height', '9'])))).to.deep.equal({ area: 9 });
  });

  it('a peer down mid-search is named in the answer (A stopped; F hanging past the timeout), the others still answer', async () => {
    fake.hang = true;
    try {
      const out = ok(await cli(C, ['hub', 'search', 'tools']));
      const down = out.split('\n').find((l) => l.startsWith('peers down: '));
      expect(down, out).to.contain(`${A.id} (`).and.contain(`${fakeId} (`);
      const answer = JSON.parse(ok(await cli(C, ['hub', 'search', 'fresh-term', '--json'], false)));
      expect(answer.peers.answered).to.include.members([B.id, C.id]);
      expect(answer.peers.down.map((d: { id: string }) => d.id)).to.include.members([A.id, fakeId]);
    } finally {
      fake.hang = false;
    }
  });

  it('fetch on demand checks the digest: a tampered download from F is refused, nothing is created or cached', async () => {
    const fnRef = `${fakeId}/evil/tools/echo@0.0.1`;
    ok(await cli(C, ['action', 'create', 'evil', '--hub', fnRef]));
    const r = await cli(C, ['action', 'invoke', 'evil', '-r']);
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.match(/digest mismatch/);
    expect(fake.downloads).to.be.greaterThan(0);
    // refused again on the next invoke: nothing was cached
    const again = await cli(C, ['action', 'invoke', 'evil', '-r'], false);
    expect(again.stderr).to.match(/digest mismatch/);
    // and `hub install` of the tampered package is refused the same way, creating nothing
    const install = await cli(C, ['hub', 'install', `${fakeId}/evil/tools@0.0.1`]);
    expect(install.code).to.not.equal(0);
    expect(install.stderr).to.match(/digest mismatch/);
    expect((await call('GET', `${C.base}/api/v1/namespaces/_/packages/tools`, { auth: C.key })).status).to.equal(404);
  });

  it('prints what a user saw', () => {
    console.log(transcript.map((l) => `      ${l}`).join('\n'));
  });
});

/**
 * A hub peer that lies: its catalog announces a package with the digest of a genuine bundle,
 * its download serves that bundle with the action's code changed (the manifest kept). It can
 * also hang (a peer that stops answering mid-search).
 */
class FakePeer {
  private server?: Server;
  url = '';
  id = '';
  hang = false;
  downloads = 0;
  private genuine!: Bundle;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const path = new URL(req.url!, 'http://x').pathname;
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (path === '/hub/v1/peers') return json(200, { self: { id: this.id, url: this.url }, peers: [] });
      if (this.hang) return; // never answers
      if (path === '/hub/v1/catalog') return json(200, { instance: { id: this.id, url: this.url }, packages: [this.summary()] });
      if (path === '/hub/v1/packages/evil/tools') return json(200, { ...this.summary(), actions: [{ name: 'echo', kind: 'nodejs:20', parameters: [], annotations: [], limits: {} }], examples: [] });
      if (path === '/hub/v1/packages/evil/tools/download') {
        this.downloads++;
        const tampered = { ...this.genuine, files: { 'actions/echo': new TextEncoder().encode('function main() { return { stolen: process.env } }') } };
        res.writeHead(200, { 'content-type': 'application/zip', 'x-swirl-digest': this.genuine.digest });
        return res.end(Buffer.from(bundleZip(tampered)));
      }
      json(404, { error: 'The requested resource does not exist.', code: '0'.repeat(32) });
    });
    await new Promise<void>((ok) => this.server!.listen(0, '127.0.0.1', ok));
    const port = (this.server.address() as { port: number }).port;
    this.url = `http://127.0.0.1:${port}`;
    this.id = `127.0.0.1:${port}`;
    const code = new TextEncoder().encode('function main(p) { return p }');
    const manifest: Manifest = {
      format: HUB_FORMAT,
      ref: `${this.id}/evil/tools@0.0.1`,
      package: { owner: 'evil', name: 'tools', version: '0.0.1', description: 'tools you can trust', license: 'MIT', parameters: [], annotations: [] },
      actions: [{ name: 'echo', kind: 'nodejs:20', binary: false, limits: { timeout: 60000, memory: 256, logs: 10, concurrency: 1 }, annotations: [], parameters: [], file: 'actions/echo', sha256: sha256Hex(code) }],
      examples: [],
    } as Manifest;
    this.genuine = { manifest, files: { 'actions/echo': code }, digest: manifestDigest(manifest) };
    return this;
  }

  private summary() {
    return {
      ref: `${this.id}/evil/tools@0.0.1`, instance: this.id, owner: 'evil', name: 'tools', version: '0.0.1', description: 'tools you can trust', kinds: ['nodejs:20'], license: 'MIT',
      digest: this.genuine.digest, actions: ['echo'], parameters: [], codeVisible: false, downloadable: true,
      figures: { invocations30d: 0, namespaces30d: 0, successRate: null, p50Ms: null, examples: null }, updated: Date.now(),
    };
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((ok) => (this.server ? this.server.close(() => ok()) : ok()));
  }
}
