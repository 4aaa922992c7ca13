import { expect } from 'chai';
import type { ActivationQuery, ActivationRecord } from '../../common/activation.ts';
import { median, usageOf } from '../../controller/hub/figures.ts';
import { meetsExpectation } from '../../controller/hub/trial.ts';

/** Listing briefs as the stores give them: name key without owner, full path in the annotation. */
function brief(namespace: string, path: string, statusCode: number, duration: number): ActivationRecord {
  return { namespace, name: path.split('/').pop()!, annotations: [{ key: 'path', value: path }], duration, statusCode } as unknown as ActivationRecord;
}

function fakeStore(records: ActivationRecord[]) {
  const asked: Array<[string, ActivationQuery]> = [];
  return {
    asked,
    async listActivations(ns: string, q: ActivationQuery): Promise<ActivationRecord[]> {
      asked.push([ns, q]);
      const key = (r: ActivationRecord) => ((r.annotations[0]!.value as string).split('/').slice(1).join('/'));
      return records.filter((r) => r.namespace === ns && key(r) === q.name).slice(q.skip, q.skip + q.limit);
    },
  };
}

describe('hub figures', () => {
  it('median: the lower middle, null for none', () => {
    expect(median([])).to.equal(null);
    expect(median([5])).to.equal(5);
    expect(median([9, 1, 5])).to.equal(5);
    expect(median([4, 1, 3, 2])).to.equal(2);
  });

  it('counts the records of the exact paths across namespaces: users, success rate, p50', async () => {
    const store = fakeStore([
      brief('alice', 'alice/tools/echo', 0, 10),
      brief('alice', 'alice/tools/echo', 1, 30),
      brief('bob', 'alice/tools/echo', 0, 20),
      // bob's own tools/echo: same listing key, another path
      brief('bob', 'bob/tools/echo', 0, 99),
      brief('hubtest-x-1', 'alice/tools/echo', 0, 1),
    ]);
    const u = await usageOf(store, ['alice', 'bob', 'carol', 'hubtest-x-1'], ['alice/tools/echo'], 0);
    expect(u).to.deep.equal({ invocations: 3, namespaces: 2, successRate: 2 / 3, p50Ms: 20 });
    expect(store.asked.map(([ns]) => ns)).to.deep.equal(['alice', 'bob', 'carol']);
    expect(store.asked[0]![1]).to.include({ name: 'tools/echo', since: 0 });
  });

  it('no records: zero, and null rates', async () => {
    expect(await usageOf(fakeStore([]), ['alice'], ['alice/tools/echo'], 0)).to.deep.equal({ invocations: 0, namespaces: 0, successRate: null, p50Ms: null });
  });

  it('pages through a busy action', async () => {
    const many = Array.from({ length: 450 }, (_, i) => brief('alice', 'alice/t/a', i % 2, i));
    expect((await usageOf(fakeStore(many), ['alice'], ['alice/t/a'], 0)).invocations).to.equal(450);
  });
});

describe('hub examples: expectations', () => {
  it('holds when every expected key is there with a deep-equal value', () => {
    expect(meetsExpectation({ a: 1, b: { c: [1, 2] }, extra: true }, { a: 1, b: { c: [1, 2] } })).to.equal(true);
    expect(meetsExpectation({ a: 1 }, {})).to.equal(true);
  });
  it('fails on a missing key, another value, or no object', () => {
    expect(meetsExpectation({ a: 1 }, { b: undefined })).to.equal(false);
    expect(meetsExpectation({ a: '1' }, { a: 1 })).to.equal(false);
    expect(meetsExpectation({ b: { c: [1] } }, { b: { c: [1, 2] } })).to.equal(false);
    expect(meetsExpectation(null, { a: 1 })).to.equal(false);
  });
});
