import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { Topics } from '../../common/bus.ts';
import { expectOk } from '../support/api.ts';
import { factoryNames } from '../support/invoker-fixtures.ts';
import { storedRecord } from '../support/records.ts';
import { call } from '../support/server.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

type Rec = { activationId: string; name: string; duration: number; logs: string[]; cause?: string; annotations: { key: string; value: unknown }[]; response: any };
const ann = (r: Rec, key: string) => r.annotations.find((a) => a.key === key)?.value;

/** Emits a text (fork per run, a log line on stdout before its result and one on stderr). */
const EMIT = `#!/bin/sh
read -r p
echo "emit: got input"
echo "emit: on stderr" >&2
printf '{"text":"pear apple fig","in":%s}\\n' "$p"
`;
/** Splits and upper-cases the text: a long-lived Node.js reader (swirl:loop), one JSON line per run. */
const UPPER = `#!/usr/bin/env node
// swirl:loop
require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const p = JSON.parse(line);
  console.error('upper: ' + p.text.length + ' chars');
  process.stdout.write(JSON.stringify({ words: p.text.toUpperCase().split(' '), in: p.in }) + '\\n');
});
`;
/** Counts the words, naming the unit its action parameter gives (merged under the previous result). */
const COUNT = `#!/bin/sh
read -r p
n=$(printf '%s' "$p" | grep -o '"[A-Z]*"' | wc -l)
unit=$(printf '%s' "$p" | sed -n 's/.*"unit":"\\([a-z]*\\)".*/\\1/p')
echo "count: $n" >&2
printf '{"count":%d,"unit":"%s"}\\n' "$n" "$unit"
`;
/** Passes its input through as its result, byte for byte: a filter. */
const PASS = `#!/bin/sh
exec cat
`;
/** Measures the payload it is given and passes it on. */
const MEASURE = `#!/usr/bin/env node
let s = '';
process.stdin.on('data', (c) => (s += c)).on('end', () => {
  const p = JSON.parse(s);
  console.log(JSON.stringify({ data: p.data, bytes: Buffer.from(p.data, 'base64').length }));
});
`;
const SLOW = `#!/bin/sh
read -r p
echo "slow: starting" >&2
sleep 5
`;
const FAIL = `#!/bin/sh
read -r p
echo "fail: giving up" >&2
exit 3
`;

/** What a user compares between two runs of a component: everything but ids and times. */
const component = (r: Rec, seq: Rec) => ({
  name: r.name,
  response: r.response,
  causedBySequence: r.cause === seq.activationId && ann(r, 'causedBy') === 'sequence',
  path: ann(r, 'path'),
  kind: ann(r, 'kind'),
  limits: ann(r, 'limits'),
  // (lines written at once to stdout and stderr may come in either order)
  logs: r.logs.map((l) => l.replace(/^\S+ /, '')).sort(),
});
const sequenceView = (r: Rec) => ({ name: r.name, response: r.response, components: r.logs.length, kind: ann(r, 'kind'), topmost: ann(r, 'topmost'), limits: ann(r, 'limits') });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * stdio functions as pipes: a sequence of stdio actions runs as one pipeline on one invoker
 * (one activation message for all its components) and gives the same result and the same
 * records as the same sequence run component by component (SWIRL_STDIO_PIPELINES=off).
 */
for (const factory of factoryNames()) {
  describe(`stdio pipelines (${factory} containers)`, function () {
    this.timeout(120_000);
    const stacks: Record<'piped' | 'ordinary', TestStack | undefined> = { piped: undefined, ordinary: undefined };
    /** Activation messages each stack's invoker was sent. */
    const sent = { piped: 0, ordinary: 0 };

    const on = (mode: 'piped' | 'ordinary') => {
      const s = stacks[mode]!;
      const api = (path: string) => `${s.api}/namespaces/_${path}`;
      return {
        put: (name: string, body: unknown) => expectOk(call('PUT', api(`/actions/${name}?overwrite=true`), { auth: s.guestKey, body })),
        invoke: (name: string, body: unknown = {}) => call<Rec>('POST', api(`/actions/${name}?blocking=true`), { auth: s.guestKey, body }),
        record: (id: string): Promise<Rec> => storedRecord(api(`/activations/${id}`), s.guestKey),
      };
    };
    const stdio = (code: string, extra: object = {}) => ({ exec: { kind: 'stdio', code }, ...extra });
    const bothModes = async (name: string, body: unknown) => {
      const out = {} as Record<'piped' | 'ordinary', { seq: Rec; components: Rec[]; status: number; messages: number; ms: number }>;
      for (const mode of ['ordinary', 'piped'] as const) {
        const before = sent[mode];
        const t = performance.now();
        const r = await on(mode).invoke(name, body);
        const ms = performance.now() - t;
        const seq = r.body;
        out[mode] = { seq, status: r.status, components: await Promise.all(seq.logs.map(on(mode).record)), messages: sent[mode] - before, ms };
      }
      return out;
    };

    const figure = (what: string, ordinary: number, piped: number) =>
      console.log(`      ${factory}, ${what}: component by component ${ordinary.toFixed(1)} ms, piped ${piped.toFixed(1)} ms (${(ordinary / piped).toFixed(2)}×)`);
    /** The time a caller waits for a warm sequence, each way: the median of 15 blocking invokes, alternating. */
    const warmFigure = async (name: string, body: (i: number) => unknown, result: unknown, what = '') => {
      const timing = { ordinary: [] as number[], piped: [] as number[] };
      for (let i = 0; i < 15; i++) {
        for (const mode of ['ordinary', 'piped'] as const) {
          const t = performance.now();
          const r = await on(mode).invoke(name, body(i));
          timing[mode].push(performance.now() - t);
          expect(r.body.response.result, mode).to.deep.equal(result);
        }
      }
      figure(`'${name}' warm${what ? `, ${what}` : ''} (median of 15)`, median(timing.ordinary), median(timing.piped));
    };

    before(async () => {
      for (const mode of ['ordinary', 'piped'] as const) {
        const s = await startTestStack(factory, { SWIRL_INVOKER_MEMORY_MB: '2048', SWIRL_LIMIT_INVOKES_PER_MINUTE: '10000', SWIRL_STDIO_PIPELINES: mode === 'piped' ? 'on' : 'off' });
        stacks[mode] = s;
        const produce = s.infra.bus.produce.bind(s.infra.bus);
        s.infra.bus.produce = (topic, values) => {
          if (topic === Topics.invoker(0)) sent[mode] += values.length;
          return produce(topic, values);
        };
        const { put } = on(mode);
        await put('emit', stdio(EMIT));
        await put('upper', stdio(UPPER));
        await put('count', stdio(COUNT, { parameters: [{ key: 'unit', value: 'words' }] }));
        await put('pass', stdio(PASS));
        await put('measure', stdio(MEASURE));
        await put('fail', stdio(FAIL));
        await put('slow', stdio(SLOW, { limits: { timeout: 500 } }));
        await put('words', { exec: { kind: 'sequence', components: ['emit', 'upper', 'count'] } });
        await put('binary', { exec: { kind: 'sequence', components: ['pass', 'measure', 'pass'] } });
        await put('broken', { exec: { kind: 'sequence', components: ['emit', 'fail', 'count'] } });
        await put('late', { exec: { kind: 'sequence', components: ['emit', 'slow', 'count'] } });
      }
    });
    after(async () => {
      await stacks.piped?.destroy();
      await stacks.ordinary?.destroy();
    });

    it('runs emit → upper → count as one activation message, with the same result and records as component by component, and says how much faster', async () => {
      const runs = await bothModes('words', { n: 1 });
      const { piped, ordinary } = runs;
      expect(piped.status, JSON.stringify(piped.seq)).to.equal(200);
      expect(piped.seq.response.result).to.deep.equal({ count: 3, unit: 'words' });
      // the pipeline is one message to the invoker; component by component, one per component
      expect(piped.messages).to.equal(1);
      expect(ordinary.messages).to.equal(3);
      expect(sequenceView(piped.seq)).to.deep.equal(sequenceView(ordinary.seq));
      expect(piped.components.map((c) => component(c, piped.seq))).to.deep.equal(ordinary.components.map((c) => component(c, ordinary.seq)));
      expect(piped.components.map((c) => c.response.result)).to.deep.equal([
        { text: 'pear apple fig', in: { n: 1 } },
        { words: ['PEAR', 'APPLE', 'FIG'], in: { n: 1 } },
        { count: 3, unit: 'words' },
      ]);
      expect(component(piped.components[0]!, piped.seq).logs).to.deep.equal(['stderr: emit: on stderr', 'stdout: emit: got input']);
      // the sequence's duration is its components'
      expect(piped.seq.duration).to.equal(piped.components.reduce((n, c) => n + c.duration, 0));

      figure('cold (three new containers)', ordinary.ms, piped.ms);
      await warmFigure('words', (i) => ({ n: i }), { count: 3, unit: 'words' });
    });

    it('passes a binary payload as base64 through its stages unchanged, byte for byte', async () => {
      const bytes = randomBytes(192 * 1024);
      const data = bytes.toString('base64');
      const { piped, ordinary } = await bothModes('binary', { data });
      expect(piped.status).to.equal(200);
      expect(piped.messages).to.equal(1);
      expect(piped.seq.response.result.bytes).to.equal(bytes.length);
      expect(Buffer.from(piped.seq.response.result.data, 'base64').equals(bytes)).to.equal(true);
      expect(piped.seq.response.result.data).to.equal(data);
      expect(piped.components.map((c) => component(c, piped.seq))).to.deep.equal(ordinary.components.map((c) => component(c, ordinary.seq)));
      await warmFigure('binary', () => ({ data }), { data, bytes: bytes.length }, '192 KB payload');
    });

    it("stops at a failing middle stage with that stage's error, and records only the stages that ran", async () => {
      const { piped, ordinary } = await bothModes('broken', { n: 2 });
      expect(piped.status).to.equal(502);
      expect(piped.seq.response).to.deep.equal({ status: 'action developer error', statusCode: 2, success: false, result: { error: 'An error has occurred: the executable exited with code 3' } });
      expect(piped.seq.logs).to.have.length(2);
      expect(piped.components[1]!.name).to.equal('fail');
      expect(component(piped.components[1]!, piped.seq).logs).to.deep.equal(['stderr: fail: giving up']);
      expect(sequenceView(piped.seq)).to.deep.equal(sequenceView(ordinary.seq));
      expect(piped.components.map((c) => component(c, piped.seq))).to.deep.equal(ordinary.components.map((c) => component(c, ordinary.seq)));
    });

    it("holds each stage to its own time limit: a stage past it ends the pipeline with the stage's timeout", async () => {
      const { piped, ordinary } = await bothModes('late', {});
      expect(piped.status).to.equal(502);
      expect(piped.seq.response.statusCode).to.equal(2);
      expect(piped.seq.response.result.error).to.match(/500 milliseconds/);
      expect(piped.components.map((c) => c.name)).to.deep.equal(['emit', 'slow']);
      expect(ann(piped.components[1]!, 'timeout')).to.equal(true);
      expect(piped.components[1]!.duration).to.be.within(500, 2_000);
      expect(sequenceView(piped.seq)).to.deep.equal(sequenceView(ordinary.seq));
      expect(piped.components.map((c) => component(c, piped.seq))).to.deep.equal(ordinary.components.map((c) => component(c, ordinary.seq)));
    });

    it('runs a sequence with a component that is not stdio component by component', async () => {
      const { put, invoke } = on('piped');
      await put('js', { exec: { kind: 'nodejs:20', code: 'function main(p) { return { js: p.count } }' } });
      await put('mixed', { exec: { kind: 'sequence', components: ['emit', 'upper', 'count', 'js'] } });
      const before = sent.piped;
      const r = await invoke('mixed', {});
      expect(r.body.response.result).to.deep.equal({ js: 3 });
      expect(sent.piped - before).to.equal(4);
    });
  });
}
