import { expect } from 'chai';
import { bumpVersion, isBinaryCode, newAction, newPackage, parseBody, putSchemas, updateAction } from '../../common/entities.ts';
import { BadRequestError, PayloadTooLargeError } from '../../common/errors.ts';
import { defaultLimits, mergeLimits } from '../../common/limits.ts';

const target = { namespace: 'guest', name: 'a', callerNamespace: 'guest' };

describe('entities', () => {
  it('bumps the patch version', () => {
    expect(bumpVersion('0.0.1')).to.equal('0.0.2');
    expect(bumpVersion('1.2.9')).to.equal('1.2.10');
  });

  it('creates an action with OpenWhisk defaults and the exec annotation', () => {
    const a = newAction(target, parseBody(putSchemas.action, { exec: { kind: 'nodejs:default', code: 'x' } }), 1000);
    expect(a.version).to.equal('0.0.1');
    expect(a.exec).to.deep.equal({ kind: 'nodejs:20', code: 'x', binary: false });
    expect(a.limits).to.deep.equal({ timeout: 60000, memory: 256, logs: 10, concurrency: 1 });
    expect(a.annotations).to.deep.equal([{ key: 'exec', value: 'nodejs:20' }]);
    expect(a.publish).to.equal(false);
    expect(a.updated).to.equal(1000);
  });

  it('keeps what an update leaves out', () => {
    const a = newAction(target, parseBody(putSchemas.action, { exec: { kind: 'python:3', code: 'def main(a): return a' }, parameters: [{ key: 'p', value: 1 }] }), 1);
    const b = updateAction(a, parseBody(putSchemas.action, { limits: { memory: 512 } }), 'guest', 2);
    expect(b.version).to.equal('0.0.2');
    expect(b.parameters).to.deep.equal([{ key: 'p', value: 1 }]);
    expect(b.exec).to.deep.equal(a.exec);
    expect(b.limits.memory).to.equal(512);
    expect(b.limits.timeout).to.equal(60000);
    expect(b.updated).to.equal(2);
  });

  it('rejects unknown kinds, missing code and sequences without components', () => {
    expect(() => newAction(target, parseBody(putSchemas.action, { exec: { kind: 'cobol:1', code: 'x' } }))).to.throw(BadRequestError, /cobol/);
    expect(() => newAction(target, parseBody(putSchemas.action, { exec: { kind: 'nodejs:20' } }))).to.throw(BadRequestError, /code/);
    expect(() => newAction(target, parseBody(putSchemas.action, { exec: { kind: 'sequence', components: [] } }))).to.throw(BadRequestError);
    expect(() => newAction(target, parseBody(putSchemas.action, { exec: { kind: 'blackbox' } }))).to.throw(BadRequestError, /image/);
    expect(() => newAction(target, parseBody(putSchemas.action, {}))).to.throw(BadRequestError, /exec/);
  });

  it('resolves sequence components to fully qualified names', () => {
    const a = newAction(target, parseBody(putSchemas.action, { exec: { kind: 'sequence', components: ['x', '/_/p/y', '/other/z'] } }));
    expect(a.exec.components).to.deep.equal(['/guest/x', '/guest/p/y', '/other/z']);
  });

  it('detects base64 zip code as binary', () => {
    const zip = Buffer.from('PK\u0003\u0004restofzip').toString('base64');
    expect(isBinaryCode(zip)).to.equal(true);
    expect(isBinaryCode('function main() {}')).to.equal(false);
  });

  it('rejects oversize parameters with 413', () => {
    const big = [{ key: 'p', value: 'x'.repeat(1024 * 1024) }];
    expect(() => newPackage(target, parseBody(putSchemas.package, { parameters: big }), undefined)).to.throw(PayloadTooLargeError);
  });

  it('explains schema failures with the field', () => {
    expect(() => parseBody(putSchemas.action, { exec: { kind: 5 } })).to.throw(BadRequestError, /exec\.kind/);
    expect(() => parseBody(putSchemas.action, [])).to.throw(BadRequestError, /JSON object/);
    expect(() => parseBody(putSchemas.trigger, { parameters: [{ value: 1 }] })).to.throw(BadRequestError, /parameters\.0\.key/);
  });

  it('enforces limit ranges', () => {
    expect(() => mergeLimits(defaultLimits(), { memory: 64 })).to.throw(BadRequestError, /memory 64 MB below allowed threshold of 128 MB/);
    expect(() => mergeLimits(defaultLimits(), { timeout: 400000 })).to.throw(BadRequestError, /timeout/);
    expect(() => mergeLimits(defaultLimits(), { logs: 1.5 })).to.throw(BadRequestError, /integer/);
    expect(mergeLimits(defaultLimits(), { logs: 0 }).logs).to.equal(0);
  });
});
