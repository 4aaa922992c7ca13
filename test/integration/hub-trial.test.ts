import { expect } from 'chai';
import type { Action, Package } from '../../common/entities.ts';
import { BadRequestError } from '../../common/errors.ts';
import { buildBundle, type Bundle, manifestDigest } from '../../common/hub/manifest.ts';
import type { TrialStep } from '../../common/hub/types.ts';
import { HubBundleMismatch } from '../../controller/hub/remote.ts';
import { defaultLimits } from '../../common/limits.ts';
import { exampleRuns, runTrial, sweepTrials, TRIAL_MAX_AGE_MS, TRIAL_PREFIX, type TrialServices } from '../../controller/hub/trial.ts';
import { newCredentials } from '../../common/credentials.ts';
import { sampleActivation } from '../support/store-fixtures.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

/**
 * The trial runner on a real controller and invoker (action processes): a bundle deployed in
 * a disposable namespace, its runs made, and nothing of it left after — no subject, no entity,
 * no activation record — whether the runs pass, fail, or the deployment itself fails.
 */
describe('hub trial runner', function () {
  this.timeout(60_000);
  let s: TestStack;
  let services: TrialServices;

  const pkg: Package = { namespace: 'guest', name: 'tools', version: '0.0.3', publish: false, updated: 1, binding: {}, parameters: [], annotations: [] };
  const action = (name: string, code: string, kind = 'nodejs:20'): Action => ({
    namespace: 'guest/tools',
    name,
    version: '0.0.1',
    publish: false,
    updated: 1,
    exec: { kind, code, binary: false },
    parameters: [],
    annotations: [],
    limits: defaultLimits(),
  });
  const bundleOf = (actions: Action[], examples: unknown[] = []): Bundle => buildBundle('127.0.0.1:1', { ...pkg, annotations: [{ key: 'hub-examples', value: examples }] }, actions);
  /** A bundle whose manifest says something else of its actions, still consistent (a peer's to make). */
  const asManifest = (b: Bundle, change: (a: Bundle['manifest']['actions'][number]) => Bundle['manifest']['actions'][number]): Bundle => {
    const manifest = { ...b.manifest, actions: b.manifest.actions.map(change) };
    return { ...b, manifest, digest: manifestDigest(manifest) };
  };
  const echo = action('echo', 'function main(p) { console.log("echo " + JSON.stringify(p)); return { echoed: p } }');
  const fails = action('fails', 'function main() { throw new Error("broken on purpose") }');

  /** Every trace a disposable namespace could leave: subjects named so, and the given namespace's entities and records. */
  async function leftovers(namespace: string): Promise<unknown[]> {
    const store = s.opened.store;
    const subjects = (await store.listSubjects()).filter((x) => x.subject.startsWith(TRIAL_PREFIX));
    return [
      ...subjects.map((x) => `subject ${x.subject}`),
      ...(await store.list('action', { namespace }, { limit: 200, skip: 0 })).map((a) => `action ${a.namespace}/${a.name}`),
      ...(await store.list('package', { namespace }, { limit: 200, skip: 0 })).map((p) => `package ${p.name}`),
      ...(await store.listActivations(namespace, { skip: 0, limit: 200 })).map((r) => `record ${r.activationId}`),
    ];
  }

  before(async () => {
    s = await startTestStack('process', { SWIRL_INVOKER_MEMORY_MB: '1024' });
    services = { store: s.services.store, activator: s.services.activator };
  });
  after(() => s?.destroy());

  it('runs the examples, judges each by its expectation, and leaves nothing behind', async () => {
    const steps: TrialStep[] = [];
    const bundle = bundleOf([echo, fails], [
      { action: 'echo', params: { n: 1 }, expect: { echoed: { n: 1 } } },
      { action: 'echo', params: { n: 2 }, expect: { echoed: { n: 3 } } },
      { action: 'fails', params: {} },
    ]);
    const out = await runTrial(services, bundle, exampleRuns(bundle), { progress: (x) => steps.push(x) });
    expect(out.namespace).to.match(/^hubtest-[0-9a-z]+-[0-9a-f]{12}$/);
    expect(out.runs.map((r) => r.passed)).to.deep.equal([true, false, undefined]);
    const [first, , third] = out.runs;
    expect(first!.activation).to.have.property('activationId').that.matches(/^[0-9a-f]{32}$/);
    expect((first!.activation as { response: { result: unknown } }).response.result).to.deep.equal({ echoed: { n: 1 } });
    expect((first!.activation as { logs: string[] }).logs.join('\n')).to.include('echo {"n":1}');
    expect((third!.activation as { response: { success: boolean; result: unknown } }).response).to.include({ success: false });
    expect(JSON.stringify((third!.activation as { response: unknown }).response)).to.include('broken on purpose');
    expect(steps).to.deep.equal([
      { step: 'deploying', ref: bundle.manifest.ref, namespace: out.namespace },
      { step: 'running', run: 1, of: 3, action: 'echo' },
      { step: 'running', run: 2, of: 3, action: 'echo' },
      { step: 'running', run: 3, of: 3, action: 'fails' },
      { step: 'cleaning' },
    ]);
    expect(out.cleanedUp).to.equal(true);
    expect(await leftovers(out.namespace)).to.deep.equal([]);
  });

  it('runs given parameters on one action', async () => {
    const out = await runTrial(services, bundleOf([echo]), [{ action: 'echo', params: { who: 'me' } }]);
    expect(out.runs).to.have.length(1);
    expect(out.runs[0]!.passed).to.equal(undefined);
    expect((out.runs[0]!.activation as { response: { result: unknown } }).response.result).to.deep.equal({ echoed: { who: 'me' } });
    expect(await leftovers(out.namespace)).to.deep.equal([]);
  });

  it('waits for the record of a run still going past the wait before it cleans up', async () => {
    const slow = action('slow', 'function main() { return new Promise((ok) => setTimeout(() => ok({ done: true }), 1500)) }');
    const out = await runTrial(services, bundleOf([slow]), [{ action: 'slow', params: {}, expect: { done: true } }], { waitMs: 200 });
    expect(out.runs[0]!.passed).to.equal(false);
    expect(out.runs[0]!.activation).to.have.property('error', 'still running after 200 ms');
    expect(out.runs[0]!.activation).to.have.property('activationId').that.matches(/^[0-9a-f]{32}$/);
    expect(out.cleanedUp).to.equal(true);
    await new Promise((ok) => setTimeout(ok, 500));
    expect(await leftovers(out.namespace)).to.deep.equal([]);
  });

  it('refuses a bundle with a kind this instance does not run, before any action is written, and cleans up', async () => {
    for (const kind of ['cobol:85', 'blackbox', 'sequence', 'hub']) {
      let namespace = '';
      // (a publisher's own bundle carries no sequence: a peer's manifest may say anything that verifies)
      const bundle = asManifest(bundleOf([echo, action('zzz', 'x')]), (a) => (a.name === 'zzz' ? { ...a, kind } : a));
      const err = await runTrial(services, bundle, [{ action: 'echo', params: {} }], { progress: (x) => void (namespace ||= x.step === 'deploying' ? x.namespace : '') }).catch((e: unknown) => e);
      expect(err, kind).to.be.instanceOf(HubBundleMismatch);
      expect((err as Error).message).to.include(`its action 'zzz' has kind '${kind}', which this instance cannot run`);
      expect(namespace).to.match(/^hubtest-/);
      expect(await leftovers(namespace)).to.deep.equal([]);
    }
  });

  it('deploys what an install would, whoever calls: only the hub-safe annotations, limits within this instance\'s', async () => {
    // a manifest (consistent, verifying) that asks for the caller's key and for more than this instance allows
    const greedy: Action = { ...action('greedy', 'function main() { return { key: process.env.__OW_API_KEY ?? null } }'), annotations: [{ key: 'provide-api-key', value: true }, { key: 'description', value: 'kept' }], limits: { ...defaultLimits(), memory: 4096, timeout: 3_600_000 } };
    const bundle = asManifest(bundleOf([greedy]), (a) => ({ ...a, annotations: greedy.annotations, limits: greedy.limits }));
    let deployed: Promise<Action> | undefined;
    let namespace = '';
    const out = await runTrial(services, bundle, [{ action: 'greedy', params: {} }], {
      progress: (x) => {
        if (x.step === 'running' && !deployed) deployed = s.services.store.get('action', `${namespace}/tools`, 'greedy', { code: false });
        if (x.step === 'deploying') namespace = x.namespace;
      },
    });
    const seen = await deployed!;
    expect(seen.annotations.map((a) => a.key)).to.include('description').and.not.to.include('provide-api-key');
    expect(seen.limits).to.include({ memory: 512, timeout: 300_000 });
    const run = out.runs[0]!;
    expect('response' in run.activation && run.activation.response.result).to.deep.equal({ key: null });
    expect(out.cleanedUp).to.equal(true);
  });

  it('refuses a run of an action the bundle does not have, before creating anything', async () => {
    const before = (await s.opened.store.listSubjects()).length;
    const err = await runTrial(services, bundleOf([echo]), [{ action: 'nope', params: {} }]).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(BadRequestError);
    expect((err as Error).message).to.equal("the package 127.0.0.1:1/guest/tools@0.0.3 has no action 'nope'");
    expect((await s.opened.store.listSubjects()).length).to.equal(before);
  });

  it('sweeps the namespaces a stopped controller left mid-run, and only those old enough to be leftovers', async () => {
    const store = s.opened.store;
    const leave = async (start: number): Promise<string> => {
      const namespace = `${TRIAL_PREFIX}${start.toString(36)}-${'ab12'.repeat(3)}`;
      const { creds } = newCredentials(namespace);
      await store.putSubject({ subject: namespace, namespaces: [creds] });
      await store.put('package', { ...pkg, namespace });
      await store.put('action', { ...echo, namespace: `${namespace}/tools` });
      await store.putActivations([sampleActivation({ namespace, name: 'tools/echo', start: Date.now() })]);
      return namespace;
    };
    const old = await leave(Date.now() - TRIAL_MAX_AGE_MS - 60_000);
    const young = `${TRIAL_PREFIX}${Date.now().toString(36)}-${'cd34'.repeat(3)}`;
    await store.putSubject({ subject: young, namespaces: [newCredentials(young).creds] });
    expect(await sweepTrials(store)).to.deep.equal([old]);
    expect(await leftovers(old)).to.deep.equal([`subject ${young}`]);
    await store.deleteSubject(young);
  });
});
