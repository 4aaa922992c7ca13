import { expect } from 'chai';
import { type ContainerEvent, type ContainerState, ImpossibleTransitionError, transition } from '../../invoker/container-state.ts';
import { idleExpired, memoryUsed, pauseDue, place, type SlotView, stemsToStart, victimsFor, warmFor } from '../../invoker/pool-decisions.ts';

const NODE = { kind: 'nodejs:20', image: 'swirl/runtime-nodejs-20:test' };

let clock = 1_000;
/** A container as the decisions see it; each one made later counts as used more recently. */
const slot = (over: Partial<SlotView> & { name?: string } = {}): SlotView & { name?: string } => ({
  state: 'idle',
  key: 'a',
  ...NODE,
  memoryMb: 256,
  concurrency: 1,
  inFlight: 0,
  lastUsed: clock++,
  ...over,
});
const need = (key: string, over: Partial<typeof NODE & { memoryMb: number }> = {}) => ({ key, ...NODE, memoryMb: 256, ...over });
const budget = (memoryMb: number) => ({ memoryMb });

describe('container states: one transition function', () => {
  const steps = (from: ContainerState, events: Array<[ContainerEvent, number]>): ContainerState[] => {
    const seen: ContainerState[] = [];
    let s = from;
    for (const [e, inFlight] of events) seen.push((s = transition(s, e, inFlight)));
    return seen;
  };

  it('walks a stem cell through init, warm use, pause, resume and the idle timeout', () => {
    expect(
      steps('starting', [
        ['started', 0],
        ['leased', 1],
        ['init-ok', 1],
        ['leased', 2],
        ['released:keep', 1],
        ['released:keep', 0],
        ['pause', 0],
        ['pause-ok', 0],
        ['leased', 1],
        ['resume-ok', 1],
        ['released:keep', 0],
        ['idle-timeout', 0],
      ]),
    ).to.deep.equal(['prewarmed', 'initializing', 'busy', 'busy', 'busy', 'idle', 'pausing', 'paused', 'resuming', 'busy', 'idle', 'removed']);
  });

  it('a cold start initializes for the activation that asked; a failed start or init takes it out', () => {
    expect(transition('starting', 'started', 1)).to.equal('initializing');
    expect(transition('starting', 'start-failed', 1)).to.equal('removed');
    // others wait at the gate (retiring: none of them may take it); it goes when its first activation destroys it
    expect(steps('initializing', [['init-failed', 2], ['left', 1], ['released:destroy', 0]])).to.deep.equal(['retiring', 'retiring', 'removed']);
    // a first activation that never reported its init leaves a warm container
    expect(transition('initializing', 'released:keep', 0)).to.equal('idle');
  });

  it('retires after a failed activation: it stays while others run in it and is removed with the last', () => {
    expect(steps('busy', [['released:retire', 2], ['released:keep', 1], ['released:keep', 0]])).to.deep.equal(['retiring', 'retiring', 'removed']);
    expect(transition('busy', 'released:retire', 0)).to.equal('removed');
    expect(transition('busy', 'released:destroy', 3)).to.equal('removed');
  });

  it('a pause that fails leaves the container idle and running; one taken while pausing is resumed', () => {
    expect(transition('pausing', 'pause-failed', 0)).to.equal('idle');
    expect(transition('pausing', 'leased', 1)).to.equal('resuming');
    expect(transition('resuming', 'resume-failed', 1)).to.equal('removed');
  });

  it('a crash, the pool closing or an eviction removes it; a removed container stays removed whatever comes late', () => {
    for (const s of ['starting', 'prewarmed', 'initializing', 'busy', 'idle', 'paused', 'resuming', 'retiring'] as const) {
      expect(transition(s, 'crashed', 0), s).to.equal('removed');
      expect(transition(s, 'closed', 0), s).to.equal('removed');
    }
    for (const s of ['prewarmed', 'idle', 'pausing', 'paused'] as const) expect(transition(s, 'evicted', 0), s).to.equal('removed');
    for (const e of ['leased', 'released:keep', 'init-ok', 'pause-ok', 'idle-timeout'] as const) expect(transition('removed', e, 0), e).to.equal('removed');
  });

  it('refuses what cannot happen, naming the state and the event', () => {
    const impossible: Array<[ContainerState, ContainerEvent]> = [
      ['busy', 'evicted'], // never a container with activations in flight
      ['busy', 'pause'],
      ['retiring', 'leased'],
      ['prewarmed', 'released:keep'],
      ['idle', 'init-ok'],
      ['paused', 'released:keep'],
      ['starting', 'pause'],
      ['resuming', 'idle-timeout'],
      ['idle', 'started'],
    ];
    for (const [s, e] of impossible) {
      expect(() => transition(s, e, 0), `${s} + ${e}`).to.throw(ImpossibleTransitionError, `'${e}' cannot happen to a container that is ${s}`);
    }
  });
});

describe('pool decisions: placement', () => {
  it('takes a warm container of the same action before a stem cell, a stem cell before a new container', () => {
    const warm = slot({ key: 'a' });
    const stem = slot({ state: 'prewarmed', key: undefined });
    expect(place([stem, warm], need('a'), budget(4096), true)).to.deep.equal({ how: 'warm', slot: warm });
    expect(place([stem, warm], need('b'), budget(4096), true)).to.deep.equal({ how: 'prewarm', slot: stem });
    expect(place([warm], need('b'), budget(4096), true)).to.deep.equal({ how: 'cold', evict: [] });
  });

  it('a stem cell serves only its kind, image and memory', () => {
    const stem = slot({ state: 'prewarmed', key: undefined });
    for (const other of [need('b', { memoryMb: 512 }), need('b', { kind: 'python:3' }), need('b', { image: 'swirl/runtime-nodejs-20:old' })]) {
      expect(place([stem], other, budget(4096), true).how).to.equal('cold');
    }
  });

  it('among warm containers: a running one before a paused one before one still starting, then the most recently used', () => {
    const starting = slot({ state: 'starting', inFlight: 1, concurrency: 4 });
    const paused = slot({ state: 'paused' });
    const older = slot({ state: 'idle' });
    const newer = slot({ state: 'busy', inFlight: 1, concurrency: 2 });
    expect(warmFor([starting, paused, older, newer], 'a')).to.equal(newer);
    expect(warmFor([starting, paused, older], 'a')).to.equal(older);
    expect(warmFor([starting, paused], 'a')).to.equal(paused);
    expect(warmFor([starting], 'a')).to.equal(starting);
  });

  it('passes over full, retiring and other actions’ containers', () => {
    const full = slot({ state: 'busy', inFlight: 2, concurrency: 2 });
    const retiring = slot({ state: 'retiring', inFlight: 1, concurrency: 4 });
    const other = slot({ key: 'b' });
    const stem = slot({ state: 'prewarmed', key: undefined });
    expect(warmFor([full, retiring, other, stem], 'a')).to.equal(undefined);
  });

  it('evicts idle containers of other actions, least recently used first and stem cells last, only as many as needed', () => {
    const stem = slot({ state: 'prewarmed', key: undefined, name: 'stem' });
    const lru = slot({ key: 'x', state: 'paused', name: 'lru' });
    const mid = slot({ key: 'y', state: 'idle', name: 'mid' });
    const busy = slot({ key: 'z', state: 'busy', inFlight: 1, name: 'busy' });
    const names = (p: ReturnType<typeof place>) => (p.how === 'cold' ? p.evict.map((s) => (s as { name?: string }).name) : p.how);
    // 1024 MB held, 256 free: one victim makes room for 512
    expect(names(place([mid, busy, stem, lru], need('a', { memoryMb: 512 }), budget(1280), true))).to.deep.equal(['lru']);
    expect(names(place([mid, busy, stem, lru], need('a', { memoryMb: 512 }), budget(1024), true))).to.deep.equal(['lru', 'mid']);
    expect(names(place([mid, busy, stem, lru], need('a', { memoryMb: 768 }), budget(1024), true))).to.deep.equal(['lru', 'mid', 'stem']);
    // a busy container is never evicted: not enough room even with every idle one gone, so it waits
    expect(place([mid, busy, stem, lru], need('a', { memoryMb: 1024 }), budget(1024), true)).to.deep.equal({ how: 'queue' });
    expect(victimsFor([mid, busy, stem, lru], 1024, budget(1024))).to.equal(undefined);
  });

  it('a request that arrives while others wait may take a warm container of its own, nothing else', () => {
    const stem = slot({ state: 'prewarmed', key: undefined });
    const warm = slot({ key: 'a' });
    expect(place([stem, warm], need('a'), budget(4096), false).how).to.equal('warm');
    expect(place([stem, warm], need('b'), budget(4096), false).how).to.equal('queue');
    expect(place([], need('b'), budget(4096), false).how).to.equal('queue');
  });

  it('counts the memory of every container the pool holds, starting ones too', () => {
    expect(memoryUsed([slot({ state: 'starting', memoryMb: 128 }), slot({ memoryMb: 512 }), slot({ state: 'removed', memoryMb: 256 })])).to.equal(640);
  });
});

describe('pool decisions: pausing, idle timeout, stem cells', () => {
  it('pauses only a warm container with nothing in flight, never a stem cell or one taken meanwhile', () => {
    expect(pauseDue(slot({ state: 'idle' }))).to.equal(true);
    expect(pauseDue(slot({ state: 'busy', inFlight: 1 }))).to.equal(false);
    expect(pauseDue(slot({ state: 'resuming', inFlight: 1 }))).to.equal(false);
    expect(pauseDue(slot({ state: 'paused' })), 'already').to.equal(false);
    expect(pauseDue(slot({ state: 'prewarmed', key: undefined }))).to.equal(false);
    expect(pauseDue(slot({ state: 'removed' }))).to.equal(false);
  });

  it('times out an idle container whether running, pausing or paused, not one in use', () => {
    for (const state of ['idle', 'pausing', 'paused'] as const) expect(idleExpired(slot({ state })), state).to.equal(true);
    for (const state of ['busy', 'resuming', 'retiring', 'removed'] as const) expect(idleExpired(slot({ state, inFlight: state === 'removed' ? 0 : 1 })), state).to.equal(false);
    expect(idleExpired(slot({ state: 'prewarmed', key: undefined }))).to.equal(false);
  });

  it('starts the stem cells missing from each configuration while memory allows, those starting counted', () => {
    const node = { ...NODE, memoryMb: 256, count: 2 };
    const py = { kind: 'python:3', image: 'py', memoryMb: 256, count: 1 };
    expect(stemsToStart([], [node, py], budget(4096))).to.deep.equal([node, node, py]);
    expect(stemsToStart([slot({ state: 'starting', key: undefined })], [node, py], budget(4096))).to.deep.equal([node, py]);
    // a stem cell taken by an action no longer counts as one
    expect(stemsToStart([slot({ state: 'initializing', key: 'a', inFlight: 1 })], [node], budget(4096))).to.deep.equal([node, node]);
    // 512 MB free: the first configuration's two, none for the second
    expect(stemsToStart([slot({ key: 'a', memoryMb: 512 })], [node, py], budget(1024))).to.deep.equal([node, node]);
    expect(stemsToStart([slot({ key: 'a', memoryMb: 1024 })], [node], budget(1024))).to.deep.equal([]);
  });
});
