import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { testRecord } from '../support/records.ts';
import type { ActivationRecord } from '../../common/activation.ts';
import { MemoryBus } from '../../common/bus/memory.ts';
import { ServiceUnavailableError } from '../../common/errors.ts';
import { silentLogger } from '../../common/logger.ts';
import { type ActivationMessage, type CompletionMessage, decodeActivation, encode } from '../../common/messages.ts';
import { LoadBalancer, type Scheduler } from '../../loadbalancer/balancer.ts';
import { ShardingScheduler } from '../../loadbalancer/sharding.ts';

/** A scheduler double that records what was held and released. */
class FakeScheduler implements Scheduler {
  held = new Map<number, number>();
  invokers = [3];
  schedule(_ns: string, _fqn: string, memoryMb: number) {
    const invokerId = this.invokers[0];
    if (invokerId === undefined) return undefined;
    this.held.set(invokerId, (this.held.get(invokerId) ?? 0) + memoryMb);
    return { invokerId, forced: false };
  }
  release(invokerId: number, memoryMb: number) {
    this.held.set(invokerId, (this.held.get(invokerId) ?? 0) - memoryMb);
  }
}

const message = (over: Partial<ActivationMessage> = {}): ActivationMessage => ({
  activationId: 'a'.repeat(31) + String(Math.floor(Math.random() * 10)),
  transactionId: 't',
  controllerId: '7',
  blocking: true,
  namespace: 'guest',
  subject: 'guest',
  action: { path: 'guest', name: 'hello', rev: '1-a' },
  params: {},
  receivedAt: Date.now(),
  ...over,
});

const record = (activationId: string): ActivationRecord => testRecord({ activationId });

describe('load balancer (memory bus)', () => {
  let bus: MemoryBus;
  let scheduler: FakeScheduler;
  let lb: LoadBalancer;
  let outcomes: [number, string][];
  let finished: string[];
  const start = async (completionGraceMs = 60_000) => {
    bus = new MemoryBus({ log: silentLogger });
    scheduler = new FakeScheduler();
    outcomes = [];
    finished = [];
    lb = await LoadBalancer.start({
      controllerId: '7',
      bus,
      scheduler,
      health: { outcome: (id, kind) => outcomes.push([id, kind]) },
      log: silentLogger,
      completionGraceMs,
      onFinished: (a) => finished.push(a.activationId),
    });
  };
  afterEach(async () => {
    await lb?.close();
    await bus?.close();
  });

  it('posts to the chosen invoker, hands the result to the caller, and frees the slot on completion', async () => {
    await start();
    const answered: CompletionMessage[] = [];
    // an invoker: answers each activation with a result and then a completion
    await bus.subscribe({
      topic: 'invoker3',
      group: 'invoker3',
      consumerId: 'invoker3',
      maxInFlight: 10,
      handler: async (msg) => {
        const m = decodeActivation(msg.value);
        const result: CompletionMessage = { type: 'result', activationId: m.activationId, invokerId: 3, record: record(m.activationId) };
        const completion: CompletionMessage = { type: 'completion', activationId: m.activationId, invokerId: 3, systemError: false };
        answered.push(result, completion);
        await bus.produce('completed7', [encode(result), encode(completion)]);
      },
    });
    const m = message();
    const { invokerId, result } = await lb.publish(m, { fqn: 'guest/hello', memoryMb: 256, timeoutMs: 1000 });
    expect(invokerId).to.equal(3);
    expect((await result)?.response.result).to.deep.equal({ ok: true });
    for (let i = 0; i < 50 && lb.activeCount > 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(lb.activeCount).to.equal(0);
    expect(scheduler.held.get(3)).to.equal(0);
    expect(outcomes).to.deep.equal([[3, 'ok']]);
    expect(finished).to.deep.equal([m.activationId]);
  });

  it('ends the activation for its caller (throttles) at the result, and frees the memory slot at the completion', async () => {
    await start();
    const m = message();
    const { result } = await lb.publish(m, { fqn: 'guest/hello', memoryMb: 256, timeoutMs: 1000 });
    await bus.produce('completed7', [encode({ type: 'result', activationId: m.activationId, invokerId: 3, record: record(m.activationId) })]);
    await result;
    expect(finished, 'ended for the caller').to.deep.equal([m.activationId]);
    expect(scheduler.held.get(3), 'the invoker still writes the record').to.equal(256);
    await bus.produce('completed7', [encode({ type: 'completion', activationId: m.activationId, invokerId: 3, systemError: false })]);
    for (let i = 0; i < 50 && lb.activeCount > 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(scheduler.held.get(3)).to.equal(0);
    expect(finished, 'once').to.deep.equal([m.activationId]);
  });

  it("hands a pipeline's caller the records of its later stages with the first one's", async () => {
    await start();
    const stage = (id: string) => ({ activationId: id, action: { path: 'guest', name: 'next', rev: '1-a' }, defaults: {} });
    const m = message({ pipeline: [stage('b'.repeat(32)), stage('c'.repeat(32))] });
    const { result, stages } = await lb.publish(m, { fqn: 'guest/hello', memoryMb: 256, timeoutMs: 1000 });
    await bus.produce('completed7', [encode({ type: 'result', activationId: m.activationId, invokerId: 3, record: record(m.activationId), stages: [record('b'.repeat(32)), record('c'.repeat(32))] })]);
    expect((await result)?.activationId).to.equal(m.activationId);
    expect((await stages)?.map((r) => r.activationId)).to.deep.equal(['b'.repeat(32), 'c'.repeat(32)]);
  });

  it('holds memory per container for an action with concurrency above 1, and frees it with the last completion', async () => {
    bus = new MemoryBus({ log: silentLogger });
    const sharding = new ShardingScheduler();
    sharding.update([{ id: 0, state: 'up', memoryMb: 2048 }]);
    lb = await LoadBalancer.start({ controllerId: '7', bus, scheduler: sharding, health: { outcome: () => undefined }, log: silentLogger });
    const placement = { fqn: 'guest/par', memoryMb: 256, timeoutMs: 1000, concurrency: 100, revision: '1-a' };
    const ms = Array.from({ length: 8 }, () => message({ blocking: false, activationId: randomBytes(16).toString('hex') }));
    for (const m of ms) await lb.publish(m, placement);
    expect(sharding.load()[0]).to.include({ usedMb: 256, inFlight: 8 });
    const done = (m: ActivationMessage) => encode({ type: 'completion', activationId: m.activationId, invokerId: 0, systemError: false });
    await bus.produce('completed7', ms.slice(0, 7).map(done));
    for (let i = 0; i < 50 && lb.activeCount > 1; i++) await new Promise((r) => setTimeout(r, 5));
    expect(sharding.load()[0], 'one still runs in the container').to.include({ usedMb: 256, inFlight: 1 });
    await bus.produce('completed7', [done(ms[7]!)]);
    for (let i = 0; i < 50 && lb.activeCount > 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(sharding.load()[0]).to.include({ usedMb: 0, inFlight: 0 });
  });

  it('gives the slot back and counts a timeout against the invoker when no completion comes', async () => {
    await start(20);
    const m = message();
    const { result } = await lb.publish(m, { fqn: 'guest/hello', memoryMb: 256, timeoutMs: 30 });
    expect(await result, 'the blocking caller stops waiting').to.equal(undefined);
    expect(lb.activeCount).to.equal(0);
    expect(scheduler.held.get(3)).to.equal(0);
    expect(outcomes).to.deep.equal([[3, 'timeout']]);
    expect(finished).to.deep.equal([m.activationId]);
  });

  it('refuses with 503 when no invoker is healthy, or when the bus cannot take the message, holding nothing', async () => {
    await start();
    scheduler.invokers = [];
    const none = await lb.publish(message(), { fqn: 'guest/hello', memoryMb: 256, timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(none).to.be.instanceOf(ServiceUnavailableError);
    expect((none as Error).message).to.equal('No invokers available.');

    scheduler.invokers = [3];
    bus.produce = async () => {
      throw new ServiceUnavailableError('down');
    };
    const down = await lb.publish(message(), { fqn: 'guest/hello', memoryMb: 256, timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(down).to.be.instanceOf(ServiceUnavailableError);
    expect(lb.activeCount).to.equal(0);
    expect(scheduler.held.get(3)).to.equal(0);
  });

  it('ignores completions it does not know (published before a restart) and messages that are not completions', async () => {
    await start();
    await bus.produce('completed7', [encode({ type: 'completion', activationId: 'f'.repeat(32), invokerId: 3, systemError: true }), 'not json']);
    await new Promise((r) => setTimeout(r, 20));
    expect(outcomes).to.deep.equal([]);
  });
});
