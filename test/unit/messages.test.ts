import { expect } from 'chai';
import { decodeActivation, decodeCompletion, encode, type ActivationMessage } from '../../common/messages.ts';

describe('bus messages', () => {
  const message: ActivationMessage = {
    activationId: 'a'.repeat(32),
    transactionId: 't',
    controllerId: '0',
    blocking: true,
    namespace: 'guest',
    subject: 'guest',
    action: { path: 'guest', name: 'a', rev: '1-x' },
    params: { nested: JSON.parse('{"a":'.repeat(100) + '1' + '}'.repeat(100)) as unknown },
    receivedAt: 1,
  };

  it('carry parameters as deep as a request may send', () => {
    expect(decodeActivation(Buffer.from(encode(message)))).to.deep.equal(message);
  });

  it("carry a pipeline's later stages, and refuse a malformed one", () => {
    const piped: ActivationMessage = { ...message, pipeline: [{ activationId: 'b'.repeat(32), action: { path: 'guest/pkg', name: 'b', rev: '2-y' }, defaults: { unit: 'words' } }] };
    expect(decodeActivation(Buffer.from(encode(piped)))).to.deep.equal(piped);
    for (const pipeline of [{}, [null], [{ activationId: 'b'.repeat(32), action: { path: 'guest' }, defaults: {} }], [{ activationId: 'b'.repeat(32), action: { path: 'guest', name: 'b', rev: '1' } }]]) {
      expect(() => decodeActivation(Buffer.from(JSON.stringify({ ...message, pipeline }))), JSON.stringify(pipeline)).to.throw(/malformed pipeline/);
    }
  });

  it('refuse a message nested deeper than swirl ever writes, like any malformed one, without overflowing', () => {
    const deep = Buffer.from(`{"type":"result","activationId":"x","record":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    expect(() => decodeCompletion(deep)).to.throw(/JSON nested more than 108 levels deep/);
    expect(() => decodeActivation(deep)).to.throw(/JSON nested more than 108 levels deep/);
  });
});
