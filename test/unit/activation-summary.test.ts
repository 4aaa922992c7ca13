import { expect } from 'chai';
import type { ActivationRecord } from '../../common/activation.ts';
import { quantile, summarize } from '../../controller/activation-summary.ts';
import { testRecord } from '../support/records.ts';

const rec = (name: string, start: number, duration: number, statusCode = 0, path = `guest/${name}`): ActivationRecord =>
  ({ ...testRecord({ name, start, duration, annotations: [{ key: 'path', value: path }] }), statusCode }) as unknown as ActivationRecord;

describe('activation summary', () => {
  it('quantile: nearest rank', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(quantile(v, 0.5)).to.equal(50);
    expect(quantile(v, 0.99)).to.equal(99);
    expect(quantile([7], 0.99)).to.equal(7);
  });

  it('per action (packaged ones by pkg/name), busiest first: count, errors, error rate, p50/p99, buckets over the window', () => {
    const records = [rec('a', 0, 10), rec('a', 10, 30, 1), rec('a', 95, 20), rec('b', 50, 5, 2, 'guest/pkg/b')];
    const s = summarize(records, { since: 0, upto: 99, buckets: 4, truncated: false });
    expect(s).to.include({ since: 0, upto: 99, bucketMs: 25, activations: 4, truncated: false });
    expect(s.actions.map((a) => a.name)).to.deep.equal(['a', 'pkg/b']);
    const [a, b] = s.actions;
    expect(a).to.include({ count: 3, errors: 1, p50: 20, p99: 30 });
    expect(a!.errorRate).to.be.closeTo(1 / 3, 1e-9);
    expect(a!.buckets.map((x) => x.count)).to.deep.equal([2, 0, 0, 1]);
    expect(a!.buckets.map((x) => x.start)).to.deep.equal([0, 25, 50, 75]);
    expect(a!.buckets[1]).to.deep.equal({ start: 25, count: 0, errors: 0, errorRate: 0 });
    expect(b).to.include({ count: 1, errors: 1, errorRate: 1, p50: 5, p99: 5 });
    expect(b!.buckets[2]!.count).to.equal(1);
  });

  it('whole records count as failed by their response status', () => {
    const failed = { ...testRecord({ start: 1 }), response: { status: 'action developer error', statusCode: 2, success: false, result: {} } } as ActivationRecord;
    expect(summarize([failed], { since: 0, upto: 9, buckets: 1, truncated: false }).actions[0]).to.include({ errors: 1 });
  });
});
