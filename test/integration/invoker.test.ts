import { expect } from 'chai';
import type { Container, ContainerFactory } from '../../common/container.ts';
import { silentLogger } from '../../common/logger.ts';
import Dockerode from 'dockerode';
import { LABEL_ACTION, LABEL_INVOKER, LABEL_KIND, LABEL_NAMESPACE } from '../../invoker/factory/docker.ts';
import { Invoker, type InvokerConfig } from '../../invoker/invoker.ts';
import { runtimeImage } from '../../runtimes/index.ts';
import { sleep } from '../support/api.ts';
import { ann, factoryNames, invokerConfig, logText, makeFactory, testAction, testJob } from '../support/invoker-fixtures.ts';
import { type EmbeddedStore, startEmbeddedStore } from '../support/store-fixtures.ts';

const config = invokerConfig;

/**
 * The invoker core end to end on real containers (Docker and local processes) and the
 * embedded store: pool decisions, the activation record and its four statuses, timeouts,
 * crashes and log limits.
 */
for (const name of factoryNames()) {
  describe(`invoker core: ${name}`, function () {
    this.timeout(60_000);
    let store: EmbeddedStore;
    let invoker: Invoker | undefined;

    before(async () => {
      store = await startEmbeddedStore();
    });
    after(async () => {
      await store?.cleanup();
    });
    afterEach(async () => {
      await invoker?.close();
      invoker = undefined;
    });

    const start = async (over: Partial<InvokerConfig> = {}) => {
      invoker = await Invoker.start(config(over), store.store, silentLogger, { factory: await makeFactory(name) });
      return invoker;
    };

    it('runs cold with initTime, then warm in the same container, and stores each record', async () => {
      const inv = await start();
      const action = testAction('const me = Math.random(); function main(p) { console.log("hi " + p.who); return { greeting: "hello " + p.who, me } }');
      const cold = await inv.run(testJob(action, { who: 'ann' }));
      expect(cold.response).to.deep.include({ status: 'success', statusCode: 0, success: true });
      expect((cold.response.result as any).greeting).to.equal('hello ann');
      expect(ann(cold, 'initTime')).to.be.a('number');
      expect(ann(cold, 'waitTime')).to.be.a('number');
      expect(ann(cold, 'path')).to.equal('guest/hello');
      expect(ann(cold, 'kind')).to.equal('nodejs:20');
      expect(logText(cold)).to.deep.equal(['stdout: hi ann']);
      expect(cold.duration).to.equal(cold.end - cold.start);

      const warm = await inv.run(testJob(action, { who: 'bob' }));
      expect(ann(warm, 'initTime'), 'no init when warm').to.equal(undefined);
      expect((warm.response.result as any).me, 'the same container').to.equal((cold.response.result as any).me);
      expect(logText(warm)).to.deep.equal(['stdout: hi bob']);

      const stored = await store.store.getActivation('guest', warm.activationId);
      expect(stored.response).to.deep.equal(warm.response);
      expect(stored.logs).to.deep.equal(warm.logs);
    });

    it('does not reuse a container for another revision of the action', async () => {
      const inv = await start();
      const action = testAction('function main() { return {} }');
      await inv.run(testJob(action, {}, { rev: '1-a' }));
      const v2 = await inv.run(testJob(action, {}, { rev: '2-b' }));
      expect(ann(v2, 'initTime')).to.be.a('number');
      expect(inv.stats().containers).to.equal(2);
    });

    it('pauses an idle container and resumes it for the next activation', async () => {
      const inv = await start({ pauseGraceMs: 10 });
      const action = testAction('let n = 0; function main() { return { n: ++n } }');
      await inv.run(testJob(action));
      await new Promise((r) => setTimeout(r, 300));
      expect(inv.stats().paused).to.equal(1);
      const again = await inv.run(testJob(action));
      expect((again.response.result as any).n, 'same container, state kept').to.equal(2);
      expect(ann(again, 'initTime')).to.equal(undefined);
    });

    it('uses a stem cell for a cold start and starts a new one', async () => {
      const inv = await start({ prewarm: [{ kind: 'nodejs:20', memory: 256, count: 1 }] });
      await inv.prewarmed;
      expect(inv.stats().prewarm).to.equal(1);
      const rec = await inv.run(testJob(testAction('function main() { return { ok: 1 } }')));
      expect(rec.response.success).to.equal(true);
      expect(ann(rec, 'initTime')).to.be.a('number');
      for (let i = 0; i < 100 && inv.stats().prewarm < 1; i++) await new Promise((r) => setTimeout(r, 50));
      expect(inv.stats().prewarm, 'replenished').to.equal(1);
      expect(inv.stats().idle + inv.stats().paused).to.equal(1);
    });

    if (name === 'docker') {
      it("labels a container created for an action with the invoking namespace and the action's path, not its name", async () => {
        const id = String(1000 + Math.floor(Math.random() * 8999));
        invoker = await Invoker.start(config(), store.store, silentLogger, { factory: await makeFactory('docker', id) });
        const rec = await invoker.run(testJob(testAction('function main() { return { ok: 1 } }', { name: 'labelled' })));
        expect(rec.response.success).to.equal(true);
        const [c, ...more] = await new Dockerode().listContainers({ all: true, filters: { label: [`${LABEL_INVOKER}=${id}`] } });
        expect(more).to.deep.equal([]);
        expect(c!.Labels).to.include({ [LABEL_NAMESPACE]: 'guest', [LABEL_ACTION]: 'guest/labelled', [LABEL_KIND]: 'nodejs:20' });
        expect(c!.Names[0]).to.not.contain('labelled').and.not.contain('guest');
      });
    }

    it('queues activations when the memory budget is full, then runs them', async () => {
      const inv = await start({ invokerMemoryMb: 256 });
      const slow = testAction('function main(p) { return new Promise((ok) => setTimeout(() => ok({ who: p.who }), 300)) }', { name: 'slow' });
      const other = testAction('function main() { return { other: true } }', { name: 'other' });
      const [a, b] = await Promise.all([inv.run(testJob(slow, { who: 'a' })), inv.run(testJob(other))]);
      expect(a.response.result).to.deep.equal({ who: 'a' });
      expect(b.response.result).to.deep.equal({ other: true });
      expect(ann(b, 'waitTime') as number, 'b waited for a').to.be.greaterThan(250);
    });

    it('evicts an idle container of another action when the budget is full', async () => {
      const inv = await start({ invokerMemoryMb: 256 });
      await inv.run(testJob(testAction('function main() { return {} }', { name: 'first' })));
      const second = await inv.run(testJob(testAction('function main() { return { second: 1 } }', { name: 'second' })));
      expect(second.response.result).to.deep.equal({ second: 1 });
      expect(inv.stats().containers).to.equal(1);
    });

    it('reports application errors, developer errors and init failures with OpenWhisk statuses', async () => {
      const inv = await start();
      const appError = await inv.run(testJob(testAction('function main() { return { error: "not found" } }', { name: 'app' })));
      expect(appError.response).to.deep.equal({ status: 'application error', statusCode: 1, success: false, result: { error: 'not found' } });
      const thrown = await inv.run(testJob(testAction('function main() { throw new Error("boom") }', { name: 'thrower' })));
      expect(thrown.response).to.deep.include({ status: 'action developer error', statusCode: 2, success: false });
      expect((thrown.response.result as any).error).to.match(/boom/);
      const broken = await inv.run(testJob(testAction('function main( {', { name: 'broken' })));
      expect(broken.response.status).to.equal('action developer error');
      expect((broken.response.result as any).error).to.match(/^Initialization has failed due to/);
      expect(ann(broken, 'initTime')).to.be.a('number');
    });

    it("retires the container after a developer error, as OpenWhisk does; the action's own {error} keeps it", async () => {
      const inv = await start();
      const action = testAction('const me = Math.random(); function main(p) { if (p.throw) throw new Error("boom"); return p.fail ? { error: "no" } : { me } }', { name: 'retire' });
      const first = (await inv.run(testJob(action))).response.result as { me: number };
      const appError = await inv.run(testJob(action, { fail: true }));
      expect(appError.response.status).to.equal('application error');
      expect((await inv.run(testJob(action))).response.result, 'kept after an application error').to.deep.equal(first);
      const thrown = await inv.run(testJob(action, { throw: true }));
      expect(thrown.response.status).to.equal('action developer error');
      const next = await inv.run(testJob(action));
      expect(next.response.result, 'a new container').to.not.deep.equal(first);
      expect(ann(next, 'initTime')).to.be.a('number');
    });

    it('kills an action that exceeds its timeout, records a developer error and replaces the container', async () => {
      const inv = await start();
      const action = testAction('function main(p) { console.log("started"); return new Promise((ok) => setTimeout(() => ok({ late: true }), p.ms)) }', { limits: { timeout: 500 } });
      const t0 = Date.now();
      const rec = await inv.run(testJob(action, { ms: 30_000 }));
      expect(Date.now() - t0).to.be.lessThan(10_000);
      expect(rec.response).to.deep.equal({ status: 'action developer error', statusCode: 2, success: false, result: { error: 'The action exceeded its time limits of 500 milliseconds.' } });
      expect(ann(rec, 'timeout')).to.equal(true);
      expect(logText(rec)).to.include('stdout: started');
      const next = await inv.run(testJob(action, { ms: 1 }));
      expect(next.response.result).to.deep.equal({ late: true });
      expect(ann(next, 'initTime'), 'a new container').to.be.a('number');
    });

    it('an init that exceeds the time limit: a developer error whose logs hold what the action printed while loading', async () => {
      const inv = await start();
      const code = 'console.log("loading");\nawait new Promise((r) => setTimeout(r, 30000));\nexport function main() { return {} }';
      const rec = await inv.run(testJob(testAction(code, { name: 'slowload', limits: { timeout: 500 } })));
      expect(rec.response.status).to.equal('action developer error');
      expect((rec.response.result as any).error).to.match(/exceeded its time limits of 500 milliseconds during initialization/);
      expect(logText(rec)).to.include('stdout: loading');
    });

    it('turns a container that dies mid-run into a developer error record, not a hang', async () => {
      const inv = await start();
      const action = testAction('function main(p) { if (p.die) { console.error("dying"); process.exit(1) } return { alive: true } }');
      const rec = await inv.run(testJob(action, { die: true }));
      expect(rec.response.status).to.equal('action developer error');
      expect((rec.response.result as any).error).to.equal('The action did not produce a valid response and exited unexpectedly.');
      expect(logText(rec), 'what it wrote before it ended the process').to.include('stderr: dying');
      const next = await inv.run(testJob(action, {}));
      expect(next.response.result).to.deep.equal({ alive: true });
    });

    it('cuts logs at the log limit with a truncation line', async () => {
      const inv = await start();
      const code = 'function main(p) { if (!p.flood) { console.log("clean"); return {} } const line = "x".repeat(1000); for (let i = 0; i < 2000; i++) console.log(line); return {} }';
      const action = testAction(code, { limits: { logs: 1 } });
      const rec = await inv.run(testJob(action, { flood: true }));
      expect(rec.response.success).to.equal(true);
      expect(rec.logs.length).to.be.within(1000, 1050);
      expect(rec.logs[rec.logs.length - 1]).to.match(/stderr: Logs were truncated because the total bytes size exceeds the limit of 1048576 bytes\.$/);
      const next = await inv.run(testJob(action));
      expect(ann(next, 'initTime'), 'the same warm container').to.equal(undefined);
      expect(logText(next), 'nothing left over from the flood').to.deep.equal(['stdout: clean']);
    });

    it('an action that makes its runtime claim more logs than its limit allows gets a developer error, and the invoker holds none of it', async () => {
      const inv = await start();
      // the action runs in the runtime's process: it can rewrite the answer's headers
      const code = `function main() {
  const http = require('http'); const head = http.ServerResponse.prototype.writeHead;
  http.ServerResponse.prototype.writeHead = function (status, headers) { if (headers && headers['x-swirl-logs-length'] !== undefined) headers['x-swirl-logs-length'] = 1e12; return head.call(this, status, headers) };
  return { fine: true }
}`;
      const rec = await inv.run(testJob(testAction(code, { name: 'liar' })));
      expect(rec.response).to.deep.include({ status: 'action developer error', statusCode: 2 });
      expect((rec.response.result as any).error).to.equal('The action did not produce a valid response and exited unexpectedly.');
    });

    it('a pause that fails while activations arrive costs none of them: they all run in the container, which stays', async () => {
      const real = await makeFactory(name);
      let pauses = 0;
      // the real container, but its pause fails (as a freezer can) after taking a while
      const failingPause = (c: Container): Container => ({
        id: c.id,
        spec: c.spec,
        address: c.address,
        token: c.token,
        exited: c.exited,
        pause: async () => {
          pauses++;
          await sleep(150);
          throw new Error('cannot freeze the cgroup');
        },
        resume: () => c.resume(),
        destroy: () => c.destroy(),
        logs: (limit, wait) => c.logs(limit, wait),
      });
      const factory: ContainerFactory = { name: real.name, apiHost: real.apiHost, init: () => real.init(), close: () => real.close(), create: async (spec) => failingPause(await real.create(spec)) };
      invoker = await Invoker.start(config({ pauseGraceMs: 5 }), store.store, silentLogger, { factory });
      const action = testAction('async function main(p) { await new Promise((r) => setTimeout(r, 200)); return { n: p.n, pid: process.pid } }', { name: 'many', limits: { concurrency: 40 } });
      const first = await invoker.run(testJob(action, { n: 0 }));
      await sleep(40); // idle past the grace: the pause is under way
      expect(pauses).to.equal(1);
      const recs = await Promise.all(Array.from({ length: 38 }, (_, i) => invoker!.run(testJob(action, { n: i + 1 }))));
      for (const r of recs) expect(r.response.status, JSON.stringify(r.response)).to.equal('success');
      expect(new Set([first, ...recs].map((r) => (r.response.result as { pid: number }).pid)).size, 'one container').to.equal(1);
      expect(invoker.stats()).to.include({ containers: 1 });
    });

    it('runs concurrent activations of a nodejs action in one container up to its concurrency limit', async () => {
      const inv = await start();
      const code = 'const me = Math.random(); let active = 0; let most = 0; async function main(p) { active++; most = Math.max(most, active); console.log("run " + p.i); await new Promise(r => setTimeout(r, 300)); active--; return { me, most } }';
      const action = testAction(code, { name: 'together', limits: { concurrency: 3 } });
      const recs = await Promise.all([0, 1, 2].map((i) => inv.run(testJob(action, { i }))));
      const results = recs.map((r) => r.response.result as { me: number; most: number });
      expect(new Set(results.map((r) => r.me)).size, 'one container').to.equal(1);
      expect(Math.max(...results.map((r) => r.most)), 'all three at once').to.equal(3);
      expect(recs.filter((r) => ann(r, 'initTime') !== undefined), 'initialized once').to.have.length(1);
      // the runtime tells each activation's output apart (async context) and answers with it
      recs.forEach((r, i) => expect(logText(r), `activation ${i}`).to.deep.equal([`stdout: run ${i}`]));
      const alone = await inv.run(testJob(action, { i: 9 }));
      expect(logText(alone), 'an activation that ran alone keeps its logs').to.deep.equal(['stdout: run 9']);
    });

    it('hands the api key to the action only with the provide-api-key annotation', async () => {
      const inv = await start();
      const code = 'function main() { return { key: process.env.__OW_API_KEY || null, ns: process.env.__OW_NAMESPACE, id: process.env.__OW_ACTIVATION_ID } }';
      const without = await inv.run(testJob(testAction(code, { name: 'nokey' }), {}, { apiKey: 'u:k' }));
      expect((without.response.result as any).key).to.equal(null);
      const job = testJob(testAction(code, { name: 'withkey', annotations: [{ key: 'provide-api-key', value: true }] }), {}, { apiKey: 'u:k' });
      const withKey = await inv.run(job);
      expect(withKey.response.result).to.deep.equal({ key: 'u:k', ns: 'guest', id: job.activationId });
    });

    it('runs python and stdio actions', async () => {
      const inv = await start();
      const py = await inv.run(testJob(testAction('def main(args):\n    print("from python")\n    return {"sum": args["a"] + args["b"]}\n', { kind: 'python:3', name: 'py' }), { a: 2, b: 3 }));
      expect(py.response.result).to.deep.equal({ sum: 5 });
      expect(logText(py)).to.deep.equal(['stdout: from python']);
      const sh = await inv.run(testJob(testAction('#!/bin/sh\nread line\necho "log line"\necho "{\\"echo\\": $line}"\n', { kind: 'stdio', name: 'sh' }), { v: 1 }));
      expect(sh.response.result).to.deep.equal({ echo: { v: 1 } });
      expect(logText(sh)).to.deep.equal(['stdout: log line']);
    });

    if (name === 'docker') {
      it('runs a blackbox action from an image the user names, and fails cleanly for a missing one', async () => {
        const inv = await start();
        const image = runtimeImage('python:3');
        const rec = await inv.run(testJob(testAction('def main(args):\n    return {"bb": True}\n', { kind: 'blackbox', image, name: 'bb' })));
        expect(rec.response.result).to.deep.equal({ bb: true });
        const missing = await inv.run(testJob(testAction('', { kind: 'blackbox', image: 'swirl/not-there:1', name: 'missing' })));
        expect(missing.response).to.deep.equal({ status: 'action developer error', statusCode: 2, success: false, result: { error: "Failed to pull container image 'swirl/not-there:1'." } });
      });
    }
  });
}
