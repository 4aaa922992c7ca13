import { expect } from 'chai';
import type { ActivationRecord } from '../../common/activation.ts';
import { silentLogger } from '../../common/logger.ts';
import { RecordWriter } from '../../common/record-writer.ts';

const rec = (n: number) => ({ activationId: String(n).padStart(32, '0') }) as ActivationRecord;

/** A store double that records each batch and can fail or stall. */
class FakeStore {
  batches: string[][] = [];
  failures = 0;
  stall?: Promise<void>;
  async putActivations(records: ActivationRecord[]) {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('store down');
    }
    this.batches.push(records.map((r) => r.activationId.replace(/^0+/, '')));
    await this.stall;
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
});
