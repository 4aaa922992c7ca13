import { expect } from 'chai';
import Dockerode from 'dockerode';
import openwhisk from 'openwhisk';
import type { ActivationRecord } from '../../common/activation.ts';
import { silentLogger } from '../../common/logger.ts';
import { Invoker } from '../../invoker/invoker.ts';
import { ann, factoryNames, invokerConfig, logText, makeFactory, testAction, testJob } from '../support/invoker-fixtures.ts';
import { buildContractImage, CONTRACT_EXEC, CONTRACT_IMAGE, LocalRegistry } from '../support/openwhisk-image.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { type EmbeddedStore, startEmbeddedStore } from '../support/store-fixtures.ts';

type Result = { own?: string; host?: string; env?: Record<string, string>; n?: number; version?: number };
const result = (r: ActivationRecord) => r.response.result as Result;
const blackbox = (name: string, image = CONTRACT_IMAGE, code = '', over: Parameters<typeof testAction>[1] = {}) => testAction(code, { kind: 'blackbox', image, name, ...over });

/**
 * OpenWhisk's runtime contract as OpenWhisk's own images keep it, on real containers: an
 * image built here from a stand-in proxy (test/support/openwhisk-image/) runs as a blackbox
 * action. It stops itself after a failed run, writes no log markers and replaces its
 * executable with any code /init gives it.
 */
describe("OpenWhisk's runtime contract: an image that keeps it as OpenWhisk's own do (docker)", function () {
  this.timeout(120_000);
  const docker = new Dockerode();
  let store: EmbeddedStore;
  let inv: Invoker;

  before(async function () {
    if (!factoryNames().includes('docker')) this.skip();
    store = await startEmbeddedStore();
    await buildContractImage(docker);
    inv = await Invoker.start(invokerConfig(), store.store, silentLogger, { factory: await makeFactory('docker', undefined, { apiHost: 'http://127.0.0.1:3233' }), apiHost: 'http://127.0.0.1:3233' });
  });
  after(async () => {
    await inv?.close();
    await store?.cleanup();
  });

  it('runs the image\'s own executable when the action has no code (/init carries none), and code /init gives in its place', async () => {
    const own = await inv.run(testJob(blackbox('own')));
    expect(own.response.status, JSON.stringify(own.response)).to.equal('success');
    expect(result(own).own).to.equal('the image executable');
    const code = await inv.run(testJob(blackbox('coded', CONTRACT_IMAGE, '#!/bin/sh\necho \'{"from": "code"}\'\n')));
    expect(code.response.result).to.deep.equal({ from: 'code' });
  });

  it('gives the action the __OW_ variables OpenWhisk passes, the API host reachable from the container, the key only with provide-api-key', async () => {
    const job = testJob(blackbox('envy', CONTRACT_IMAGE, '', { annotations: [{ key: 'provide-api-key', value: true }] }), {}, { apiKey: 'u:k' });
    const before = Date.now();
    const rec = await inv.run(job);
    const env = result(rec).env!;
    expect(env).to.include({
      __OW_API_HOST: 'http://host.docker.internal:3233',
      __OW_API_KEY: 'u:k',
      __OW_NAMESPACE: 'guest',
      __OW_ACTION_NAME: '/guest/envy',
      __OW_ACTION_VERSION: '0.0.1',
      __OW_ACTIVATION_ID: job.activationId,
      __OW_TRANSACTION_ID: 'tid-test',
    });
    expect(Number(env.__OW_DEADLINE)).to.be.within(before + 60_000 - 1, Date.now() + 60_000);
    const keyless = result(await inv.run(testJob(blackbox('keyless'), {}, { apiKey: 'u:k' }))).env!;
    expect(keyless).to.not.have.property('__OW_API_KEY');
    expect(keyless.__OW_API_HOST).to.equal('http://host.docker.internal:3233');
  });

  it('replaces the container after a developer error (the image stopped itself), keeps it after an application error', async () => {
    // with its code given, so that this holds apart from an action without code
    const action = blackbox('sevens', CONTRACT_IMAGE, CONTRACT_EXEC);
    const first = await inv.run(testJob(action));
    const appError = await inv.run(testJob(action, { appError: 'not found' }));
    expect(appError.response).to.deep.include({ status: 'application error', result: { error: 'not found' } });
    const warm = await inv.run(testJob(action));
    expect(result(warm).host, 'the same container').to.equal(result(first).host);
    expect(ann(warm, 'initTime')).to.equal(undefined);

    const failed = await inv.run(testJob(action, { fail: true }));
    expect(failed.response.status).to.equal('action developer error');
    expect(logText(failed)).to.include('stderr: failing on purpose');
    const next = await inv.run(testJob(action));
    // the stopped image would answer "System not ready, status is stopped." to every call
    expect(next.response.status, JSON.stringify(next.response)).to.equal('success');
    expect(result(next).host, 'a new container').to.not.equal(result(first).host);
    expect(ann(next, 'initTime')).to.be.a('number');
  });

  it('stores each activation of a burst promptly with its own log lines and no warning, one activation per container at a time', async () => {
    const action = blackbox('burst', CONTRACT_IMAGE, CONTRACT_EXEC, { limits: { concurrency: 4 } });
    const runs = (ns: number[]) => Promise.all(ns.map((n) => inv.run(testJob(action, { n, ms: 150 }))));
    const check = (recs: ActivationRecord[], ns: number[]) =>
      recs.forEach((r, i) => {
        expect(r.response.status, JSON.stringify(r.response)).to.equal('success');
        // (stdout and stderr come apart through the daemon: their order across streams is not kept)
        expect(logText(r), `activation ${ns[i]}`).to.have.members([`stdout: start ${ns[i]}`, `stderr: end ${ns[i]}`]);
      });
    const cold = [1, 2, 3, 4];
    check(await runs(cold), cold);
    // warm: stored well within the 2 s the invoker would wait for markers that never come
    const t0 = Date.now();
    const warm = [5, 6, 7, 8];
    check(await runs(warm), warm);
    expect(Date.now() - t0).to.be.lessThan(1_500);
    const one = Date.now();
    check(await runs([9]), [9]);
    expect(Date.now() - one).to.be.lessThan(800);
  });

  describe('a :latest image from a registry', function () {
    let registry: LocalRegistry | undefined;
    const tags: string[] = [];
    before(async function () {
      if (!LocalRegistry.available()) {
        if (process.env.CI) throw new Error(`${LocalRegistry.BINARY} is missing (Debian's docker-registry; .ci/run installs it)`);
        this.skip();
      }
      registry = await LocalRegistry.start();
    });
    after(async () => {
      await registry?.stop();
      for (const t of tags) await docker.getImage(t).remove({ noprune: true }).catch(() => undefined);
    });

    it('is pulled at every start, as OpenWhisk pulls it: a failed pull fails the start; another tag found here is used when the pull fails', async () => {
      const repo = `${registry!.host}/openwhisk-contract`;
      tags.push(`${repo}:latest`, `${repo}:v1`, 'swirl-test/openwhisk-contract:2');
      await registry!.push(docker, CONTRACT_IMAGE, 'openwhisk-contract:latest');
      const pulled = await inv.run(testJob(blackbox('pulled', repo)));
      expect(pulled.response.status, JSON.stringify(pulled.response)).to.equal('success');
      expect(result(pulled).own).to.equal('the image executable');

      // a newer :latest in the registry wins over the older one on this host
      await buildContractImage(docker, 'swirl-test/openwhisk-contract:2', '#!/bin/sh\necho \'{"version": 2}\'\n');
      await registry!.push(docker, 'swirl-test/openwhisk-contract:2', 'openwhisk-contract:latest');
      await docker.getImage(CONTRACT_IMAGE).tag({ repo, tag: 'latest' });
      await docker.getImage(CONTRACT_IMAGE).tag({ repo, tag: 'v1' });
      const newer = await inv.run(testJob(blackbox('newer', `${repo}:latest`)));
      expect(newer.response.result).to.deep.equal({ version: 2 });

      await registry!.stop();
      const gone = await inv.run(testJob(blackbox('gone', `${repo}:latest`)));
      expect(gone.response).to.deep.equal({ status: 'action developer error', statusCode: 2, success: false, result: { error: `Failed to pull container image '${repo}:latest'.` } });
      const pinned = await inv.run(testJob(blackbox('pinned', `${repo}:v1`)));
      expect(pinned.response.status, JSON.stringify(pinned.response)).to.equal('success');
      expect(result(pinned).own).to.equal('the image executable');
    });
  });
});

/** `require('openwhisk')` in a nodejs action, as OpenWhisk's nodejs runtime ships it, with the key of provide-api-key. */
for (const name of factoryNames()) {
  describe(`actions call actions with require('openwhisk') (${name})`, function () {
    this.timeout(120_000);
    let s: TestStack;

    before(async () => {
      // on every interface: a container reaches the API through the host's gateway address
      s = await startTestStack(name, { SWIRL_HOST: '0.0.0.0', SWIRL_INVOKER_MEMORY_MB: '1024' });
    });
    after(async () => {
      await s?.destroy();
    });

    it('invokes another action, blocking, and returns its result', async () => {
      const ow = openwhisk({ apihost: s.url, api_key: s.guestKey, namespace: '_' });
      await ow.actions.create({ name: 'callee', action: 'function main(p) { return { doubled: p.x * 2 } }', kind: 'nodejs:20' });
      const caller = `const openwhisk = require('openwhisk');
        async function main(p) {
          const result = await openwhisk().actions.invoke({ name: 'callee', params: { x: p.x }, blocking: true, result: true });
          return { result, via: process.env.__OW_API_HOST };
        }`;
      await ow.actions.create({ name: 'caller', action: { exec: { kind: 'nodejs:20', code: caller }, annotations: [{ key: 'provide-api-key', value: true }] } as never });
      const out = (await ow.actions.invoke({ name: 'caller', params: { x: 21 }, blocking: true, result: true })) as { result: unknown; via: string };
      expect(out.result).to.deep.equal({ doubled: 42 });
      const hostName = { docker: 'host.docker.internal', sandbox: 'host.swirl.internal', process: undefined }[name];
      expect(out.via).to.equal(hostName ? s.url.replace(/\/\/[^:/]+/, `//${hostName}`) : s.url);
    });
  });
}
