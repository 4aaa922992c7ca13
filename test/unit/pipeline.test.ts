import { expect } from 'chai';
import type { ActivationRecord, ActivationResponse } from '../../common/activation.ts';
import type { Stored, Action } from '../../common/entities.ts';
import { pipes } from '../../controller/pipeline.ts';
import type { ResolvedAction } from '../../controller/resolver.ts';
import { runPipeline, type Stage } from '../../invoker/pipeline.ts';
import { testRecord } from '../support/records.ts';

const resolved = (kind: string): ResolvedAction => ({ action: { name: kind, exec: { kind } } as Stored<Action>, path: 'guest', params: {} });

describe('stdio pipelines: which sequences pipe (controller/pipeline.ts)', () => {
  it('pipes two or more stdio actions within the limit of atomic actions', () => {
    expect(pipes([resolved('stdio'), resolved('stdio')], 0, 50)).to.equal(true);
    expect(pipes([resolved('stdio:default'), resolved('stdio'), resolved('stdio')], 47, 50)).to.equal(true);
  });

  it('runs component by component a single component, another kind, a nested sequence, or more atomic actions than the limit', () => {
    expect(pipes([resolved('stdio')], 0, 50), 'one').to.equal(false);
    expect(pipes([], 0, 50), 'none').to.equal(false);
    expect(pipes([resolved('stdio'), resolved('nodejs:20')], 0, 50), 'nodejs').to.equal(false);
    expect(pipes([resolved('sequence'), resolved('stdio')], 0, 50), 'nested').to.equal(false);
    expect(pipes([resolved('stdio'), resolved('blackbox')], 0, 50), 'blackbox').to.equal(false);
    // the ordinary run then stops at the component past the limit with OpenWhisk's message
    expect(pipes([resolved('stdio'), resolved('stdio')], 49, 50), 'limit').to.equal(false);
  });
});

describe('stdio pipelines: the invoker runs the stages in order (invoker/pipeline.ts)', () => {
  const ok = (result: Record<string, unknown>): ActivationResponse => ({ status: 'success', statusCode: 0, success: true, result });
  /** A stage answering `answer(input)`, noting its input; its record is stored `storeMs` after its response. */
  const stage =
    (name: string, answer: (input: Record<string, unknown>) => ActivationResponse, seen: string[], storeMs = 0): Stage =>
    async (input, onResponse) => {
      seen.push(`${name} ${JSON.stringify(input)}`);
      onResponse(testRecord({ name, response: answer(input) }));
      await new Promise((r) => setTimeout(r, storeMs));
      seen.push(`${name} stored`);
    };

  it('runs each stage on the previous result as soon as it is known, before the previous one is stored', async () => {
    const seen: string[] = [];
    const { answered, done } = runPipeline(
      [stage('a', (p) => ok({ n: (p.n as number) + 1 }), seen, 20), stage('b', (p) => ok({ n: (p.n as number) * 10 }), seen, 10), stage('c', (p) => ok({ last: p.n }), seen)],
      { n: 1 },
    );
    const records = await answered;
    expect(records.map((r) => [r.name, r.response.result])).to.deep.equal([
      ['a', { n: 2 }],
      ['b', { n: 20 }],
      ['c', { last: 20 }],
    ]);
    expect(seen.slice(0, 3)).to.deep.equal(['a {"n":1}', 'b {"n":2}', 'c {"n":20}']);
    await done;
    expect(seen.filter((s) => s.endsWith('stored'))).to.have.members(['a stored', 'b stored', 'c stored']);
  });

  it('stops after a result that carries an error, as a sequence does, whatever its status', async () => {
    for (const failure of [
      { status: 'application error', statusCode: 1, success: false, result: { error: 'no' } },
      { status: 'action developer error', statusCode: 2, success: false, result: { error: 'An error has occurred: the executable exited with code 3' } },
      ok({ error: 'a successful result with an error field' }),
    ] as ActivationResponse[]) {
      const seen: string[] = [];
      const { answered, done } = runPipeline([stage('a', () => ok({}), seen), stage('b', () => failure, seen), stage('c', () => ok({}), seen)], {});
      expect((await answered).map((r: ActivationRecord) => r.name)).to.deep.equal(['a', 'b']);
      await done;
      expect(seen.some((s) => s.startsWith('c'))).to.equal(false);
    }
  });

  it('ends with the stages before one that settles without a response', async () => {
    const seen: string[] = [];
    const silent: Stage = () => Promise.reject(new Error('lost'));
    const { answered, done } = runPipeline([stage('a', () => ok({}), seen), silent, stage('c', () => ok({}), seen)], {});
    expect((await answered).map((r) => r.name)).to.deep.equal(['a']);
    await done;
  });
});
