import { expect } from 'chai';
import { TooManyRequestsError } from '../../common/errors.ts';
import { BodyGate } from '../../controller/body-gate.ts';

describe('body gate (bodies without credentials read at once)', () => {
  it('lets `slots` reads through at once, refuses the next with a 429 and Retry-After, and frees a slot when a read ends', async () => {
    const gate = new BodyGate(2);
    const releases: Array<() => void> = [];
    const hold = () => gate.through(() => new Promise<string>((ok) => releases.push(() => ok('read'))));
    const first = hold();
    const second = hold();
    let refused: unknown;
    await gate.through(async () => 'never').catch((e: unknown) => (refused = e));
    expect(refused).to.be.instanceOf(TooManyRequestsError);
    expect(refused).to.deep.include({ status: 429, headers: { 'Retry-After': '1' } });
    expect((refused as Error).message).to.equal('Too many request bodies without credentials are being received (count: 2, allowed: 2); try again later.');
    releases[0]!();
    expect(await first).to.equal('read');
    expect(gate.inUse).to.equal(1);
    const third = hold();
    releases[1]!();
    releases[2]!();
    expect(await Promise.all([second, third])).to.deep.equal(['read', 'read']);
    expect(gate.inUse).to.equal(0);
  });

  it('frees the slot of a read that fails', async () => {
    const gate = new BodyGate(1);
    await gate.through(() => Promise.reject(new Error('aborted'))).catch(() => undefined);
    expect(await gate.through(async () => 'next')).to.equal('next');
  });
});
