import { expect } from 'chai';
import type { ActivationRecord } from '../../common/activation.ts';
import { fitRecord, refusedReplacement } from '../../common/record-fit.ts';
import { testRecord } from '../support/records.ts';

const record = (over: Partial<ActivationRecord> = {}): ActivationRecord =>
  testRecord({ name: 'act', annotations: [{ key: 'path', value: 'guest/act' }], logs: ['2024-01-01T00:00:00.000Z stdout: hello'], ...over });
const size = (r: ActivationRecord) => Buffer.byteLength(JSON.stringify(r));
const bounds = { maxBytes: 64 * 1024, maxDepth: 20 };

describe('fitting activation records to the store', () => {
  it('leaves a record within the bounds as it is (the same object)', () => {
    const r = record();
    expect(fitRecord(r, bounds)).to.deep.equal({ record: r });
    expect(fitRecord(r, bounds).record).to.equal(r);
  });

  it('cuts the logs of a record too large, keeping the first lines and the result, and says so', () => {
    const logs = Array.from({ length: 2_000 }, (_, i) => `2024-01-01T00:00:00.000Z stdout: line ${i} ${'x'.repeat(60)}`);
    const { record: fitted, why } = fitRecord(record({ logs }), bounds);
    expect(why).to.match(/^activation record larger than allowed: \d+ > 65536 bytes\.$/);
    expect(size(fitted)).to.be.at.most(bounds.maxBytes);
    expect(fitted.response.result).to.deep.equal({ ok: true });
    expect(fitted.logs.length).to.be.above(500);
    expect(fitted.logs.slice(0, -1)).to.deep.equal(logs.slice(0, fitted.logs.length - 1));
    expect(fitted.logs.at(-1)).to.match(/ stderr: Logs were cut: activation record larger than allowed/);
  });

  it('replaces a result too large or too deep by a whisk internal error saying why, keeping the id and the logs', () => {
    let deep: unknown = 0;
    for (let i = 0; i < 50_000; i++) deep = [deep];
    const cyclic: Record<string, unknown> = {};
    cyclic.me = cyclic;
    for (const [result, why] of [
      [{ big: 'y'.repeat(100_000) }, /^activation record larger than allowed: \d+ > 65536 bytes\.$/],
      [deep, /^JSON nested more than 20 levels deep\.$/],
      [cyclic, /^JSON nested more than 20 levels deep\.$/],
    ] as const) {
      const fitted = fitRecord(record({ response: { status: 'success', statusCode: 0, success: true, result } }), bounds);
      expect(fitted.why).to.match(why);
      expect(fitted.record.activationId).to.equal('a'.repeat(32));
      expect(fitted.record.logs).to.deep.equal(['2024-01-01T00:00:00.000Z stdout: hello']);
      expect(fitted.record.response).to.deep.equal({ status: 'whisk internal error', statusCode: 3, success: false, result: { error: `The activation's result could not be stored: ${fitted.why}` } });
    }
  });

  it('cuts both when both are too large, and drops what else a record object carries', () => {
    const logs = Array.from({ length: 5_000 }, () => 'z'.repeat(50));
    const odd = { ...record({ logs, response: { status: 'success', statusCode: 0, success: true, result: { big: 'y'.repeat(100_000) } } }), _bogus: 1 };
    const { record: fitted } = fitRecord(odd, bounds);
    expect(size(fitted)).to.be.at.most(bounds.maxBytes);
    expect(fitted).to.not.have.property('_bogus');
    expect(fitted.response.statusCode).to.equal(3);
    expect(fitted.logs.at(-1)).to.match(/Logs were cut/);
  });

  it('replaces a refused record by its own fields, a note instead of the logs, and the response when it is small', () => {
    const refused = { ...record({ cause: 'c'.repeat(32) }), _bogus: 1 } as ActivationRecord;
    const replacement = refusedReplacement(refused, 'doc_validation: Bad special document member: _bogus');
    expect(replacement).to.not.have.property('_bogus');
    expect(replacement).to.deep.include({ activationId: 'a'.repeat(32), cause: 'c'.repeat(32), response: refused.response });
    expect(replacement.logs).to.have.length(1);
    expect(replacement.logs[0]).to.match(/ stderr: The activation store refused this record \(doc_validation: Bad special document member: _bogus\); its logs were dropped\.$/);
    const huge = refusedReplacement(record({ response: { status: 'success', statusCode: 0, success: true, result: { big: 'y'.repeat(2 * 1024 * 1024) } } }), 'too_large');
    expect(huge.response.statusCode).to.equal(3);
    expect(huge.logs[0]).to.match(/refused this record \(too_large\)/);
  });
});
