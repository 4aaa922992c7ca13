import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { LOG_SENTINEL, PROXY_REHEARSE_ENV, PROXY_TOKEN_ENV } from '../../common/container.ts';
import { count, LocalProxy, post, zipBase64 } from '../support/runtime.ts';

/**
 * The runtime proxies as local processes (what the process factory runs, and what the
 * images run): the protocol of /init and /run for every kind.
 */

/** What every kind's test action does, written in that kind's language. */
interface KindCase {
  kind: string;
  /** Logs "to stdout" / "to stderr", returns {params, env} with the __OW_* variables and X (from the init env). */
  echo: Record<string, unknown>;
  /** Fails to load. */
  badInit: Record<string, unknown>;
  badInitError: RegExp;
  /** Fails while running (throws, or exits non-zero). */
  fails: Record<string, unknown>;
  failsError: RegExp;
  /** Returns something other than a JSON object. */
  nonObject: Record<string, unknown>;
  /** What `fails` leaves in its logs. */
  failsLog: RegExp;
  /** Writes "before the deadline" to stderr, then does not answer for 30 s. */
  hangs: Record<string, unknown>;
}

const OW_VARS = ['__OW_NAMESPACE', '__OW_ACTION_NAME', '__OW_ACTIVATION_ID', '__OW_DEADLINE', '__OW_TRANSACTION_ID', '__OW_API_KEY', 'X'];

const stdioEcho = `#!/bin/sh
read -r params
echo "to stdout"
echo "to stderr" >&2
printf '{"params": %s, "env": {' "$params"
sep=""
for v in ${OW_VARS.join(' ')}; do
  eval "val=\\\${$v-}"
  [ -n "$val" ] && printf '%s"%s": "%s"' "$sep" "$v" "$val" && sep=", "
done
printf '}}\\n'
`;

const KINDS: KindCase[] = [
  {
    kind: 'nodejs:20',
    echo: {
      code: `function main(params) {
  console.log('to stdout');
  console.error('to stderr');
  const env = {};
  for (const k of ${JSON.stringify(OW_VARS)}) if (process.env[k] !== undefined) env[k] = process.env[k];
  return { params, env };
}`,
    },
    badInit: { code: 'function main( {' },
    badInitError: /^Initialization has failed due to: SyntaxError/,
    fails: { code: 'function main() { throw new Error("boom") }' },
    failsError: /^An error has occurred: Error: boom$/,
    nonObject: { code: 'function main() { return [1, 2] }' },
    failsLog: /stderr: Error: boom$/,
    hangs: { code: 'function main() { console.error("before the deadline"); return new Promise((ok) => setTimeout(ok, 30000)) }' },
  },
  {
    kind: 'python:3',
    echo: {
      code: `import os, sys
def main(params):
    print("to stdout")
    print("to stderr", file=sys.stderr)
    return {"params": params, "env": {k: os.environ[k] for k in ${JSON.stringify(OW_VARS)} if k in os.environ}}
`,
    },
    badInit: { code: 'def main(params:\n  return {}' },
    badInitError: /^Initialization has failed due to: SyntaxError/,
    fails: { code: 'def main(params):\n    raise ValueError("boom")\n' },
    failsError: /^An error has occurred: ValueError: boom$/,
    nonObject: { code: 'def main(params):\n    return "text"\n' },
    failsLog: /stderr: ValueError: boom$/,
    hangs: { code: 'import sys, time\ndef main(params):\n    print("before the deadline", file=sys.stderr)\n    time.sleep(30)\n    return {}\n' },
  },
  {
    kind: 'stdio',
    echo: { code: stdioEcho },
    badInit: { code: 'no #! line here' },
    badInitError: /^Initialization has failed due to: the executable is neither a script/,
    fails: { code: '#!/bin/sh\necho "partial output"\nexit 3\n' },
    failsError: /^An error has occurred: the executable exited with code 3$/,
    nonObject: { code: '#!/bin/sh\necho 42\n' },
    failsLog: /stdout: partial output$/,
    hangs: { code: '#!/bin/sh\necho "before the deadline" >&2\nsleep 30\n' },
  },
];

for (const c of KINDS) {
  describe(`runtime proxy ${c.kind} (local process)`, function () {
    this.timeout(20_000);
    let proxy: LocalProxy;
    afterEach(async () => proxy?.stop());

    it('inits once, runs with the params, logs to both streams and ends each activation with the sentinel on both', async () => {
      proxy = await LocalProxy.start(c.kind);
      expect(await proxy.init({ name: 'echo', main: 'main', ...c.echo, env: { X: 'from init' } })).to.deep.equal({ status: 200, body: { ok: true } });
      for (let i = 1; i <= 2; i++) {
        const res = await proxy.run({ n: i, text: 'héllo' });
        expect(res.status).to.equal(200);
        expect(res.body.params).to.deep.equal({ n: i, text: 'héllo' });
        const out = await proxy.sentinels(i);
        expect(count(out.stdout, LOG_SENTINEL), 'stdout sentinels').to.equal(i);
        expect(count(out.stderr, LOG_SENTINEL), 'stderr sentinels').to.equal(i);
      }
      const { stdout, stderr } = await proxy.sentinels(2);
      // the action's lines, each followed by the end of its activation, and nothing from the proxy itself
      expect(stdout).to.equal(`to stdout\n${LOG_SENTINEL}\nto stdout\n${LOG_SENTINEL}\n`);
      expect(stderr).to.equal(`to stderr\n${LOG_SENTINEL}\nto stderr\n${LOG_SENTINEL}\n`);
    });

    it('sets the __OW_* variables per run, __OW_API_KEY only when the run carries a key, and the init env', async () => {
      proxy = await LocalProxy.start(c.kind);
      await proxy.init({ ...c.echo, env: { X: 'from init' } });
      const deadline = String(Date.now() + 5000);
      const withKey = await proxy.run({}, { namespace: 'ns1', action_name: '/ns1/act', activation_id: 'id-1', transaction_id: 'tid-1', deadline, api_key: 'uuid:key' });
      expect(withKey.body.env).to.deep.equal({
        __OW_NAMESPACE: 'ns1',
        __OW_ACTION_NAME: '/ns1/act',
        __OW_ACTIVATION_ID: 'id-1',
        __OW_DEADLINE: deadline,
        __OW_TRANSACTION_ID: 'tid-1',
        __OW_API_KEY: 'uuid:key',
        X: 'from init',
      });
      const withoutKey = await proxy.run({}, { activation_id: 'id-2' });
      expect(withoutKey.body.env.__OW_ACTIVATION_ID).to.equal('id-2');
      expect(withoutKey.body.env).to.not.have.property('__OW_API_KEY');
    });

    it('refuses a second init and a run before init with 403', async () => {
      proxy = await LocalProxy.start(c.kind);
      expect(await proxy.run({})).to.deep.equal({ status: 403, body: { error: 'Cannot invoke an uninitialized action.' } });
      expect((await proxy.init(c.echo)).status).to.equal(200);
      expect(await proxy.init(c.echo)).to.deep.equal({ status: 403, body: { error: 'Cannot initialize the action more than once.' } });
      expect((await proxy.run({ a: 1 })).status).to.equal(200);
    });

    it('answers a failed init with 502 and the reason, and marks the end of its logs', async () => {
      proxy = await LocalProxy.start(c.kind);
      const res = await proxy.init(c.badInit);
      expect(res.status).to.equal(502);
      expect(res.body.error).to.match(c.badInitError);
      const out = await proxy.sentinels(1);
      expect(count(out.stdout, LOG_SENTINEL)).to.equal(1);
      expect(count(out.stderr, LOG_SENTINEL)).to.equal(1);
      expect((await proxy.run({})).status).to.equal(403);
    });

    it('answers a failing run with 502 and keeps serving', async () => {
      proxy = await LocalProxy.start(c.kind);
      await proxy.init(c.fails);
      const res = await proxy.run({});
      expect(res.status).to.equal(502);
      expect(res.body.error).to.match(c.failsError);
      expect((await proxy.run({})).status).to.equal(502);
      const out = await proxy.sentinels(2);
      expect(count(out.stderr, LOG_SENTINEL)).to.equal(2);
    });

    it('answers a result that is not a JSON object with 502', async () => {
      proxy = await LocalProxy.start(c.kind);
      await proxy.init(c.nonObject);
      expect(await proxy.run({})).to.deep.equal({ status: 502, body: { error: 'The action did not return a dictionary.' } });
    });

    it('asked for logs with answers (x-swirl-logs), answers with each activation\'s own lines, stamped, and writes nothing to its streams', async () => {
      proxy = await LocalProxy.start(c.kind);
      const init = await proxy.initInline({ ...c.echo, env: { X: 'from init' } });
      expect(init).to.deep.include({ status: 200, body: { ok: true }, logs: [], truncated: false });
      for (let i = 1; i <= 2; i++) {
        const before = new Date().toISOString();
        const res = await proxy.runInline({ n: i });
        expect(res.status).to.equal(200);
        expect(res.body.params).to.deep.equal({ n: i });
        expect(res.truncated).to.equal(false);
        // one line per stream (a child's two pipes may arrive in either order)
        expect(res.logs.map((l) => l.slice(25)).sort()).to.deep.equal(['stderr: to stderr', 'stdout: to stdout']);
        for (const line of res.logs) expect(line.slice(0, 24) >= before && line.slice(0, 24) <= new Date().toISOString(), line).to.equal(true);
      }
      await new Promise((ok) => setTimeout(ok, 100));
      expect(proxy.proc.stdout() + proxy.proc.stderr(), 'no line and no sentinel on the streams').to.equal('');
    });

    it('asked for logs with answers, a failing run answers with what it wrote', async () => {
      proxy = await LocalProxy.start(c.kind);
      await proxy.initInline(c.fails);
      const res = await proxy.runInline({});
      expect(res.status).to.equal(502);
      expect(res.body.error).to.match(c.failsError);
      expect(res.logs.some((l) => c.failsLog.test(l)), res.logs.join('\n')).to.equal(true);
    });

    it('asked for logs with answers, once the deadline passes without an answer writes what the activation wrote to its streams, marked, for the invoker to read', async () => {
      proxy = await LocalProxy.start(c.kind);
      await proxy.initInline(c.hangs);
      void proxy.runInline({}, { deadline: String(Date.now() + 300) }).catch(() => undefined);
      const { stderr } = await proxy.sentinels(1);
      expect(stderr).to.equal(`before the deadline\n${LOG_SENTINEL}\n`);
    });
  });
}

describe('runtime proxies started as stem cells (rehearsed before they listen)', function () {
  this.timeout(20_000);
  const cases = [
    { kind: 'nodejs:20', code: 'function main() { return { vars: Object.keys(process.env).filter((k) => k.startsWith("__SWIRL")).length } }' },
    { kind: 'stdio', code: '#!/bin/sh\nread -r p\nprintf \'{"vars": %s}\\n\' "$(env | grep -c ^__SWIRL)"\n' },
  ];
  for (const c of cases) {
    it(`${c.kind}: the invoker's /init is still its first, the token still holds, and the action sees none of swirl's start-up variables`, async () => {
      const stem = await LocalProxy.start(c.kind, { [PROXY_REHEARSE_ENV]: '1', [PROXY_TOKEN_ENV]: 'the-secret' });
      try {
        expect((await stem.init({ code: c.code })).status, 'without the token').to.equal(403);
        const init = await post(stem.base, '/init', { value: { code: c.code } }, 'the-secret');
        expect(init, JSON.stringify(init.body)).to.deep.equal({ status: 200, body: { ok: true } });
        expect((await post(stem.base, '/init', { value: { code: c.code } }, 'the-secret')).status, 'a second init').to.equal(403);
        const run = await post(stem.base, '/run', { value: {}, deadline: String(Date.now() + 10_000) }, 'the-secret');
        expect(run).to.deep.equal({ status: 200, body: { vars: 0 } });
      } finally {
        await stem.stop();
      }
    });
  }
});

describe('runtime proxy nodejs:20 specifics', function () {
  this.timeout(20_000);
  let proxy: LocalProxy;
  beforeEach(async () => (proxy = await LocalProxy.start('nodejs:20')));
  afterEach(async () => proxy.stop());

  const initRun = async (value: Record<string, unknown>, params: unknown = {}) => {
    const init = await proxy.init(value);
    expect(init, JSON.stringify(init.body)).to.deep.include({ status: 200 });
    return proxy.run(params);
  };

  it('finds main as exports.main, module.exports.main, a named function, or an ES module export', async () => {
    expect((await initRun({ code: 'exports.main = (p) => ({ via: "exports", p })' }, { a: 1 })).body).to.deep.equal({ via: 'exports', p: { a: 1 } });
    await proxy.stop();
    proxy = await LocalProxy.start('nodejs:20');
    expect((await initRun({ code: 'module.exports = { main: () => ({ via: "module.exports" }) }' })).body).to.deep.equal({ via: 'module.exports' });
    await proxy.stop();
    proxy = await LocalProxy.start('nodejs:20');
    expect((await initRun({ code: 'const helper = () => 2;\nfunction hello() { return { via: "named", n: helper() } }', main: 'hello' })).body).to.deep.equal({ via: 'named', n: 2 });
    await proxy.stop();
    proxy = await LocalProxy.start('nodejs:20');
    expect((await initRun({ code: 'import { sep } from "node:path";\nexport function main() { return { via: "esm", sep } }' })).body).to.deep.equal({ via: 'esm', sep: '/' });
  });

  it('fails init when there is no such function', async () => {
    expect(await proxy.init({ code: 'function other() {}', main: 'main' })).to.deep.equal({ status: 502, body: { error: "Initialization has failed due to: Action entrypoint 'main' is not a function." } });
  });

  it('awaits a promise; a rejection is the action error {error} with status 200', async () => {
    await proxy.init({ code: 'async function main(p) { await new Promise(r => setTimeout(r, 10)); if (p.fail === "error") throw new Error("nope"); if (p.fail) return Promise.reject({ reason: p.fail }); return { done: true } }' });
    expect(await proxy.run({})).to.deep.equal({ status: 200, body: { done: true } });
    expect(await proxy.run({ fail: 'error' })).to.deep.equal({ status: 200, body: { error: 'nope' } });
    expect(await proxy.run({ fail: 'why' })).to.deep.equal({ status: 200, body: { error: { reason: 'why' } } });
  });

  it('treats no result as {} and an {error} result as a 200 for the invoker to classify', async () => {
    await proxy.init({ code: 'function main(p) { if (p.e) return { error: "app failed" } }' });
    expect(await proxy.run({})).to.deep.equal({ status: 200, body: {} });
    expect(await proxy.run({ e: 1 })).to.deep.equal({ status: 200, body: { error: 'app failed' } });
  });

  it('runs concurrent activations at the same time (concurrency limit above 1)', async () => {
    await proxy.init({ code: 'let active = 0; async function main() { active++; const seen = active; await new Promise(r => setTimeout(r, 300)); const most = Math.max(seen, active); active--; return { most } }' });
    const results = await Promise.all(Array.from({ length: 5 }, () => proxy.run({})));
    expect(results.map((r) => r.status)).to.deep.equal([200, 200, 200, 200, 200]);
    expect(Math.max(...results.map((r) => r.body.most as number))).to.equal(5);
    const out = await proxy.sentinels(5);
    expect(count(out.stdout, LOG_SENTINEL)).to.equal(5);
  });

  it('runs a zip: package.json main, a dependency from its node_modules', async () => {
    const code = zipBase64({
      'package.json': JSON.stringify({ name: 'a', main: 'lib/entry.js' }),
      'lib/entry.js': 'const pad = require("left-pad"); exports.main = (p) => ({ padded: pad(p.s, 5) });',
      'node_modules/left-pad/package.json': JSON.stringify({ name: 'left-pad', main: 'index.js' }),
      'node_modules/left-pad/index.js': 'module.exports = (s, n) => s.padStart(n, "*");',
    });
    expect((await initRun({ code, binary: true }, { s: 'ab' })).body).to.deep.equal({ padded: '***ab' });
  });

  it('runs a zip of an ES module package (type: module) with index.js', async () => {
    const code = zipBase64({
      'package.json': JSON.stringify({ name: 'm', type: 'module' }),
      'index.js': 'import { helper } from "./helper.js";\nexport async function main(p) { return { n: helper(p.n) } }',
      'helper.js': 'export const helper = (n) => n * 2;',
    });
    expect((await initRun({ code, binary: true }, { n: 21 })).body).to.deep.equal({ n: 42 });
  });

  it('fails init for a zip without an entry point, and for bytes that are no zip', async () => {
    const res = await proxy.init({ code: zipBase64({ 'other.js': '' }), binary: true });
    expect(res).to.deep.equal({ status: 502, body: { error: 'Initialization has failed due to: Zipped actions must contain either package.json or index.js at the root.' } });
    await proxy.stop();
    proxy = await LocalProxy.start('nodejs:20');
    const bad = await proxy.init({ code: Buffer.from('not a zip at all').toString('base64'), binary: true });
    expect(bad.status).to.equal(502);
    expect(bad.body.error).to.match(/^Initialization has failed due to: the action archive is not a valid zip file/);
  });

  it('asked for logs with answers, overlapping runs each answer with their own lines; what a run\'s timer writes after its answer goes with the next answer', async () => {
    await proxy.initInline({ code: 'async function main(p) { for (let i = 0; i < 3; i++) { console.log(`${p.n}: ${i}`); await new Promise((r) => setTimeout(r, 20 + p.n * 7)) } if (p.n === 0) setTimeout(() => console.error("late from 0"), 200); return { n: p.n } }' });
    const runs = await Promise.all([0, 1, 2, 3].map((n) => proxy.runInline({ n })));
    runs.forEach((r, n) => expect(r.logs.map((l) => l.slice(25)), `run ${n}`).to.deep.equal([0, 1, 2].map((i) => `stdout: ${n}: ${i}`)));
    await new Promise((ok) => setTimeout(ok, 300));
    const next = await proxy.runInline({ n: 9 });
    expect(next.logs.map((l) => l.slice(25))).to.deep.equal(['stderr: late from 0', 'stdout: 9: 0', 'stdout: 9: 1', 'stdout: 9: 2']);
  });

  it('asked for logs with answers, keeps lines up to the limit and says the rest was cut; a line longer than the limit is never held whole', async () => {
    await proxy.initInline({ code: 'function main(p) { for (let i = 0; i < p.lines; i++) console.log("x".repeat(99)); if (p.long) process.stdout.write("y".repeat(5000000)); return {} }' });
    const cut = await proxy.runInline({ lines: 30 }, {}, 1000);
    expect(cut.truncated).to.equal(true);
    expect(cut.logs).to.have.length(10);
    const long = await proxy.runInline({ lines: 1, long: true }, {}, 1000);
    expect(long).to.deep.include({ truncated: true });
    expect(long.logs.map((l) => l.slice(25))).to.deep.equal([`stdout: ${'x'.repeat(99)}`]);
    const fits = await proxy.runInline({ lines: 10 }, {}, 1000);
    expect(fits).to.deep.include({ truncated: false });
    expect(fits.logs).to.have.length(10);
  });

  it('asked for logs with answers, an action that ends the process leaves what it wrote on the streams', async () => {
    await proxy.initInline({ code: 'function main() { console.error("dying"); process.exit(3) }' });
    await proxy.runInline({}).catch(() => undefined);
    await proxy.proc.exited;
    expect(proxy.proc.stderr()).to.equal('dying\n');
  });

  it('puts the stack of a thrown error in the logs and the sentinel on a line of its own', async () => {
    await proxy.init({ code: 'function main() { process.stdout.write("no newline"); throw new TypeError("bad type") }' });
    expect((await proxy.run({})).body).to.deep.equal({ error: 'An error has occurred: TypeError: bad type' });
    const out = await proxy.sentinels(1);
    expect(out.stdout).to.equal(`no newline\n${LOG_SENTINEL}\n`);
    expect(out.stderr).to.match(new RegExp(`^TypeError: bad type\\n\\s+at main [^]*\\n${LOG_SENTINEL}\\n$`));
  });
});

describe('runtime proxy python:3 specifics', function () {
  this.timeout(20_000);
  let proxy: LocalProxy;
  beforeEach(async () => (proxy = await LocalProxy.start('python:3')));
  afterEach(async () => proxy.stop());

  it('runs a zip with __main__.py, a module beside it and a virtualenv', async () => {
    const code = zipBase64({
      '__main__.py': 'from helper import double\nimport sixish\ndef handler(params):\n    return {"n": double(params["n"]), "dep": sixish.VERSION}\n',
      'helper.py': 'def double(n):\n    return n * 2\n',
      'virtualenv/lib/python3.11/site-packages/sixish.py': 'VERSION = "1.0"\n',
    });
    expect(await proxy.init({ code, binary: true, main: 'handler' })).to.deep.equal({ status: 200, body: { ok: true } });
    expect(await proxy.run({ n: 4 })).to.deep.equal({ status: 200, body: { n: 8, dep: '1.0' } });
  });

  it('fails init for a zip without __main__.py, and for a missing function', async () => {
    expect(await proxy.init({ code: zipBase64({ 'x.py': '' }), binary: true })).to.deep.equal({ status: 502, body: { error: 'Initialization has failed due to: Zip file does not include __main__.py' } });
    await proxy.stop();
    proxy = await LocalProxy.start('python:3');
    expect(await proxy.init({ code: 'def other(p):\n    return {}\n' })).to.deep.equal({ status: 502, body: { error: "Initialization has failed due to: Action entrypoint 'main' is not a function." } });
  });

  it('puts the traceback of an exception in the logs', async () => {
    await proxy.init({ code: 'def main(params):\n    return {"x": 1 / params["d"]}\n' });
    expect(await proxy.run({ d: 0 })).to.deep.equal({ status: 502, body: { error: 'An error has occurred: ZeroDivisionError: division by zero' } });
    expect(await proxy.run({ d: 2 })).to.deep.equal({ status: 200, body: { x: 0.5 } });
    const out = await proxy.sentinels(2);
    expect(out.stderr).to.match(/^Traceback \(most recent call last\):\n[^]*ZeroDivisionError: division by zero\nXXX_THE_END/);
  });
});

describe('runtime proxy stdio specifics', function () {
  this.timeout(20_000);
  let proxy: LocalProxy;
  beforeEach(async () => (proxy = await LocalProxy.start('stdio')));
  afterEach(async () => proxy.stop());

  it('fork mode: the last stdout line is the result, earlier lines are logs, a process per run', async () => {
    await proxy.init({ code: '#!/bin/sh\nread -r p\necho "first log"\necho "{\\"pid\\": $$, \\"in\\": $p}"\necho\n' });
    const a = await proxy.run({ v: 1 });
    const b = await proxy.run({ v: 2 });
    expect(a.body.in).to.deep.equal({ v: 1 });
    expect(b.body.in).to.deep.equal({ v: 2 });
    expect(a.body.pid).to.not.equal(b.body.pid);
    const out = await proxy.sentinels(2);
    expect(out.stdout).to.equal(`first log\n${LOG_SENTINEL}\nfirst log\n${LOG_SENTINEL}\n`);
  });

  it('fork mode: output that is not JSON is a 502 and goes to the logs', async () => {
    await proxy.init({ code: '#!/bin/sh\necho "not json"\n' });
    expect(await proxy.run({})).to.deep.equal({ status: 502, body: { error: 'The action did not produce a valid JSON result: not json' } });
  });

  it('loop mode (swirl:loop marker): one process serves every run, logs on stderr', async () => {
    await proxy.init({
      code: '#!/bin/sh\n# swirl:loop\nn=0\nwhile read -r p; do n=$((n+1)); echo "run $n" >&2; echo "{\\"pid\\": $$, \\"n\\": $n, \\"in\\": $p, \\"ns\\": \\"$__OW_NAMESPACE\\"}"; done\n',
    });
    const results = [];
    for (let i = 0; i < 4; i++) results.push((await proxy.run({ i })).body);
    expect(new Set(results.map((r) => r.pid)).size, 'one process').to.equal(1);
    expect(results.map((r) => r.n)).to.deep.equal([1, 2, 3, 4]);
    expect(results.map((r) => r.in)).to.deep.equal([{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }]);
    expect(results[0].ns).to.equal('guest');
    const out = await proxy.sentinels(4);
    expect(out.stderr).to.equal(['run 1', LOG_SENTINEL, 'run 2', LOG_SENTINEL, 'run 3', LOG_SENTINEL, 'run 4', LOG_SENTINEL, ''].join('\n'));
  });

  it('loop mode, asked for logs with answers: each run answers with the lines its process wrote for it', async () => {
    await proxy.initInline({ code: '#!/bin/sh\n# swirl:loop\nn=0\nwhile read -r p; do n=$((n+1)); echo "run $n" >&2; echo "{\\"n\\": $n}"; done\n' });
    for (let n = 1; n <= 4; n++) {
      const res = await proxy.runInline({});
      expect(res.body).to.deep.equal({ n });
      expect(res.logs.map((l) => l.slice(25))).to.deep.equal([`stderr: run ${n}`]);
    }
  });

  it('loop mode: a process that dies fails its run with 502 and is started again on the next', async () => {
    await proxy.init({ code: '#!/bin/sh\n# swirl:loop\nwhile read -r p; do case "$p" in *die*) exit 7;; esac; echo "{\\"pid\\": $$}"; done\n' });
    const before = (await proxy.run({})).body.pid;
    expect(await proxy.run({ die: true })).to.deep.equal({ status: 502, body: { error: 'An error has occurred: the executable exited with code 7 before returning a result' } });
    const after = await proxy.run({});
    expect(after.status).to.equal(200);
    expect(after.body.pid).to.not.equal(before);
    expect((await proxy.run({})).body.pid).to.equal(after.body.pid);
  });

  it('runs a raw base64 ELF binary (cat echoes the params back), forked and in loop mode', async () => {
    const cat = readFileSync(execFileSync('sh', ['-c', 'command -v cat'], { encoding: 'utf8' }).trim());
    await proxy.init({ code: cat.toString('base64'), binary: true });
    expect(await proxy.run({ a: [1, 2] })).to.deep.equal({ status: 200, body: { a: [1, 2] } });
    await proxy.stop();
    // bytes after an ELF image do not matter to the loader: the marker makes cat a loop-mode executable
    proxy = await LocalProxy.start('stdio');
    await proxy.init({ code: Buffer.concat([cat, Buffer.from('\nswirl:loop\n')]).toString('base64'), binary: true });
    for (let i = 0; i < 3; i++) expect(await proxy.run({ i })).to.deep.equal({ status: 200, body: { i } });
  });

  it('runs a zip with exec at its root, keeping the modes of the files it calls', async () => {
    const code = zipBase64({
      exec: ['#!/bin/sh\nread -r p\nexec ./bin/helper.sh "$p"\n', 0o755],
      'bin/helper.sh': ['#!/bin/sh\necho "{\\"helped\\": $1}"\n', 0o755],
    });
    expect(await proxy.init({ code, binary: true })).to.deep.equal({ status: 200, body: { ok: true } });
    expect(await proxy.run({ x: 1 })).to.deep.equal({ status: 200, body: { helped: { x: 1 } } });
  });

  it('fails init for a zip without exec', async () => {
    expect(await proxy.init({ code: zipBase64({ 'run.sh': '#!/bin/sh\n' }), binary: true })).to.deep.equal({
      status: 502,
      body: { error: "Initialization has failed due to: the zip has no executable named 'exec' at its root" },
    });
  });

  it('runs a compiled C program in loop mode without a fork per run', function () {
    let gcc = true;
    try {
      execFileSync('gcc', ['--version'], { stdio: 'ignore' });
    } catch {
      gcc = false;
    }
    // CI installs gcc; elsewhere the ELF test above covers binaries without a compiler
    if (!gcc && process.env.CI) throw new Error('gcc is required in CI');
    if (!gcc) return this.skip();
    const dir = mkdtempSync(join(tmpdir(), 'swirl-c-'));
    writeFileSync(
      join(dir, 'loop.c'),
      `#include <stdio.h>
#include <unistd.h>
static const char *mode = "swirl:loop"; /* declares the long-lived protocol */
int main(void) {
  char line[65536];
  setvbuf(stdout, NULL, _IOLBF, 0);
  while (fgets(line, sizeof line, stdin)) fprintf(stdout, "{\\"pid\\": %d, \\"mode\\": \\"%s\\"}\\n", (int)getpid(), mode);
  return 0;
}
`,
    );
    execFileSync('gcc', ['-O2', '-o', join(dir, 'loop'), join(dir, 'loop.c')]);
    return (async () => {
      await proxy.init({ code: readFileSync(join(dir, 'loop')).toString('base64'), binary: true });
      const pids = new Set<number>();
      for (let i = 0; i < 3; i++) {
        const res = await proxy.run({ i });
        expect(res.body.mode).to.equal('swirl:loop');
        pids.add(res.body.pid);
      }
      expect(pids.size).to.equal(1);
    })();
  });
});
