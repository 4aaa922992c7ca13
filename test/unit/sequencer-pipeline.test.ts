import { expect } from 'chai';
import type { ActivationRecord } from '../../common/activation.ts';
import { type Action, type Stored } from '../../common/entities.ts';
import { NotFoundError, ServiceUnavailableError } from '../../common/errors.ts';
import type { Identity } from '../../common/identity.ts';
import { defaultLimits } from '../../common/limits.ts';
import { silentLogger } from '../../common/logger.ts';
import type { QualifiedName } from '../../common/names.ts';
import { Activator, type InvokeRequest } from '../../controller/activator.ts';
import type { PipelineComponent } from '../../controller/pipeline.ts';
import type { ResolvedAction } from '../../controller/resolver.ts';
import { Sequencer } from '../../controller/sequencer.ts';
import type { LoadBalancer } from '../../loadbalancer/balancer.ts';
import type { ActivationMessage } from '../../common/messages.ts';
import { testRecord } from '../support/records.ts';

const identity: Identity = { subject: 'guest', namespace: 'guest', uuid: 'u', keyHash: 'h' };
const action = (name: string, kind: string, over: Partial<Action> = {}): Stored<Action> =>
  ({ namespace: 'guest', name, version: '0.0.1', publish: false, annotations: [], parameters: [], updated: 0, _rev: `1-${name}`, exec: kind === 'sequence' ? { kind, components: [] } : { kind, code: 'x' }, limits: defaultLimits(), ...over }) as Stored<Action>;
const resolvedOf = (a: Stored<Action>, params: Record<string, unknown> = {}): ResolvedAction => ({ action: a, path: 'guest', params });
const ok = (activationId: string, name: string, result: Record<string, unknown>, duration = 5): ActivationRecord => testRecord({ activationId, name, duration, response: { status: 'success', statusCode: 0, success: true, result } });

/**
 * The Sequencer's choice between a pipeline and the ordinary run, with fakes for what it
 * calls: which sequences it sends as one pipeline, how it folds the pipeline's records into
 * the sequence's, and when it runs component by component instead.
 */
describe('Sequencer: stdio pipelines', () => {
  let actions: Map<string, ResolvedAction>;
  let piped: { components: PipelineComponent[]; params: Record<string, unknown>; req: InvokeRequest }[];
  let oneByOne: string[];
  let written: ActivationRecord[];
  let pipeline: (components: PipelineComponent[], params: Record<string, unknown>) => Promise<ActivationRecord[] | undefined>;

  const sequencer = (withPipelines = true) =>
    new Sequencer({
      resolver: {
        action: async (_ns: string, t: QualifiedName) => {
          const a = actions.get(t.name);
          if (!a) throw new NotFoundError();
          return a;
        },
      },
      activator: {
        invokeResolved: async (req: InvokeRequest, r: ResolvedAction) => {
          oneByOne.push(r.action.name);
          const id = r.action.name.padEnd(32, '0');
          return { activationId: id, record: ok(id, r.action.name, { ...req.params, [r.action.name]: true }) };
        },
      },
      admission: { admitInvoke: async () => undefined, finished: async () => undefined },
      records: { write: async (r: ActivationRecord) => void written.push(r) },
      log: silentLogger,
      ...(withPipelines
        ? {
            pipelines: {
              invokePipeline: async (req: InvokeRequest, components: PipelineComponent[], params: Record<string, unknown>) => {
                piped.push({ req, components, params });
                return pipeline(components, params);
              },
            },
          }
        : {}),
    });
  const run = async (components: string[], params: Record<string, unknown> = { n: 1 }, s = sequencer()) => {
    const seq = resolvedOf(action('seq', 'sequence', { exec: { kind: 'sequence', components, binary: false } }));
    const out = await s.run({ identity, target: { namespace: 'guest', name: 'seq' }, params, blocking: true, waitMs: 5_000, tid: 't' }, seq, params, 'f'.repeat(32));
    return out.record!;
  };

  beforeEach(() => {
    actions = new Map([
      ['a', resolvedOf(action('a', 'stdio'))],
      ['b', resolvedOf(action('b', 'stdio'), { unit: 'words' })],
      ['c', resolvedOf(action('c', 'stdio'))],
      ['js', resolvedOf(action('js', 'nodejs:20'))],
    ]);
    piped = [];
    oneByOne = [];
    written = [];
    pipeline = async (components) => components.map((c, i) => ok(c.activationId, c.resolved.action.name, { stage: i }, 10 + i));
  });

  it('sends a sequence of stdio actions as one pipeline, and makes its record of the components: ids as logs, durations summed, the last result', async () => {
    const rec = await run(['a', 'b', 'c']);
    expect(oneByOne).to.deep.equal([]);
    expect(piped).to.have.length(1);
    const [{ components, params, req }] = piped as [(typeof piped)[0]];
    expect(components.map((c) => c.resolved.action.name)).to.deep.equal(['a', 'b', 'c']);
    expect(components[1]!.resolved.params, 'inherited parameters travel with the component').to.deep.equal({ unit: 'words' });
    expect(new Set(components.map((c) => c.activationId)).size).to.equal(3);
    expect(params).to.deep.equal({ n: 1 });
    expect(req).to.include({ cause: 'f'.repeat(32), causedBy: 'sequence', blocking: true });
    expect(rec.logs).to.deep.equal(components.map((c) => c.activationId));
    expect(rec.duration).to.equal(10 + 11 + 12);
    expect(rec.response.result).to.deep.equal({ stage: 2 });
    expect(written.map((r) => r.activationId)).to.deep.equal(['f'.repeat(32)]);
  });

  it("ends with the error of the stage that failed, listing only the stages that ran", async () => {
    pipeline = async (components) => [ok(components[0]!.activationId, 'a', {}), testRecord({ activationId: components[1]!.activationId, duration: 3, response: { status: 'application error', statusCode: 1, success: false, result: { error: 'no' } } })];
    const rec = await run(['a', 'b', 'c']);
    expect(rec.response).to.deep.equal({ status: 'application error', statusCode: 1, success: false, result: { error: 'no' } });
    expect(rec.logs).to.deep.equal(piped[0]!.components.slice(0, 2).map((c) => c.activationId));
  });

  it("says so when the invoker does not answer in time, naming the first component", async () => {
    pipeline = async () => undefined;
    const rec = await run(['a', 'b']);
    const first = piped[0]!.components[0]!.activationId;
    expect(rec.response).to.deep.equal({ status: 'whisk internal error', statusCode: 3, success: false, result: { error: `Timeout reached when retrieving activation ${first} for sequence component.` } });
    expect(rec.logs).to.deep.equal([first]);
  });

  it('runs component by component when the pipeline cannot be placed', async () => {
    pipeline = () => Promise.reject(new ServiceUnavailableError('No invokers available.'));
    const rec = await run(['a', 'b', 'c']);
    expect(piped).to.have.length(1);
    expect(oneByOne).to.deep.equal(['a', 'b', 'c']);
    expect(rec.response.result).to.deep.equal({ n: 1, a: true, b: true, c: true });
  });

  it('runs component by component a sequence with another kind, a missing component, one component, or with pipelines off', async () => {
    for (const [components, expected] of [
      [['a', 'js', 'c'], ['a', 'js', 'c']],
      [['a', 'gone', 'c'], ['a']],
      [['a'], ['a']],
    ] as const) {
      oneByOne = [];
      await run([...components]);
      expect(oneByOne, components.join()).to.deep.equal(expected);
    }
    oneByOne = [];
    await run(['a', 'b'], {}, sequencer(false));
    expect(oneByOne).to.deep.equal(['a', 'b']);
    expect(piped).to.deep.equal([]);
  });
});

/** The Activator's side: one message for all components, each admitted by the throttles, the later ones let go once answered. */
describe('Activator: invokePipeline', () => {
  const components = (['a', 'b', 'c'] as const).map((n, i) => ({ resolved: resolvedOf(action(n, 'stdio', { limits: { ...defaultLimits(), memory: 128 * (i + 1), timeout: 1_000 } }), n === 'b' ? { unit: 'words' } : {}), activationId: n.repeat(32) }));
  const req: InvokeRequest = { identity, target: { namespace: 'guest', name: 'a' }, params: {}, blocking: true, waitMs: 5_000, tid: 't', cause: 'f'.repeat(32), causedBy: 'sequence' };

  const setup = (publish: LoadBalancer['publish'], refuse?: string) => {
    const log = { admitted: [] as string[], finished: [] as string[] };
    const activator = new Activator({
      controllerId: '0',
      resolver: {} as never,
      admission: {
        admitInvoke: async (_i, id) => {
          if (id === refuse) throw new Error('throttled');
          log.admitted.push(id);
        },
        finished: async (_ns, id) => void log.finished.push(id),
      },
      balancer: { publish } as LoadBalancer,
      actionKeys: { keyFor: () => 'k' },
      log: silentLogger,
    });
    return { activator, log };
  };

  it('publishes one message naming the later components with their inherited parameters, placed as its largest and longest parts', async () => {
    let sent: { message: ActivationMessage; placement: unknown } | undefined;
    const { activator, log } = setup(async (message, placement) => {
      sent = { message, placement };
      return { invokerId: 0, result: Promise.resolve(ok('a'.repeat(32), 'a', {})), stages: Promise.resolve([ok('b'.repeat(32), 'b', {}), ok('c'.repeat(32), 'c', {})]) };
    });
    const records = await activator.invokePipeline(req, components, { n: 1 });
    expect(records?.map((r) => r.name)).to.deep.equal(['a', 'b', 'c']);
    expect(sent!.message).to.include({ activationId: 'a'.repeat(32), cause: 'f'.repeat(32), blocking: true });
    expect(sent!.message.params).to.deep.equal({ n: 1 });
    expect(sent!.message.pipeline).to.deep.equal([
      { activationId: 'b'.repeat(32), action: { path: 'guest', name: 'b', rev: '1-b' }, defaults: { unit: 'words' }, annotations: [{ key: 'causedBy', value: 'sequence' }] },
      { activationId: 'c'.repeat(32), action: { path: 'guest', name: 'c', rev: '1-c' }, defaults: {}, annotations: [{ key: 'causedBy', value: 'sequence' }] },
    ]);
    expect(sent!.placement).to.deep.equal({ fqn: 'guest/a', memoryMb: 384, timeoutMs: 3_000 });
    expect(log.admitted).to.deep.equal(['a', 'b', 'c'].map((n) => n.repeat(32)));
    // the first one's slot goes back with the balancer's completion, as any activation's
    expect(log.finished).to.deep.equal(['b', 'c'].map((n) => n.repeat(32)));
  });

  it('lets go of what it admitted, publishing nothing, when a component is refused', async () => {
    let published = false;
    const { activator, log } = setup(async () => {
      published = true;
      throw new Error('unreachable');
    }, 'c'.repeat(32));
    const failure = await activator.invokePipeline(req, components, {}).catch((e: Error) => e);
    expect((failure as Error).message).to.equal('throttled');
    expect(published).to.equal(false);
    expect(log.finished).to.deep.equal(['a', 'b'].map((n) => n.repeat(32)));
  });
});
