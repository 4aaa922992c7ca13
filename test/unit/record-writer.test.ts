import { expect } from 'chai';
import type { ActivationRecord } from '../../common/activation.ts';
import { silentLogger } from '../../common/logger.ts';
import { RecordWriter } from '../../common/record-writer.ts';
import type { RefusedRecord } from '../../common/store/entity-store.ts';

const rec = (n: number) => ({ activationId: String(n).padStart(32, '0') }) as ActivationRecord;

/** A store double that records each batch and can fail, stall, or refuse records one by one. */
class FakeStore {
  batches: string[][] = [];
  stored: ActivationRecord[] = [];
  failures = 0;
  stall?: Promise<void>;
  refuse: (r: ActivationRecord) => string | undefined = () => undefined;
  async putActivations(records: ActivationRecord[]): Promise<RefusedRecord[]> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('store down');
    }
    this.batches.push(records.map((r) => r.activationId.replace(/^0+/, '')));
    await this.stall;
    const refused = records.flatMap((record) => {
      const reason = this.refuse(record);
      return reason ? [{ record, reason }] : [];
    });
    this.stored.push(...records.filter((r) => !this.refuse(r)));
    return refused;
  }
}

describe('record writer (group commit of activation records)', () => {
  it('writes records that arrive close together in one batch', async () => {
    const store = new FakeStore();
    const w = new RecordWriter(store, silentLogger, { maxBatch: 500, retryDelaysMs: [], lingerMs: 10 });
    await Promise.all([w.write(rec(1)), w.write(rec(2)), new Promise((r) => setTimeout(r, 2)).then(() => w.write(rec(3)))]);
    expect(store.batches).to.deep.equal([['1', '2', '3']]);
  });

  it('puts what arrives during a write into the next one, and caps a batch at maxBatch', async () => {
    const store = new FakeStore();
    let release!: () => void;
    store.stall = new Promise((r) => (release = r));
    const w = new RecordWriter(store, silentLogger, { maxBatch: 2, retryDelaysMs: [], lingerMs: 0 });
    const first = w.write(rec(1));
    await new Promise((r) => setTimeout(r, 5));
    const later = [w.write(rec(2)), w.write(rec(3)), w.write(rec(4))];
    release();
    await Promise.all([first, ...later]);
    expect(store.batches).to.deep.equal([['1'], ['2', '3'], ['4']]);
  });

  it('retries a failed write, and rejects the batch after the last retry', async () => {
    const store = new FakeStore();
    store.failures = 1;
    const w = new RecordWriter(store, silentLogger, { maxBatch: 500, retryDelaysMs: [1], lingerMs: 0 });
    await w.write(rec(1));
    expect(store.batches).to.deep.equal([['1']]);
    store.failures = 2;
    const failed = await w.write(rec(2)).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(failed?.message).to.equal('store down');
    await w.write(rec(3));
    expect(store.batches).to.deep.equal([['1'], ['3']]);
  });

  it('stores a replacement for a record the store refuses, and the rest of its batch as it was', async () => {
    const store = new FakeStore();
    store.refuse = (r) => (r.activationId.endsWith('2') && r.logs.length > 1 ? 'too_large: the request entity is too large' : undefined);
    const w = new RecordWriter(store, silentLogger, { maxBatch: 500, retryDelaysMs: [], lingerMs: 5 });
    const full = (n: number) => ({ ...rec(n), name: 'a', logs: ['one', 'two'], response: { status: 'success', statusCode: 0, success: true, result: { n } } }) as ActivationRecord;
    await Promise.all([1, 2, 3].map((n) => w.write(full(n))));
    expect(store.batches).to.deep.equal([['1', '2', '3'], ['2']]);
    const replaced = store.stored.find((r) => r.activationId.endsWith('2'))!;
    expect(replaced.response.result).to.deep.equal({ n: 2 });
    expect(replaced.logs).to.have.length(1);
    expect(replaced.logs[0]).to.match(/stderr: The activation store refused this record \(too_large: the request entity is too large\); its logs were dropped\.$/);
    expect(store.stored.filter((r) => !r.activationId.endsWith('2')).map((r) => r.logs)).to.deep.equal([['one', 'two'], ['one', 'two']]);
  });

  it('rejects only the write whose replacement is refused too', async () => {
    const store = new FakeStore();
    store.refuse = (r) => (r.activationId.endsWith('2') ? 'forbidden' : undefined);
    const w = new RecordWriter(store, silentLogger, { maxBatch: 500, retryDelaysMs: [], lingerMs: 5 });
    const outcomes = await Promise.allSettled([1, 2, 3].map((n) => w.write({ ...rec(n), logs: [] })));
    expect(outcomes.map((o) => o.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
    expect(((outcomes[1] as PromiseRejectedResult).reason as Error).message).to.equal('the activation store refused the record: forbidden');
  });

  it('fits a record that could not be written before it joins a batch: the others are untouched', async () => {
    const store = new FakeStore();
    const w = new RecordWriter(store, silentLogger, { maxBatch: 500, retryDelaysMs: [], lingerMs: 5 });
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = { d: deep };
    const good = { ...rec(1), logs: [], response: { status: 'success', statusCode: 0, success: true, result: { ok: true } } } as ActivationRecord;
    const bad = { ...rec(2), logs: [], response: { status: 'success', statusCode: 0, success: true, result: deep } } as ActivationRecord;
    await Promise.all([w.write(good), w.write(bad)]);
    expect(store.batches).to.deep.equal([['1', '2']]);
    expect(store.stored[0]).to.equal(good);
    expect(store.stored[1]!.response).to.deep.include({ status: 'whisk internal error', statusCode: 3, success: false });
    expect(store.stored[1]!.response.result).to.deep.equal({ error: "The activation's result could not be stored: JSON nested more than 108 levels deep." });
  });
});
