import { expect } from 'chai';
import type { ActivationRecord } from '../../common/activation.ts';
import { MemoryBus } from '../../common/bus/memory.ts';
import type { Action, Stored } from '../../common/entities.ts';
import { NotFoundError } from '../../common/errors.ts';
import { defaultLimits } from '../../common/limits.ts';
import { silentLogger } from '../../common/logger.ts';
import { type ActivationMessage, type CompletionMessage, decodeCompletion, encode } from '../../common/messages.ts';
import type { ActivationJob } from '../../invoker/activation-runner.ts';
import type { Invoker } from '../../invoker/invoker.ts';
import type { Lease } from '../../invoker/pool.ts';
import { InvokerService } from '../../invoker/service.ts';
import { testRecord } from '../support/records.ts';

const action = (name: string): Stored<Action> =>
  ({ namespace: 'guest', name, version: '0.0.1', publish: false, annotations: [], parameters: [], updated: 0, _rev: `1-${name}`, exec: { kind: 'stdio', code: '#!/bin/sh', binary: false }, limits: defaultLimits() }) as unknown as Stored<Action>;

/**
 * The invoker's side of a pipeline (InvokerService with a fake invoker core on a memory
 * bus): the stages run in order on the previous result with their inherited parameters,
 * each in the container taken for it ahead; one result carries every stage's record; a
 * container taken for a stage that does not run goes back; a redelivered pipeline is
 * answered from its stored records.
 */
describe('InvokerService: pipelines', () => {
  let bus: MemoryBus;
  let service: InvokerService;
  let answers: CompletionMessage[];
  let runs: { name: string; params: Record<string, unknown>; lease: string | undefined }[];
  let prepared: string[];
  /** Actions whose containers the fake pool cannot place at once. */
  let queued: string[];
  /** When containers were asked for and obtained. */
  let events: string[];
  let unprepared: string[];
  let stored: Map<string, ActivationRecord>;
  /** What each action answers to its parameters. */
  const behaviour: Record<string, (p: Record<string, unknown>) => Record<string, unknown>> = {
    a: (p) => ({ n: (p.n as number) + 1 }),
    b: (p) => ({ n: (p.n as number) * 10, unit: p.unit }),
    c: (p) => ({ last: p.n, unit: p.unit }),
    bad: () => ({ error: 'no' }),
  };

  const invoker = {
    memoryMb: 1024,
    stats: () => ({ containers: 0, busy: 0, idle: 0, paused: 0, prewarm: 0, starting: 0, memoryUsedMb: 0, queued: 0 }),
    containers: () => [],
    prepare: (job: ActivationJob) => {
      prepared.push(job.action.name);
      events.push(`ask ${job.action.name}`);
      const lease = new Promise<Lease>((ok) =>
        setTimeout(() => {
          events.push(`got ${job.action.name}`);
          ok({ container: { id: `container-of-${job.action.name}` }, needsInit: false } as unknown as Lease);
        }, 5),
      );
      return { lease, queued: queued.includes(job.action.name) };
    },
    unprepare: (lease: Lease) => void unprepared.push(lease.container.id),
    store: async (r: ActivationRecord) => void stored.set(r.activationId, r),
    run: async (job: ActivationJob, onResponse: (r: ActivationRecord) => void, leased?: Promise<Lease>) => {
      const lease = await leased;
      runs.push({ name: job.action.name, params: job.params, lease: lease?.container.id });
      const result = behaviour[job.action.name]!(job.params);
      const record = testRecord({ activationId: job.activationId, name: job.action.name, cause: job.cause, response: 'error' in result ? { status: 'application error', statusCode: 1, success: false, result } : { status: 'success', statusCode: 0, success: true, result } });
      onResponse(record);
      stored.set(record.activationId, record);
      return record;
    },
  } as unknown as Invoker;

  const message = (names: string[], over: Partial<ActivationMessage> = {}): ActivationMessage => ({
    activationId: '0'.repeat(32),
    transactionId: 't',
    controllerId: '9',
    blocking: true,
    namespace: 'guest',
    subject: 'guest',
    action: { path: 'guest', name: names[0]!, rev: `1-${names[0]}` },
    params: { n: 1 },
    cause: 'f'.repeat(32),
    receivedAt: Date.now(),
    pipeline: names.slice(1).map((name, i) => ({ activationId: String(i + 1).repeat(32), action: { path: 'guest', name, rev: `1-${name}` }, defaults: name === 'b' ? { unit: 'words', n: 0 } : {} })),
    ...over,
  });
  const send = async (m: ActivationMessage) => {
    await bus.produce('invoker0', [encode(m)]);
    for (let i = 0; i < 200 && !answers.some((a) => a.type === 'completion'); i++) await new Promise((r) => setTimeout(r, 5));
  };

  beforeEach(async () => {
    answers = [];
    runs = [];
    prepared = [];
    queued = [];
    events = [];
    unprepared = [];
    stored = new Map();
    bus = new MemoryBus({ log: silentLogger });
    await bus.ensureTopics(['completed9']);
    await bus.subscribe({ topic: 'completed9', group: 'completed9', consumerId: 'c', maxInFlight: 100, handler: async (msg) => void answers.push(decodeCompletion(msg.value)) });
    const store = {
      get: async (_kind: string, _path: string, name: string) => {
        if (!behaviour[name]) throw new NotFoundError();
        return action(name);
      },
      getActivation: async (_ns: string, id: string) => stored.get(id),
    };
    const health = { name: 'memory', beat: async () => undefined, invokers: async () => [], forget: async () => undefined, ping: async () => true, close: async () => undefined };
    service = await InvokerService.start({ id: 0, bus, health: health as never, store: store as never, invoker, log: silentLogger, heartbeatMs: 60_000 });
  });
  afterEach(async () => {
    await service.close();
    await bus.close();
  });

  it('runs each stage on the previous result over its inherited parameters, in the container taken for it, and answers with every record', async () => {
    await send(message(['a', 'b', 'c']));
    expect(runs).to.deep.equal([
      { name: 'a', params: { n: 1 }, lease: 'container-of-a' },
      { name: 'b', params: { unit: 'words', n: 2 }, lease: 'container-of-b' },
      { name: 'c', params: { n: 20, unit: 'words' }, lease: 'container-of-c' },
    ]);
    const result = answers.find((a) => a.type === 'result') as Extract<CompletionMessage, { type: 'result' }>;
    expect(result.activationId).to.equal('0'.repeat(32));
    expect([result.record, ...result.stages!].map((r) => [r.name, r.cause, r.response.result])).to.deep.equal([
      ['a', 'f'.repeat(32), { n: 2 }],
      ['b', 'f'.repeat(32), { n: 20, unit: 'words' }],
      ['c', 'f'.repeat(32), { last: 20, unit: 'words' }],
    ]);
    expect(answers.filter((a) => a.type === 'completion')).to.deep.equal([{ type: 'completion', activationId: '0'.repeat(32), invokerId: 0, systemError: false }]);
    expect(unprepared).to.deep.equal([]);
  });

  it("asks for every stage's container at once, except after a stage that waits for room: the next ones ask once it has its own", async () => {
    await send(message(['a', 'b', 'c']));
    expect(events.slice(0, 3)).to.deep.equal(['ask a', 'ask b', 'ask c']);
    answers = [];
    events = [];
    queued = ['b'];
    await send(message(['a', 'b', 'c'], { activationId: '9'.repeat(32), pipeline: message(['a', 'b', 'c']).pipeline!.map((s, i) => ({ ...s, activationId: String(i + 5).repeat(32) })) }));
    expect(events.indexOf('ask c')).to.be.greaterThan(events.indexOf('got b'));
    expect(events.slice(0, 2)).to.deep.equal(['ask a', 'ask b']);
  });

  it('takes no second container ahead for an action an earlier stage runs too', async () => {
    await send(message(['a', 'b', 'a']));
    expect(prepared).to.deep.equal(['a', 'b']);
    expect(runs.map((r) => [r.name, r.lease])).to.deep.equal([
      ['a', 'container-of-a'],
      ['b', 'container-of-b'],
      ['a', undefined],
    ]);
  });

  it('stops at a stage whose result carries an error, giving back the container taken for the next', async () => {
    await send(message(['a', 'bad', 'c']));
    expect(runs.map((r) => r.name)).to.deep.equal(['a', 'bad']);
    const result = answers.find((a) => a.type === 'result') as Extract<CompletionMessage, { type: 'result' }>;
    expect(result.stages!.map((r) => r.response.result)).to.deep.equal([{ error: 'no' }]);
    for (let i = 0; i < 50 && unprepared.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(prepared).to.deep.equal(['a', 'bad', 'c']);
    expect(unprepared).to.deep.equal(['container-of-c']);
  });

  it("ends at a stage whose action is gone, with OpenWhisk's record of a removed action", async () => {
    await send(message(['a', 'gone', 'c']));
    expect(runs.map((r) => r.name)).to.deep.equal(['a']);
    const result = answers.find((a) => a.type === 'result') as Extract<CompletionMessage, { type: 'result' }>;
    expect(result.stages!.map((r) => [r.activationId, r.response])).to.deep.equal([['1'.repeat(32), { status: 'application error', statusCode: 1, success: false, result: { error: 'Action could not be found or may have been deleted.' } }]]);
    expect(stored.has('1'.repeat(32)), 'its record is stored').to.equal(true);
  });

  const ranBefore = (...records: [string, string, Record<string, unknown>][]) => {
    for (const [id, name, result] of records) stored.set(id.repeat(32), testRecord({ activationId: id.repeat(32), name, response: { status: 'success', statusCode: 0, success: true, result } }));
  };
  const answered = () => {
    const result = answers.find((a) => a.type === 'result') as Extract<CompletionMessage, { type: 'result' }>;
    return [result.record, ...result.stages!].map((r) => [r.name, r.response.result]);
  };

  it('answers a pipeline delivered again from the records it stored, running nothing', async () => {
    ranBefore(['0', 'a', { n: 2 }], ['1', 'b', { n: 20 }], ['2', 'c', { last: 20 }]);
    await send(message(['a', 'b', 'c'], { receivedAt: 0 }));
    expect(runs).to.deep.equal([]);
    expect(answered()).to.deep.equal([
      ['a', { n: 2 }],
      ['b', { n: 20 }],
      ['c', { last: 20 }],
    ]);
  });

  it('goes on with a pipeline delivered again after a crash, from the stage after the last one that ran', async () => {
    ranBefore(['0', 'a', { n: 2 }]);
    await send(message(['a', 'b', 'c'], { receivedAt: 0 }));
    expect(runs.map((r) => [r.name, r.params])).to.deep.equal([
      ['b', { unit: 'words', n: 2 }],
      ['c', { n: 20, unit: 'words' }],
    ]);
    expect(answered()).to.deep.equal([
      ['a', { n: 2 }],
      ['b', { n: 20, unit: 'words' }],
      ['c', { last: 20, unit: 'words' }],
    ]);
  });
});
